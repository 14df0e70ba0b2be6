"""The ``flatfile_manifest`` table: one row per file key, what was loaded from which version.

A key whose row says ``loaded`` with the remote's current ETag is done and skipped. A row with
another ETag means the file was republished: that day's rows are replaced. ``loading`` rows are
files whose load was interrupted; ``failed`` rows carry the error. Timings and row counts are
kept for the summary and for operations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

Status = Literal["loading", "loaded", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestEntry:
    """A row of ``flatfile_manifest``."""

    key: str
    dataset: str
    session_date: dt.date
    etag: str
    status: Status
    rows_read: int
    rows_kept: int
    rows_written: int
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadFigures:
    """Counts and timings of one load."""

    rows_read: int = 0
    rows_kept: int = 0
    rows_written: int = 0
    download_s: float = 0.0
    load_s: float = 0.0


class Manifest:
    """Reads and writes ``flatfile_manifest`` over an autocommit connection it does not own."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def lookup(self, key: str) -> ManifestEntry | None:
        row = self._conn.execute(
            "SELECT key, dataset, session_date, etag, status, rows_read, rows_kept, rows_written, error "
            "FROM flatfile_manifest WHERE key = %s",
            (key,),
        ).fetchone()
        if row is None:
            return None
        k, dataset, day, etag, status, read, kept, written, error = row
        return ManifestEntry(
            key=k,
            dataset=dataset,
            session_date=day,
            etag=etag,
            status=status,
            rows_read=read,
            rows_kept=kept,
            rows_written=written,
            error=error,
        )

    def begin(self, *, key: str, dataset: str, day: dt.date, etag: str, size: int) -> None:
        """Record that ``key`` at version ``etag`` is being loaded (counts reset)."""
        self._conn.execute(
            "INSERT INTO flatfile_manifest (key, dataset, session_date, etag, size_bytes, status) "
            "VALUES (%s, %s, %s, %s, %s, 'loading') "
            "ON CONFLICT (key) DO UPDATE SET etag = EXCLUDED.etag, size_bytes = EXCLUDED.size_bytes, "
            "status = 'loading', rows_read = 0, rows_kept = 0, rows_written = 0, download_s = NULL, "
            "load_s = NULL, started_at = now(), finished_at = NULL, error = NULL",
            (key, dataset, day, etag, size),
        )

    def finish(self, key: str, figures: LoadFigures) -> None:
        self._end(key, "loaded", figures, None)

    def fail(self, key: str, figures: LoadFigures, error: str) -> None:
        self._end(key, "failed", figures, error)

    def _end(self, key: str, status: Status, f: LoadFigures, error: str | None) -> None:
        self._conn.execute(
            "UPDATE flatfile_manifest SET status = %s, rows_read = %s, rows_kept = %s, rows_written = %s, "
            "download_s = %s, load_s = %s, finished_at = now(), error = %s WHERE key = %s",
            (status, f.rows_read, f.rows_kept, f.rows_written, f.download_s, f.load_s, error, key),
        )
