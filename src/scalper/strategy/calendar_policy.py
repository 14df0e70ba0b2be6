"""A session policy from the economic calendar alone, without a database: the benchmark's policy.

:class:`CalendarPolicy` is a trader's ``level_of``: once per minute of market time it takes the
decision of :func:`scalper.strategy.policy.decide` with the flags of the day built from calendar
events (the shipped snapshot by default) and no morning score and no gates (unknown inputs: the
policy's rules for missing inputs apply, e.g. ``NO_MORNING_SCORE``). ``scalper run`` and
``scalper backtest`` use :class:`~scalper.apps.live_policy.LivePolicy`, which adds those inputs from
the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from scalper.core.timeutil import NEW_YORK, ns_to_datetime
from scalper.econ.events import EconEvent
from scalper.econ.flags import SessionFlags
from scalper.econ.snapshot import load_snapshot
from scalper.strategy.policy import decide
from scalper.strategy.session import session_flags_from
from scalper.strategy.thresholds import Level, Thresholds

NS_PER_MIN = 60_000_000_000


class CalendarPolicy:
    """Each play's level per minute from the calendar's flags (see the module docstring)."""

    def __init__(self, thresholds: Thresholds, events: Sequence[EconEvent] | None = None) -> None:
        self._thresholds = thresholds
        self._events = tuple(load_snapshot().events if events is None else events)
        self._flags: dict[dt.date, SessionFlags] = {}
        self._minute: int | None = None
        self._levels: dict[str, Level] = {}

    def __call__(self, play: str, ts: int) -> Level:
        minute = ts // NS_PER_MIN
        if minute != self._minute:
            at = ns_to_datetime(minute * NS_PER_MIN).astimezone(NEW_YORK)
            flags = self._flags.get(at.date())
            if flags is None:
                flags = session_flags_from(self._events, at.date(), self._thresholds.policy.calendar)
                self._flags = {at.date(): flags}
            decision = decide(at=at, flags=flags, scores={}, gates={}, thresholds=self._thresholds)
            self._levels = {name: d.level for name, d in decision.plays.items()}
            self._minute = minute
        return self._levels.get(play, "off")
