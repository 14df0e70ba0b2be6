"""Conversions between integer nanoseconds UTC and the other time representations we meet."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NEW_YORK = ZoneInfo("America/New_York")


def ms_to_ns(ms: int) -> int:
    """Websocket milliseconds to nanoseconds."""
    return ms * NS_PER_MS


def ns_to_datetime(ns: int) -> dt.datetime:
    """Nanoseconds UTC to an aware UTC datetime (microsecond precision, as PostgreSQL stores)."""
    seconds, rem = divmod(ns, NS_PER_S)
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC) + dt.timedelta(microseconds=rem // 1000)


def datetime_to_ns(value: dt.datetime) -> int:
    """Aware datetime to nanoseconds UTC; naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError(f"expected an aware datetime, was naive: {value.isoformat()}")
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000
