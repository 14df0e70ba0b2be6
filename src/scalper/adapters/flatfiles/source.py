"""Where flat files come from: an S3-compatible bucket (boto3) or a local directory, same layout.

A source answers two questions: what is the current version of a key (its ETag and size, or
``None`` when the file is not published), and give me its bytes from an offset (so an
interrupted download resumes). A local directory serves files in place; its ETag is the MD5 of
the content, like S3's for single-part uploads, so a rewritten file counts as republished.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scalper.adapters.flatfiles.errors import FlatFileError

_CHUNK = 8 << 20

OnBytes = Callable[[int], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteFile:
    """One published version of a key."""

    key: str
    etag: str
    size: int


class Source(Protocol):
    """What the backfill needs from a place that holds flat files."""

    @property
    def description(self) -> str: ...

    def stat(self, key: str) -> RemoteFile | None:
        """The current version of ``key``, or ``None`` when it is not published."""

    def local_path(self, key: str) -> Path | None:
        """A path to read the file in place, or ``None`` when it must be downloaded."""

    def fetch(self, remote: RemoteFile, dest: Path, offset: int, on_bytes: OnBytes | None = None) -> None:
        """Append the bytes of ``remote`` from ``offset`` to ``dest``; fails if the version changed."""


class LocalSource:
    """A directory laid out like the bucket (``{root}/{dataset}/{YYYY}/{MM}/{date}.csv.gz``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._etags: dict[tuple[str, int, int], str] = {}

    @property
    def description(self) -> str:
        return f"directory {self.root}"

    def local_path(self, key: str) -> Path | None:
        return self.root / key

    def stat(self, key: str) -> RemoteFile | None:
        path = self.root / key
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise FlatFileError(key, f"cannot read {path}: {exc.strerror}") from exc
        memo = (key, info.st_size, info.st_mtime_ns)
        if memo not in self._etags:
            self._etags[memo] = _md5(path)
        return RemoteFile(key=key, etag=self._etags[memo], size=info.st_size)

    def fetch(self, remote: RemoteFile, dest: Path, offset: int, on_bytes: OnBytes | None = None) -> None:
        raise FlatFileError(remote.key, "a local directory source is read in place, not fetched")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class S3Source:
    """An S3-compatible bucket (Massive: https://files.massive.com, bucket ``flatfiles``).

    Keys come from the caller (secrets); they are handed to boto3 only and never formatted into
    messages. Errors are translated into :class:`FlatFileError` naming the key.
    """

    def __init__(
        self, *, endpoint: str, bucket: str, access_key_id: str, secret_access_key: str, region: str = "us-east-1"
    ) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        self.endpoint = endpoint
        self.bucket = bucket
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            config=BotoConfig(
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path"},
            ),
        )

    @property
    def description(self) -> str:
        return f"s3 bucket {self.bucket} at {self.endpoint}"

    def local_path(self, key: str) -> Path | None:
        return None

    def stat(self, key: str) -> RemoteFile | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise FlatFileError(key, _describe(exc)) from None
        except BotoCoreError as exc:
            raise FlatFileError(key, f"cannot reach {self.endpoint}: {exc}") from None
        return RemoteFile(key=key, etag=str(head["ETag"]).strip('"'), size=int(head["ContentLength"]))

    def fetch(self, remote: RemoteFile, dest: Path, offset: int, on_bytes: OnBytes | None = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Key": remote.key, "IfMatch": f'"{remote.etag}"'}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            body = self._client.get_object(**args)["Body"]
            with dest.open("ab") as out:
                for chunk in body.iter_chunks(_CHUNK):
                    out.write(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
        except ClientError as exc:
            if _status(exc) == 412:
                raise FlatFileError(remote.key, "republished while downloading (ETag changed); run again") from None
            raise FlatFileError(remote.key, _describe(exc)) from None
        except (BotoCoreError, OSError) as exc:
            raise FlatFileError(
                remote.key, f"download interrupted after {dest.stat().st_size:,} bytes: {exc}"
            ) from None


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _describe(exc: Any) -> str:
    """A ClientError as 'HTTP 403 AccessDenied: ...' (no request signature, no keys)."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "?"), error.get("Message", "")
    hint = " (check SCALPER_S3_ACCESS_KEY_ID / SCALPER_S3_SECRET_ACCESS_KEY)" if _status(exc) in (401, 403) else ""
    return f"HTTP {_status(exc)} {code}: {message}{hint}".rstrip(": ")
