"""Follow the capture from another process without a second websocket.

The ingest pipeline sends a ``NOTIFY scalper_feed`` after each committed batch with the table,
row count, time range and symbols; a follower LISTENs and reads exactly the rows it was told
about from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from scalper.adapters.feed.ingest import NOTIFY_CHANNEL


@dataclass(frozen=True, slots=True)
class BatchNotice:
    """One committed batch, as announced by the capturing process."""

    table: str
    rows: int
    from_ns: int
    to_ns: int
    symbols: tuple[str, ...]


def follow(
    conn: psycopg.Connection[Any], *, timeout_s: float | None = None, stop_after: int | None = None
) -> Iterator[BatchNotice]:
    """LISTEN now on an autocommit connection; the returned iterator yields batch notices as they arrive."""
    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
    return _notices(conn, timeout_s, stop_after)


def _notices(conn: psycopg.Connection[Any], timeout_s: float | None, stop_after: int | None) -> Iterator[BatchNotice]:
    for note in conn.notifies(timeout=timeout_s, stop_after=stop_after):
        data = json.loads(note.payload)
        yield BatchNotice(data["table"], data["rows"], data["from_ns"], data["to_ns"], tuple(data["symbols"]))
