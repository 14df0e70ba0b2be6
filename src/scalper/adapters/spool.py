"""A local, append-only disk spool: batches the database could not take wait here until it returns.

When a bulk write fails because PostgreSQL is unreachable, the ingest pipeline appends the batch
here; when the database is back, :meth:`Spool.replay` hands every batch, in append order, to the
writer and deletes what was written. The bulk writer's upserts are idempotent, so a batch replayed
twice (after a crash between the write and the delete) leaves the same rows: exactly-once effect.

On disk: numbered segment files ``<seq>.seg`` of records framed as
``magic (4 bytes) | payload length (u32 LE) | CRC32 of payload (u32 LE) | payload``; the payload is
msgpack (no pickle) holding the table name and, per column, dtype + shape + raw bytes (object
columns as lists of ``str | None``). Every append is fsync'd before it returns. A crash in the
middle of an append leaves a torn last record, which opening the spool truncates away with a
warning; a bad record anywhere else is corruption and raises :class:`DataError` naming the file
and offset (nothing is skipped silently). One process owns a directory (``flock`` on ``lock``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import msgspec
import numpy as np

from scalper.core.errors import DataError, StoreError

log = logging.getLogger(__name__)

Batch = dict[str, np.ndarray]
_MAGIC = b"SPR1"
_HEADER = struct.Struct("<4sII")
_SUFFIX = ".seg"
_RAW_KINDS = frozenset("biufcmMSU")


class _Column(msgspec.Struct, array_like=True, frozen=True):
    name: str
    dtype: str
    shape: list[int]
    raw: bytes | None = None
    items: list[str | None] | None = None


class _Record(msgspec.Struct, array_like=True, frozen=True):
    table: str
    columns: list[_Column]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Record)


def _encode_column(name: str, value: np.ndarray) -> _Column:
    arr = np.asarray(value)
    shape = list(arr.shape)
    if arr.dtype.kind == "O":
        items = arr.ravel().tolist()
        bad = {type(x).__name__ for x in items if x is not None and type(x) is not str}
        if bad:
            raise DataError(f"spool: column {name!r} is an object array of {sorted(bad)}; expected str or None")
        return _Column(name, "O", shape, items=items)
    if arr.dtype.kind not in _RAW_KINDS or arr.dtype.fields is not None:
        raise DataError(f"spool: column {name!r} has unsupported dtype {arr.dtype}")
    return _Column(name, arr.dtype.str, shape, raw=np.ascontiguousarray(arr).tobytes())


def _decode_column(col: _Column) -> np.ndarray:
    if col.dtype == "O":
        items = col.items or []
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(col.shape)
    return np.frombuffer(col.raw or b"", dtype=np.dtype(col.dtype)).reshape(col.shape).copy()


def encode_record(table: str, batch: dict[str, np.ndarray]) -> bytes:
    """One batch as a spool payload (msgpack; exact round trip of the supported dtypes)."""
    return _ENCODER.encode(_Record(table, [_encode_column(k, v) for k, v in batch.items()]))


def decode_record(payload: bytes) -> tuple[str, Batch]:
    """The ``(table, batch)`` a payload from :func:`encode_record` holds."""
    rec = _DECODER.decode(payload)
    return rec.table, {c.name: _decode_column(c) for c in rec.columns}


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


class _BadFrame(Exception):
    """A frame that cannot be read; ``torn`` when it could be the tail of an interrupted append."""

    def __init__(self, offset: int, reason: str, *, torn: bool) -> None:
        super().__init__(reason)
        self.offset, self.reason, self.torn = offset, reason, torn


def _frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, payload)`` of each frame in a segment's bytes; raises :class:`_BadFrame`."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise _BadFrame(offset, "incomplete record header", torn=True)
        magic, length, crc = _HEADER.unpack_from(data, offset)
        if magic != _MAGIC:
            raise _BadFrame(offset, f"bad record marker {magic!r}", torn=False)
        end = offset + _HEADER.size + length
        if end > len(data):
            raise _BadFrame(offset, f"record of {length} bytes runs past the end of the file", torn=True)
        payload = data[offset + _HEADER.size : end]
        if zlib.crc32(payload) != crc:
            raise _BadFrame(offset, "checksum mismatch", torn=end == len(data))
        yield offset, payload
        offset = end


def _decode_at(path: Path, offset: int, payload: bytes) -> tuple[str, Batch]:
    try:
        return decode_record(payload)
    except (msgspec.DecodeError, ValueError, TypeError) as exc:
        raise DataError(f"spool segment {path}: record at offset {offset} cannot be decoded: {exc}") from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class _Segment:
    path: Path
    records: int
    size: int


def _keep_from(directory: Path, seg: _Segment, data: bytes, offset: int) -> None:
    """Rewrite ``seg`` to hold only its bytes from ``offset`` on (atomically, fsync'd)."""
    if offset == 0:
        return
    tmp = seg.path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data[offset:])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, seg.path)
    _fsync_dir(directory)
    seg.size = len(data) - offset


