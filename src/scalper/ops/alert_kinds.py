"""The operational alert kinds, their default severity and dedup subject, and one helper to raise them.

An alert's ``dedup_key`` is ``kind:subject``: the subject names the thing the alert is about,
so repeats about the same thing collapse (within the dedup window) and different things do not.
Raising only records the alert (one INSERT): delivery happens later, off the trading path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from scalper.adapters.store.alerts import Severity, record_alert

STREAM_STALL = "stream_stall"
RECONNECT_STORM = "reconnect_storm"
GAP_UNREPAIRED = "gap_unrepaired"
REGIME_FLIP = "regime_flip"
KILL_SWITCH = "kill_switch"
ORDER_REJECTED = "order_rejected"
RECONCILIATION = "reconciliation"
JOB_FAILED = "job_failed"
CALENDAR_STALE = "calendar_stale"


@dataclass(frozen=True, slots=True)
class AlertKind:
    """A kind of alert: its default severity and what its dedup subject is."""

    name: str
    severity: Severity
    subject: str


ALERT_KINDS: dict[str, AlertKind] = {
    k.name: k
    for k in (
        AlertKind(STREAM_STALL, "warning", "the stream (e.g. indices, stocks)"),
        AlertKind(RECONNECT_STORM, "warning", "the stream"),
        AlertKind(GAP_UNREPAIRED, "warning", "symbol and session date, e.g. I:SPX:2025-07-01"),
        AlertKind(REGIME_FLIP, "warning", "the symbol"),
        AlertKind(KILL_SWITCH, "critical", "the run id"),
        AlertKind(ORDER_REJECTED, "warning", "the client order id"),
        AlertKind(RECONCILIATION, "critical", "the run id"),
        AlertKind(JOB_FAILED, "warning", "the job name"),
        AlertKind(CALENDAR_STALE, "warning", "the calendar (e.g. econ, exchange)"),
    )
}


def dedup_key(kind: str, subject: str | None) -> str:
    """``kind:subject``, or just ``kind`` when the alert is about the whole system."""
    return f"{kind}:{subject}" if subject else kind


def raise_alert(
    conn: psycopg.Connection[Any],
    kind: str,
    message: str,
    *,
    ts_ns: int,
    subject: str | None = None,
    severity: Severity | None = None,
    payload: Mapping[str, Any] | None = None,
) -> int:
    """Record an alert of a known kind (default severity unless given); returns its id."""
    spec = ALERT_KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {sorted(ALERT_KINDS)}")
    body = {**(payload or {}), "subject": subject} if subject else dict(payload or {})
    return record_alert(
        conn,
        ts_ns=ts_ns,
        kind=kind,
        severity=severity or spec.severity,
        message=message,
        payload=body,
        dedup_key=dedup_key(kind, subject),
    )
