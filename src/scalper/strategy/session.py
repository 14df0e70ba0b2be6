"""Build a session's :class:`~scalper.econ.flags.SessionFlags` from the stored calendar.

The one place that joins the database (``econ_events``, loaded from the shipped snapshot when
empty), the XNYS calendar (hours, early close, upcoming sessions) and the staleness thresholds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg

from scalper.core.errors import DataError
from scalper.econ.events import EconEvent
from scalper.econ.flags import SessionFlags, session_flags, staleness, xnys_hours, xnys_sessions_from
from scalper.econ.store import ensure_loaded, read_events
from scalper.strategy.thresholds import CalendarThresholds


def load_session_flags(conn: psycopg.Connection[Any], day: dt.date, cal: CalendarThresholds) -> SessionFlags:
    """Flags of XNYS session ``day``, staleness judged as of ``day``."""
    if xnys_hours(day) is None:
        raise DataError(f"session flags: {day} is not an XNYS session")
    ensure_loaded(conn)
    return session_flags_from(read_events(conn), day, cal)


def session_flags_from(events: Sequence[EconEvent], day: dt.date, cal: CalendarThresholds) -> SessionFlags:
    """Flags of XNYS session ``day`` from the calendar ``events`` (stored or shipped)."""
    hours = xnys_hours(day)
    if hours is None:
        raise DataError(f"session flags: {day} is not an XNYS session")
    stale = staleness(
        events,
        day,
        xnys_sessions_from(day, cal.reduce_below_sessions),
        kinds=cal.required_kinds,
        reduce_below=cal.reduce_below_sessions,
        off_below=cal.off_below_sessions,
    )
    return session_flags(day, events, open_=hours[0], close=hours[1], early_close=hours[2], stale=stale)
