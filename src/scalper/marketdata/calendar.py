"""The NYSE (XNYS) calendar from ``exchange_calendars``: sessions, early closes, regular hours.

Never a hand-written holiday list. The calendar is built once per process (it takes about a
second).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import pandas as pd


@lru_cache(maxsize=1)
def xnys() -> Any:
    """The XNYS calendar."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():  # exchange_calendars 4.13 trips a pandas 3 deprecation on build
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray", category=DeprecationWarning)
        return xcals.get_calendar("XNYS")


def is_regular_hours(ts_ns: int) -> bool:
    """Whether the regular session (09:30 to the close, early closes included) is open at ``ts_ns``."""
    cal = xnys()
    minute = pd.Timestamp(ts_ns, unit="ns", tz="UTC").floor("min")
    if minute < cal.first_minute or minute > cal.last_minute:
        return False
    return bool(cal.is_open_on_minute(minute, ignore_breaks=True))
