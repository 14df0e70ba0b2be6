"""The alerts table as an outbox: the unsettled alerts in order, the dedup anchors, the settlements.

Trading code only inserts (:func:`scalper.adapters.store.alerts.record_alert`); the dispatcher
reads ``pending``/``held`` alerts here and writes each one's final status (migration 0010). One
dispatcher at a time: :func:`dispatch_lock` takes a session advisory lock without waiting.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

SettledStatus = Literal["delivered", "summarised", "suppressed", "skipped", "expired", "failed"]
_LOCK_KEY = "scalper.alerts.dispatch"


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert as the dispatcher sees it."""

    id: int
    ts: dt.datetime
    kind: str
    severity: str
    dedup_key: str
    message: str
    status: str = "pending"


@dataclass(frozen=True, slots=True)
class SentAlert:
    """The last delivered alert of a dedup key: the anchor of its dedup window."""

    id: int
    ts: dt.datetime


@contextlib.contextmanager
def dispatch_lock(conn: psycopg.Connection[Any]) -> Iterator[bool]:
    """Yields whether this connection holds the dispatch lock (False: another dispatcher runs)."""
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (_LOCK_KEY,)).fetchone()
    acquired = bool(row and row[0])
    try:
        yield acquired
    finally:
        if acquired and not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_KEY,))


def unsettled_alerts(conn: psycopg.Connection[Any], limit: int) -> list[AlertRow]:
    """Pending and held alerts, oldest id first."""
    rows = conn.execute(
        "SELECT id, ts, kind, severity, dedup_key, message, status FROM alerts "
        "WHERE status IN ('pending', 'held') ORDER BY id LIMIT %s",
        (limit,),
    ).fetchall()
    return [AlertRow(*r) for r in rows]


def last_delivered(conn: psycopg.Connection[Any], dedup_key: str, at_or_before: dt.datetime) -> SentAlert | None:
    """The latest alert of ``dedup_key`` raised at or before ``at_or_before`` that went out."""
    row = conn.execute(
        "SELECT id, ts FROM alerts WHERE dedup_key = %s AND delivered_at IS NOT NULL AND ts <= %s "
        "ORDER BY ts DESC, id DESC LIMIT 1",
        (dedup_key, at_or_before),
    ).fetchone()
    return None if row is None else SentAlert(int(row[0]), row[1])


def settle(
    conn: psycopg.Connection[Any],
    ids: Sequence[int],
    status: SettledStatus,
    *,
    now: dt.datetime,
    error: str | None = None,
    attempts: int = 0,
) -> None:
    """Give alerts their final status; delivered and summarised ones get ``delivered_at = now``."""
    if not ids:
        return
    delivered_at = now if status in ("delivered", "summarised") else None
    conn.execute(
        "UPDATE alerts SET status = %s, settled_at = %s, delivered_at = %s, error = %s, "
        "attempts = attempts + %s WHERE id = ANY(%s)",
        (status, now, delivered_at, error, attempts, list(ids)),
    )


def hold(conn: psycopg.Connection[Any], ids: Sequence[int]) -> None:
    """Mark alerts as held by the rate limit (they go out in the next summary)."""
    if ids:
        conn.execute("UPDATE alerts SET status = 'held' WHERE id = ANY(%s) AND status = 'pending'", (list(ids),))


def alert_state(conn: psycopg.Connection[Any], alert_id: int) -> dict[str, Any] | None:
    """One alert's delivery state (status, attempts, delivered_at, settled_at, error)."""
    row = conn.execute(
        "SELECT status, attempts, delivered_at, settled_at, error FROM alerts WHERE id = %s", (alert_id,)
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("status", "attempts", "delivered_at", "settled_at", "error"), row, strict=True))
