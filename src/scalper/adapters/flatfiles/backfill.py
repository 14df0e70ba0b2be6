"""The backfill: for each (dataset, session) fetch the file if needed and load it once.

Per file: ask the source for the current version (ETag); skip it when the manifest says that
version is loaded; otherwise download it into the cache (resuming a partial download), record
``loading``, and stream it into the store. A file that was loaded (or attempted) before under
another version -- republished -- or whose earlier load did not finish first has its day's rows
deleted (the rows the dataset owns, 00:00-24:00 New York time), so the day ends up exactly as
the current file says. A failing file is recorded as ``failed`` with its error; the other files
still load.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import psycopg
import pyarrow as pa
from psycopg import sql

from scalper.adapters.flatfiles.cache import FileCache
from scalper.adapters.flatfiles.errors import FlatFileError
from scalper.adapters.flatfiles.formats import day_range_ns, object_key
from scalper.adapters.flatfiles.loaders import LoadOptions, Owned, make_loader
from scalper.adapters.flatfiles.manifest import LoadFigures, Manifest
from scalper.adapters.flatfiles.pipeline import load_file
from scalper.adapters.flatfiles.reader import DEFAULT_BLOCK_BYTES, ReadStats
from scalper.adapters.flatfiles.source import RemoteFile, Source
from scalper.core.errors import ScalperError
from scalper.core.timeutil import ns_to_datetime

log = logging.getLogger(__name__)

Outcome = Literal["loaded", "replaced", "skipped", "failed", "missing"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """What happened to one (dataset, session) file."""

    key: str
    dataset: str
    day: dt.date
    outcome: Outcome
    rows_read: int = 0
    rows_kept: int = 0
    rows_written: int = 0
    bytes: int = 0
    download_s: float = 0.0
    load_s: float = 0.0
    error: str | None = None


class ProgressSink(Protocol):
    """Where a running backfill reports progress (the CLI draws bars from it)."""

    def begin(self, key: str, total_bytes: int) -> None: ...

    def update(self, key: str, bytes_done: int, rows: int) -> None: ...

    def end(self, key: str) -> None: ...


class Backfill:
    """Loads flat files from ``source`` into the store over an autocommit connection.

    ``extra_writers`` are more autocommit connections to the same database: with one, encoding a
    batch overlaps the COPY of the previous one. ``scrub`` removes secrets from error texts.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        source: Source,
        cache: FileCache,
        options: LoadOptions,
        *,
        progress: ProgressSink | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        scrub: Callable[[str], str] = lambda text: text,
        extra_writers: Sequence[psycopg.Connection[Any]] = (),
        keep_cache: bool = True,
    ) -> None:
        self._conn = conn
        self._writers = (conn, *extra_writers)
        self._source = source
        self._cache = cache
        self._options = options
        self._progress = progress
        self._block_bytes = block_bytes
        self._scrub = scrub
        self._manifest = Manifest(conn)
        self._keep_cache = keep_cache

    def run(self, datasets: Iterable[str], days: Iterable[dt.date]) -> list[FileResult]:
        """Every dataset for every day, day by day; never raises for a single file's failure."""
        sessions = list(days)
        return [self.load(dataset, day) for day in sessions for dataset in datasets]

    def load(self, dataset: str, day: dt.date) -> FileResult:
        """One file: skip, load, replace or fail it (the manifest records the result)."""
        key = object_key(dataset, day)
        try:
            remote = self._source.stat(key)
        except FlatFileError as exc:  # the source refused or could not be reached: recorded, no version known
            message = self._scrub(str(exc))
            self._manifest.begin(key=key, dataset=dataset, day=day, etag="", size=0)
            self._manifest.fail(key, LoadFigures(), message)
            return FileResult(key=key, dataset=dataset, day=day, outcome="failed", error=message)
        if remote is None:
            return FileResult(key=key, dataset=dataset, day=day, outcome="missing")
        entry = self._manifest.lookup(key)
        if entry is not None and entry.status == "loaded" and entry.etag == remote.etag:
            return FileResult(
                key=key, dataset=dataset, day=day, outcome="skipped", rows_read=entry.rows_read,
                rows_kept=entry.rows_kept, bytes=remote.size,
            )  # fmt: skip
        republished = entry is not None and entry.etag not in ("", remote.etag)  # "": never fetched
        return self._load(remote, dataset, day, clear_day=entry is not None, republished=republished)

    def _load(
        self, remote: RemoteFile, dataset: str, day: dt.date, *, clear_day: bool, republished: bool
    ) -> FileResult:
        key = remote.key
        stats = ReadStats()
        download_s = load_s = 0.0
        written = 0
        self._manifest.begin(key=key, dataset=dataset, day=day, etag=remote.etag, size=remote.size)
        if self._progress is not None:
            self._progress.begin(key, remote.size)
        try:
            began = time.perf_counter()
            local = self._cache.ensure(self._source, remote, self._on_bytes(key))
            download_s = time.perf_counter() - began
            began = time.perf_counter()
            loader = make_loader(dataset, key=key, day=day, options=self._options)
            if clear_day:
                self._delete_day(loader.owned, day)
            tally = load_file(
                self._writers, local.path, key=key, dataset=dataset, loader=loader, stats=stats,
                on_block=self._on_block(key), block_bytes=self._block_bytes,
            )  # fmt: skip
            written = tally.total
            load_s = time.perf_counter() - began
        except (ScalperError, psycopg.Error, OSError, ValueError, pa.ArrowException) as exc:  # this file only
            load_s = time.perf_counter() - began
            message = self._scrub(str(exc) if isinstance(exc, FlatFileError) else f"{key}: {exc}")
            figures = LoadFigures(rows_read=stats.rows_read, rows_kept=stats.rows_kept, download_s=download_s,
                                  load_s=load_s)  # fmt: skip
            self._manifest.fail(key, figures, message)
            self._cache.discard(self._source, key)
            log.warning("flat file failed: %s", message)
            return FileResult(
                key=key, dataset=dataset, day=day, outcome="failed", rows_read=stats.rows_read,
                rows_kept=stats.rows_kept, bytes=remote.size, download_s=download_s, load_s=load_s, error=message,
            )  # fmt: skip
        finally:
            if self._progress is not None:
                self._progress.end(key)
        figures = LoadFigures(rows_read=stats.rows_read, rows_kept=stats.rows_kept, rows_written=written,
                              download_s=download_s, load_s=load_s)  # fmt: skip
        self._manifest.finish(key, figures)
        if not self._keep_cache:
            self._cache.discard(self._source, key)
        return FileResult(
            key=key, dataset=dataset, day=day, outcome="replaced" if republished else "loaded",
            rows_read=stats.rows_read, rows_kept=stats.rows_kept, rows_written=written, bytes=remote.size,
            download_s=download_s, load_s=load_s,
        )  # fmt: skip

    def _delete_day(self, owned: tuple[Owned, ...], day: dt.date) -> None:
        lo, hi = (ns_to_datetime(ns) for ns in day_range_ns(day))
        with self._conn.transaction():
            for o in owned:
                stmt = sql.SQL("DELETE FROM {t} WHERE {c} = ANY(%s) AND ts >= %s AND ts < %s").format(
                    t=sql.Identifier(o.table), c=sql.Identifier(o.column)
                )
                params: list[Any] = [list(o.values), lo, hi]
                if o.timeframe is not None:
                    stmt += sql.SQL(" AND timeframe = %s")
                    params.append(o.timeframe)
                self._conn.execute(stmt, params)

    def _on_bytes(self, key: str) -> Callable[[int], None] | None:
        progress = self._progress
        if progress is None:
            return None
        done = [0]

        def on_bytes(n: int) -> None:
            done[0] += n
            progress.update(key, done[0], 0)

        return on_bytes

    def _on_block(self, key: str) -> Callable[[ReadStats], None] | None:
        progress = self._progress
        if progress is None:
            return None
        return lambda stats: progress.update(key, stats.bytes_read, stats.rows_read)
