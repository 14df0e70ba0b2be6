"""The NYSE (XNYS) calendar from ``exchange_calendars``: sessions, early closes, regular hours.

Never a hand-written holiday list. The calendar is built once per process (it takes about a
second).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=1)
def xnys() -> Any:
    """The XNYS calendar."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():  # exchange_calendars 4.13 trips a pandas 3 deprecation on build
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray", category=DeprecationWarning)
        return xcals.get_calendar("XNYS")


@lru_cache(maxsize=1)
def _session_bounds() -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """Opens and closes of every session the calendar knows, as sorted UTC nanoseconds."""
    cal = xnys()
    opens = np.fromiter((ts.value for ts in cal.opens), dtype=np.int64)
    closes = np.fromiter((ts.value for ts in cal.closes), dtype=np.int64)
    return opens, closes


def is_regular_hours(ts_ns: int) -> bool:
    """Whether the regular session (09:30 to the close, early closes included) is open at ``ts_ns``.

    The open is inclusive and the close exclusive. A binary search over the session bounds: cheap
    enough for the feed's stall check.
    """
    return session_at(ts_ns) is not None


def session_at(ts_ns: int) -> tuple[int, int] | None:
    """(open_ns, close_ns) of the regular session open at ``ts_ns``, or ``None`` outside regular hours."""
    opens, closes = _session_bounds()
    i = int(np.searchsorted(opens, ts_ns, side="right")) - 1
    if i < 0 or ts_ns >= int(closes[i]):
        return None
    return int(opens[i]), int(closes[i])


class SessionCursor:
    """:func:`session_at` for a clock that mostly moves forward: the answer holds for a whole interval
    (a session, or the gap between two), so consecutive times in it cost one comparison."""

    __slots__ = ("_hi", "_lo", "_value")

    def __init__(self) -> None:
        self._lo, self._hi = 1, 0  # an empty interval: the first call computes
        self._value: tuple[int, int] | None = None

    def at(self, ts_ns: int) -> tuple[int, int] | None:
        if self._lo <= ts_ns < self._hi:
            return self._value
        opens, closes = _session_bounds()
        i = int(np.searchsorted(opens, ts_ns, side="right")) - 1
        if i >= 0 and ts_ns < int(closes[i]):
            self._lo, self._hi, self._value = int(opens[i]), int(closes[i]), (int(opens[i]), int(closes[i]))
        else:
            self._lo = int(closes[i]) if i >= 0 else -(2**63)
            self._hi = int(opens[i + 1]) if i + 1 < len(opens) else 2**63 - 1
            self._value = None
        return self._value


def session_table() -> np.ndarray[Any, np.dtype[np.int64]]:
    """Every session the calendar knows as an ``(n, 2)`` int64 array of (open_ns, close_ns), sorted."""
    opens, closes = _session_bounds()
    return np.ascontiguousarray(np.column_stack((opens, closes)))
