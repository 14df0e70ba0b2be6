"""Alerts on record (table ``alerts``): what was raised, when, how severe, with its details.

:func:`record_alert` stores one alert (not yet delivered: ``delivered_at`` empty); delivery
channels read and mark them. Messages never contain secrets (callers pass only their own text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from scalper.core.errors import StoreError
from scalper.core.timeutil import ns_to_datetime

Severity = Literal["info", "warning", "critical"]

_INSERT = (
    "INSERT INTO alerts (ts, kind, severity, dedup_key, message, payload) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
)


def record_alert(
    conn: psycopg.Connection[Any],
    *,
    ts_ns: int,
    kind: str,
    severity: Severity,
    message: str,
    payload: Mapping[str, Any] | None = None,
    dedup_key: str | None = None,
) -> int:
    """Store one alert; returns its id. ``dedup_key`` defaults to ``kind``."""
    try:
        row = conn.execute(
            _INSERT,
            (ns_to_datetime(ts_ns), kind, severity, dedup_key or kind, message, Jsonb(dict(payload or {}))),
        ).fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"recording the {kind} alert failed: {exc}") from exc
    assert row is not None
    return int(row[0])
