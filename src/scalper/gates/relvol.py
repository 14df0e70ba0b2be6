"""Relative 0DTE option volume at a time of day.

Each session's volume is a dense per-minute profile from the open: element k is the volume of the
minute starting at open + k minutes (a minute with no row traded nothing: 0). At an instant t the
completed minutes are k = floor((t − open) / 60 s), so at 10:00:00 the minutes 09:30 … 09:59 count.

    relative 0DTE volume(t) = cum_today(k) / mean over the last N sessions of cum_s(k)

where cum(k) is the sum of the first k minutes. Not ready (``None`` with the reason) before the
first minute completes, with fewer than ``min_sessions`` past sessions, or when their mean is 0.
A past session with no stored minute at all is missing data and is not passed in (it is not 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalper.core.errors import DataError

MINUTE_NS = 60_000_000_000
Profile = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, kw_only=True, slots=True)
class RelativeVolume:
    """The ratio (``None`` when not ready, with ``reason``), today's cumulative volume and the past mean."""

    ratio: float | None
    today: float
    mean: float | None
    sessions: int
    minutes: int
    reason: str | None = None


def minute_profile(ts_ns: np.ndarray[Any, Any], volume: np.ndarray[Any, Any], open_ns: int, close_ns: int) -> Profile:
    """Dense per-minute volume of one session from minute-start times (UTC ns) and volumes."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    vol = np.asarray(volume, dtype=np.float64)
    if ts.shape != vol.shape:
        raise DataError(f"0DTE volume: expected as many times as volumes, was {ts.size} and {vol.size}")
    if (vol < 0).any() or not np.isfinite(vol).all():
        raise DataError("0DTE volume: expected finite volumes ≥ 0")
    n = int((close_ns - open_ns) // MINUTE_NS)
    k = (ts - open_ns) // MINUTE_NS
    inside = (ts >= open_ns) & (k < n)
    out = np.zeros(n, dtype=np.float64)
    np.add.at(out, k[inside], vol[inside])
    return out


def completed_minutes(open_ns: int, at_ns: int) -> int:
    """Minutes completed since the open at ``at_ns`` (0 before or at the open)."""
    return max(0, (at_ns - open_ns) // MINUTE_NS)


def relative_volume(today: Profile, past: Sequence[Profile], minutes: int, *, min_sessions: int = 1) -> RelativeVolume:
    """Relative cumulative volume after ``minutes`` completed minutes; ``past`` holds the last N sessions."""
    if minutes < 0:
        raise DataError(f"0DTE volume: minutes {minutes} is invalid: expected ≥ 0")
    cum_today = float(np.sum(today[:minutes]))
    if minutes == 0:
        return RelativeVolume(
            ratio=None, today=0.0, mean=None, sessions=len(past), minutes=0, reason="before the first minute"
        )
    if len(past) < min_sessions:
        return RelativeVolume(
            ratio=None,
            today=cum_today,
            mean=None,
            sessions=len(past),
            minutes=minutes,
            reason=f"warming up: {len(past)} of {min_sessions} past sessions",
        )
    mean = float(np.mean([np.sum(p[:minutes]) for p in past]))
    if mean <= 0:
        return RelativeVolume(
            ratio=None, today=cum_today, mean=mean, sessions=len(past), minutes=minutes, reason="past volume is 0"
        )
    return RelativeVolume(ratio=cum_today / mean, today=cum_today, mean=mean, sessions=len(past), minutes=minutes)