class Spool:
    """An fsync'd, crash-safe FIFO of table batches in one directory, owned by one process.

    Not thread-safe: one task appends and replays. ``segment_bytes`` is where a segment rotates.
    """

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int = 64 << 20) -> None:
        if max_bytes <= 0 or segment_bytes <= 0:
            raise DataError(f"spool: max_bytes and segment_bytes must be positive, were {max_bytes}, {segment_bytes}")
        self._dir = Path(directory)
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._lock()
        self._active: int | None = None  # fd of the segment being appended to
        try:
            self._segments = self._scan()
        except BaseException:
            self.close()
            raise
        self._next_seq = self._last_seq() + 1

    # -- ownership -------------------------------------------------------------------------------

    def _lock(self) -> int:
        path = self._dir / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"spool directory {self._dir} is in use by another owner (pid {holder}); "
                "only one process may own a spool"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return fd

    def close(self) -> None:
        """Close the active segment and release the directory lock."""
        self._close_active()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = -1

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- opening ---------------------------------------------------------------------------------

    def _scan(self) -> list[_Segment]:
        paths = sorted(self._dir.glob(f"*{_SUFFIX}"))
        return [self._check(p, last=i == len(paths) - 1) for i, p in enumerate(paths)]

    def _check(self, path: Path, *, last: bool) -> _Segment:
        """Count a segment's records; truncate a torn tail of the last one; fail on corruption."""
        data = path.read_bytes()
        records = 0
        try:
            for _ in _frames(data):
                records += 1
        except _BadFrame as bad:
            if not (bad.torn and last):
                raise DataError(
                    f"spool segment {path} is corrupt at offset {bad.offset}: {bad.reason}; "
                    "move it aside to continue (its records cannot be replayed)"
                ) from None
            log.warning(
                "spool: truncating torn record in %s at offset %d (%s; %d bytes dropped)",
                path,
                bad.offset,
                bad.reason,
                len(data) - bad.offset,
            )
            os.truncate(path, bad.offset)
            return _Segment(path, records, bad.offset)
        return _Segment(path, records, len(data))

    def _last_seq(self) -> int:
        return int(self._segments[-1].path.stem) if self._segments else 0

    # -- state -----------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._dir

    def pending(self) -> int:
        """Number of spooled records not yet replayed."""
        return sum(s.records for s in self._segments)

    def bytes(self) -> int:
        """Bytes the spooled records occupy on disk."""
        return sum(s.size for s in self._segments)

    # -- appending -------------------------------------------------------------------------------

    def append(self, table: str, batch: dict[str, np.ndarray]) -> None:
        """Durably add one batch; returns only once it is on disk (fsync)."""
        frame = _frame(encode_record(table, batch))
        used = self.bytes()
        if used + len(frame) > self._max_bytes:
            raise StoreError(
                f"spool {self._dir} is full: {used} bytes in {self.pending()} records spooled, "
                f"a {len(frame)}-byte batch for {table} would exceed max_bytes={self._max_bytes}"
            )
        fd, seg = self._segment_for(len(frame))
        try:
            _write_all(fd, frame)
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, seg.size)  # leave no torn record behind
            raise StoreError(f"spool: appending to {seg.path} failed: {exc}") from exc
        seg.records += 1
        seg.size += len(frame)

    def _segment_for(self, size: int) -> tuple[int, _Segment]:
        seg = self._segments[-1] if self._segments else None
        if self._active is None or seg is None or (seg.size + size > self._segment_bytes and seg.size > 0):
            return self._rotate(), self._segments[-1]
        return self._active, seg

    def _rotate(self) -> int:
        self._close_active()
        path = self._dir / f"{self._next_seq:016d}{_SUFFIX}"
        self._next_seq += 1
        self._active = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        _fsync_dir(self._dir)
        self._segments.append(_Segment(path, 0, 0))
        return self._active

    def _close_active(self) -> None:
        if self._active is not None:
            os.close(self._active)
            self._active = None

    # -- replaying -------------------------------------------------------------------------------

    def replay(self, write: Callable[[str, Batch], object]) -> int:
        """Hand every record, oldest first, to ``write``; delete what was written.

        If ``write`` raises, the failing record and all after it stay spooled and the error
        propagates (retry later). Returns the number of records written.
        """
        self._close_active()  # the next append starts a fresh segment
        done = 0
        while self._segments:
            done += self._replay_segment(self._segments[0], write)
            self._segments[0].path.unlink()
            self._segments.pop(0)
            _fsync_dir(self._dir)
        return done

    def _replay_segment(self, seg: _Segment, write: Callable[[str, Batch], object]) -> int:
        data = seg.path.read_bytes()
        done = 0
        try:
            for offset, payload in _frames(data):
                try:
                    write(*_decode_at(seg.path, offset, payload))
                except BaseException:
                    _keep_from(self._dir, seg, data, offset)
                    raise
                done += 1
                seg.records -= 1
        except _BadFrame as bad:
            _keep_from(self._dir, seg, data, bad.offset)
            raise DataError(f"spool segment {seg.path} is corrupt at offset {bad.offset}: {bad.reason}") from None
        return done
