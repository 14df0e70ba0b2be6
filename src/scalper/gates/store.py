"""Read ``option_volume_0dte`` (migration 0006: root, ts = minute start, call_volume, put_volume)
into per-session minute profiles, and compute the relative 0DTE volume at an instant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from scalper.core.errors import DataError
from scalper.gates.relvol import Profile, RelativeVolume, completed_minutes, minute_profile, relative_volume
from scalper.marketdata.calendar import session_at, session_table

_SQL = (
    "SELECT (EXTRACT(EPOCH FROM ts) * 1000000)::int8 * 1000, call_volume + put_volume "
    "FROM option_volume_0dte WHERE root = ANY(%s) AND ts >= %s AND ts < %s ORDER BY ts"
)


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)


def session_profile(conn: psycopg.Connection[Any], roots: Sequence[str], open_ns: int, close_ns: int) -> Profile | None:
    """Summed call + put 0DTE volume of ``roots`` per minute of one session; ``None`` when nothing is stored."""
    rows = conn.execute(_SQL, (list(roots), _utc(open_ns), _utc(close_ns))).fetchall()
    if not rows:
        return None
    data = np.asarray(rows, dtype=np.int64)
    return minute_profile(data[:, 0], data[:, 1].astype(np.float64), open_ns, close_ns)


def relative_0dte_volume(
    conn: psycopg.Connection[Any], roots: Sequence[str], at_ns: int, *, sessions: int = 20, min_sessions: int = 10
) -> RelativeVolume:
    """Relative 0DTE volume of ``roots`` (e.g. SPX and SPXW) at ``at_ns`` against the last ``sessions``
    XNYS sessions before today that have stored volume (looking back at most 2 × ``sessions``)."""
    today = session_at(at_ns)
    if today is None:
        raise DataError(f"relative 0DTE volume: {_utc(at_ns).isoformat()} is outside regular hours")
    open_ns, close_ns = today
    table = session_table()
    i = int(np.searchsorted(table[:, 0], open_ns))
    past: list[Profile] = []
    for j in range(i - 1, max(-1, i - 1 - 2 * sessions), -1):
        if len(past) == sessions:
            break
        p = session_profile(conn, roots, int(table[j, 0]), int(table[j, 1]))
        if p is not None:
            past.append(p)
    now = session_profile(conn, roots, open_ns, close_ns)
    minutes = completed_minutes(open_ns, at_ns)
    if now is None:  # nothing stored for today at all is missing data, not a day without volume
        return RelativeVolume(
            ratio=None, today=0.0, mean=None, sessions=len(past), minutes=minutes, reason="no 0DTE volume stored today"
        )
    return relative_volume(now, past, minutes, min_sessions=min_sessions)
