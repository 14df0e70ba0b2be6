"""The stale-calendar rule: coverage of the coming sessions per required kind."""

from __future__ import annotations

import datetime as dt

from scalper.econ.events import EconEvent, at_new_york
from scalper.econ.flags import staleness


def ev(kind: str, day: dt.date) -> EconEvent:
    return EconEvent(
        uid=f"t:{kind}:{day}", ts=at_new_york(day, dt.time(8, 30)), name=kind, kind=kind, source="t", retrieved_on=day
    )


TODAY = dt.date(2026, 3, 2)  # a Monday
SESSIONS = [TODAY + dt.timedelta(days=i) for i in range(40) if (TODAY + dt.timedelta(days=i)).weekday() < 5]


def test_fresh_when_every_kind_is_known_beyond_the_horizon() -> None:
    far = SESSIONS[15]
    s = staleness([ev("FOMC", far), ev("CPI", far), ev("NFP", far)], TODAY, SESSIONS)
    assert s.level == "fresh"
    assert s.coverage == {"FOMC": 16, "CPI": 16, "NFP": 16}


def test_reduced_when_one_kind_is_known_only_a_few_sessions_ahead() -> None:
    s = staleness([ev("FOMC", SESSIONS[15]), ev("CPI", SESSIONS[15]), ev("NFP", SESSIONS[3])], TODAY, SESSIONS)
    assert s.level == "reduced"
    assert s.coverage["NFP"] == 4
    assert "NFP known through 2026-03-05 (4 sessions)" in s.describe()


def test_reduced_boundary_is_the_horizon() -> None:
    base = [ev("FOMC", SESSIONS[15]), ev("CPI", SESSIONS[15])]
    assert staleness([*base, ev("NFP", SESSIONS[9])], TODAY, SESSIONS, reduce_below=10).level == "fresh"
    assert staleness([*base, ev("NFP", SESSIONS[8])], TODAY, SESSIONS, reduce_below=10).level == "reduced"


def test_off_when_a_kind_ends_before_today_or_is_absent() -> None:
    assert (
        staleness(
            [ev("FOMC", SESSIONS[15]), ev("CPI", SESSIONS[15]), ev("NFP", TODAY - dt.timedelta(days=3))],
            TODAY,
            SESSIONS,
        ).level
        == "off"
    )
    absent = staleness([ev("FOMC", SESSIONS[15]), ev("CPI", SESSIONS[15])], TODAY, SESSIONS)
    assert absent.level == "off"
    assert absent.last["NFP"] is None


def test_an_event_today_covers_today_only() -> None:
    s = staleness([ev("FOMC", TODAY), ev("CPI", TODAY), ev("NFP", TODAY)], TODAY, SESSIONS)
    assert s.coverage == {"FOMC": 1, "CPI": 1, "NFP": 1}
    assert s.level == "reduced"


def test_other_kinds_do_not_count() -> None:
    s = staleness([ev("PPI", SESSIONS[20])], TODAY, SESSIONS, kinds=("CPI",))
    assert s.level == "off"
