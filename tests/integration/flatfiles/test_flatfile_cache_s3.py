"""Downloads into the local cache from a real S3 API: resume, ETag changes, in-place local files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flatfile_s3 import BUCKET, source

from scalper.adapters.flatfiles import FileCache, LocalSource

KEY = "us_indices/values_v1/2025/11/2025-11-25.csv.gz"
BODY = bytes(range(256)) * 4096  # 1 MiB


def test_an_interrupted_download_resumes_from_its_part(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    src = source(s3_endpoint)
    remote = src.stat(KEY)
    assert remote is not None and remote.size == len(BODY)
    cache = FileCache(tmp_path)
    part = cache.path(KEY).with_name(cache.path(KEY).name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY[:300_000])
    part.with_name(part.name + ".etag").write_text(remote.etag)

    got = cache.ensure(src, remote)

    assert got.downloaded == len(BODY) - 300_000
    assert got.path.read_bytes() == BODY and not part.exists()


def test_a_part_of_another_version_is_thrown_away(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    src = source(s3_endpoint)
    remote = src.stat(KEY)
    assert remote is not None
    cache = FileCache(tmp_path)
    part = cache.path(KEY).with_name(cache.path(KEY).name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 300_000)
    part.with_name(part.name + ".etag").write_text("an-older-etag")

    got = cache.ensure(src, remote)

    assert got.downloaded == len(BODY) and got.path.read_bytes() == BODY


def test_a_cached_copy_is_reused_until_the_file_is_republished(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    src, cache = source(s3_endpoint), FileCache(tmp_path)
    first = src.stat(KEY)
    assert first is not None
    assert cache.ensure(src, first).downloaded == len(BODY)
    assert cache.ensure(src, first).downloaded == 0

    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY[::-1])
    second = src.stat(KEY)
    assert second is not None and second.etag != first.etag
    got = cache.ensure(src, second)

    assert got.downloaded == len(BODY) and got.path.read_bytes() == BODY[::-1]


def test_a_local_directory_is_read_in_place_and_its_etag_follows_the_content(tmp_path: Path) -> None:
    path = tmp_path / KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(BODY)
    src = LocalSource(tmp_path)
    first = src.stat(KEY)
    assert first is not None and FileCache(tmp_path / "cache").ensure(src, first).path == path
    path.write_bytes(BODY[::-1])
    second = src.stat(KEY)
    assert second is not None and second.etag != first.etag
    assert src.stat("us_indices/values_v1/2025/11/2025-11-26.csv.gz") is None
