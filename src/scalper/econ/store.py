"""The economic calendar's table ``econ_events`` (migration 0002): idempotent upsert by uid, reads.

A release stored from the shipped snapshot (uid ``snapshot:...``) is replaced by the same kind
on the same New York date when a refreshed source (an .ics) brings it under its own uid, so one
release is never stored twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from scalper.econ.events import EconEvent
from scalper.econ.snapshot import SNAPSHOT_UID_PREFIX, load_snapshot

_COLUMNS = "uid, ts, name, kind, impact, source, retrieved_on"
_UPSERT_SQL = (
    f"INSERT INTO econ_events ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (uid) DO UPDATE SET ts = EXCLUDED.ts, name = EXCLUDED.name, kind = EXCLUDED.kind, "
    "impact = EXCLUDED.impact, source = EXCLUDED.source, retrieved_on = EXCLUDED.retrieved_on"
)
_DELETE_SNAPSHOT_SQL = (
    "DELETE FROM econ_events WHERE uid LIKE %s AND uid <> ALL(%s) AND kind = %s "
    "AND (ts AT TIME ZONE 'America/New_York')::date = %s"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class UpsertResult:
    """What an upsert did: events new to the table, events whose time/name/kind/impact changed
    (with the stored version before), events already stored as given, snapshot rows replaced."""

    added: tuple[EconEvent, ...]
    updated: tuple[tuple[EconEvent, EconEvent], ...]
    unchanged: int
    replaced: int


def upsert_events(conn: psycopg.Connection[Any], events: Sequence[EconEvent]) -> UpsertResult:
    """Store ``events`` (one transaction); source and retrieval date are refreshed on every row."""
    before = {e.uid: e for e in read_events(conn, uids=[e.uid for e in events])}
    added, updated, unchanged, replaced = [], [], 0, 0
    uids = [e.uid for e in events]
    with conn.transaction():
        for e in events:
            old = before.get(e.uid)
            if old is None:
                added.append(e)
            elif (old.ts, old.name, old.kind, old.impact) != (e.ts, e.name, e.kind, e.impact):
                updated.append((old, e))
            else:
                unchanged += 1
            conn.execute(_UPSERT_SQL, (e.uid, e.ts, e.name, e.kind, e.impact, e.source, e.retrieved_on))
            if not e.uid.startswith(SNAPSHOT_UID_PREFIX):
                cur = conn.execute(_DELETE_SNAPSHOT_SQL, (f"{SNAPSHOT_UID_PREFIX}%", uids, e.kind, e.day))
                replaced += cur.rowcount
    return UpsertResult(added=tuple(added), updated=tuple(updated), unchanged=unchanged, replaced=replaced)


def read_events(
    conn: psycopg.Connection[Any],
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    uids: Sequence[str] | None = None,
) -> list[EconEvent]:
    """Stored events by time, optionally those whose New York date is in [first, last] or with given uids."""
    where: list[str] = ["TRUE"]
    args: list[Any] = []
    if first is not None:
        where.append("(ts AT TIME ZONE 'America/New_York')::date >= %s")
        args.append(first)
    if last is not None:
        where.append("(ts AT TIME ZONE 'America/New_York')::date <= %s")
        args.append(last)
    if uids is not None:
        where.append("uid = ANY(%s)")
        args.append(list(uids))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM econ_events WHERE {' AND '.join(where)} ORDER BY ts, kind, uid", args
    ).fetchall()
    return [
        EconEvent(uid=r[0], ts=r[1], name=r[2], kind=r[3], impact=r[4], source=r[5], retrieved_on=r[6]) for r in rows
    ]


def load_shipped(conn: psycopg.Connection[Any]) -> UpsertResult:
    """Store the shipped snapshot (idempotent)."""
    return upsert_events(conn, load_snapshot().events)


def ensure_loaded(conn: psycopg.Connection[Any]) -> UpsertResult | None:
    """Load the shipped snapshot when ``econ_events`` is empty; ``None`` when it held rows already."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM econ_events)").fetchone()
    if row is not None and row[0]:
        return None
    return load_shipped(conn)
