"""The calendar-only policy decides as the session policy does from the calendar's flags."""

from __future__ import annotations

import datetime as dt

from scalper.econ.snapshot import load_snapshot
from scalper.strategy.calendar_policy import CalendarPolicy
from scalper.strategy.policy import decide
from scalper.strategy.session import session_flags_from
from scalper.strategy.thresholds import load_thresholds

NS_PER_MIN = 60_000_000_000


def test_levels_are_the_policy_decision_of_the_minute_without_score_or_gates() -> None:
    thresholds = load_thresholds()
    policy = CalendarPolicy(thresholds)
    events = load_snapshot().events
    seen = set()
    for day in (dt.date(2025, 1, 29), dt.date(2025, 3, 19), dt.date(2025, 7, 3)):  # FOMC days, an early close
        flags = session_flags_from(events, day, thresholds.policy.calendar)
        start = int(dt.datetime.combine(day, dt.time(14, 30), dt.UTC).timestamp()) * 1_000_000_000
        for minute in range(0, 390, 7):
            ts = start + minute * NS_PER_MIN + 5_000_000_000
            at = dt.datetime.fromtimestamp((ts // NS_PER_MIN) * 60, dt.UTC)
            expected = decide(at=at, flags=flags, scores={}, gates={}, thresholds=thresholds)
            for play, d in expected.plays.items():
                assert policy(play, ts) == d.level
                seen.add(d.level)
    assert "off" in seen and len(seen) >= 2  # blackouts and closes move the levels
    assert policy("NOT_A_PLAY", start) == "off"
