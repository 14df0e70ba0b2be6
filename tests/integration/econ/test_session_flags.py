"""Session flags from the stored calendar drive the policy end to end."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK
from scalper.econ.events import EconEvent, at_new_york
from scalper.econ.store import load_shipped, upsert_events
from scalper.strategy.policy import MorningScore, decide
from scalper.strategy.session import load_session_flags
from scalper.strategy.thresholds import load_thresholds

pytestmark = pytest.mark.integration
TH = load_thresholds()
DAY = dt.date(2026, 12, 9)


def ev(kind: str, day: dt.date, time: dt.time) -> EconEvent:
    return EconEvent(
        uid=f"t:{kind}:{day}", ts=at_new_york(day, time), name=kind, kind=kind, source="t", retrieved_on=day
    )


def test_empty_table_loads_the_snapshot_which_alone_is_stale(db: psycopg.Connection[Any]) -> None:
    flags = load_session_flags(db, DAY, TH.policy.calendar)
    assert {e.kind for e in flags.events} == {"FOMC", "FOMC_PRESS"}
    assert flags.staleness.level == "off"
    assert flags.staleness.last["NFP"] == dt.date(2025, 11, 20)


def test_a_calendar_without_fomc_dates_is_stale(db: psycopg.Connection[Any]) -> None:
    upsert_events(db, [ev("CPI", dt.date(2027, 1, 13), dt.time(8, 30)), ev("NFP", dt.date(2027, 1, 8), dt.time(8, 30))])
    flags = load_session_flags(db, DAY, TH.policy.calendar)  # the table was not empty: no snapshot loaded
    assert flags.staleness.level == "off"
    assert flags.staleness.last["FOMC"] is None


def test_refreshed_calendar_is_fresh_and_blocks_the_fomc_window(db: psycopg.Connection[Any]) -> None:
    load_shipped(db)
    upsert_events(db, [ev("CPI", dt.date(2027, 1, 13), dt.time(8, 30)), ev("NFP", dt.date(2027, 1, 8), dt.time(8, 30))])
    flags = load_session_flags(db, DAY, TH.policy.calendar)
    assert flags.staleness.level == "fresh"
    score = MorningScore(trend_up=0.6, trend_down=0.2, balanced=0.2)

    def level(hhmm: str) -> str:
        at = dt.datetime.combine(DAY, dt.time.fromisoformat(hhmm), tzinfo=NEW_YORK)
        d = decide(at=at, flags=flags, scores={"I:SPX": score, "I:NDX": score}, gates={}, thresholds=TH)
        return d.level("SPX_TREND_BURST")

    assert [level(t) for t in ("13:54", "13:55", "14:45", "14:46")] == ["aggressive", "off", "off", "reduced"]


def test_a_holiday_has_no_flags(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(DataError, match="2026-11-26 is not an XNYS session"):
        load_session_flags(db, dt.date(2026, 11, 26), TH.policy.calendar)
