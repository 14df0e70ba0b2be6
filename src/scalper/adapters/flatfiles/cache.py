"""A local cache of downloaded flat files, keyed like the bucket, with the ETag of each copy.

``{root}/{key}`` holds a complete file and ``{root}/{key}.etag`` its ETag. A download goes to
``{key}.part`` (its ETag in ``{key}.part.etag``) and is renamed when complete, so a partial
file is never mistaken for a whole one; an interrupted download resumes from the part's size
if the remote ETag is unchanged, and starts over otherwise. A different remote ETag (the file
was republished) makes the cached copy stale: it is downloaded again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from scalper.adapters.flatfiles.errors import FlatFileError
from scalper.adapters.flatfiles.source import OnBytes, RemoteFile, Source


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedFile:
    """A complete local copy of one version of a key; ``downloaded`` is the bytes fetched now."""

    path: Path
    remote: RemoteFile
    downloaded: int


class FileCache:
    """Complete copies of remote files under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key

    def ensure(self, source: Source, remote: RemoteFile, on_bytes: OnBytes | None = None) -> CachedFile:
        """A complete local copy of ``remote``: in place, from the cache, or downloaded (resumed)."""
        in_place = source.local_path(remote.key)
        if in_place is not None:
            return CachedFile(path=in_place, remote=remote, downloaded=0)
        dest = self.path(remote.key)
        if _read_tag(dest) == remote.etag and _size(dest) == remote.size:
            return CachedFile(path=dest, remote=remote, downloaded=0)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        offset = max(_size(part), 0) if _read_tag(part) == remote.etag else 0
        if offset == 0 or offset > remote.size:
            offset = 0
            part.write_bytes(b"")
            _write_tag(part, remote.etag)
        if offset < remote.size:
            source.fetch(remote, part, offset, on_bytes)
        if _size(part) != remote.size:
            raise FlatFileError(remote.key, f"downloaded {_size(part):,} bytes, expected {remote.size:,}")
        _tag_path(dest).unlink(missing_ok=True)
        part.replace(dest)
        _write_tag(dest, remote.etag)
        _tag_path(part).unlink(missing_ok=True)
        return CachedFile(path=dest, remote=remote, downloaded=remote.size - offset)

    def discard(self, source: Source, key: str) -> None:
        """Forget a cached copy (after it failed to load, so the next run fetches it afresh)."""
        if source.local_path(key) is not None:
            return
        for path in (self.path(key), _tag_path(self.path(key))):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _tag_path(path: Path) -> Path:
    return path.with_name(path.name + ".etag")


def _read_tag(path: Path) -> str | None:
    try:
        return _tag_path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _write_tag(path: Path, etag: str) -> None:
    _tag_path(path).write_text(etag, encoding="utf-8")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1
