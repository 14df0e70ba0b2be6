"""The Clock port: the only way scalper code learns the time.

No code outside this module reads the wall clock. Live code gets a :class:`LiveClock`;
replay advances a :class:`ReplayClock` from the event stream (so nothing can see data stamped
after the simulated time); tests set a :class:`ReplayClock` by hand.
"""

from __future__ import annotations

import time
from typing import Protocol

from scalper.core.errors import InvariantError


class Clock(Protocol):
    """Tells the current time in integer nanoseconds since the Unix epoch, UTC."""

    def now_ns(self) -> int: ...


class LiveClock:
    """The wall clock."""

    def now_ns(self) -> int:
        return time.time_ns()


class ReplayClock:
    """A clock moved forward by the event stream; it never goes backwards."""

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move the clock to ``ts_ns``; moving backwards is a broken invariant."""
        if ts_ns < self._now:
            raise InvariantError(f"replay clock cannot go backwards: now {self._now}, asked {ts_ns}")
        self._now = ts_ns
