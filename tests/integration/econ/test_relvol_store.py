"""Relative 0DTE volume read from ``option_volume_0dte`` on a real database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK
from scalper.gates.store import relative_0dte_volume

pytestmark = pytest.mark.integration


def put(db: psycopg.Connection[Any], root: str, day: dt.date, hhmm: str, calls: int, puts: int) -> None:
    ts = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=NEW_YORK)
    db.execute(
        "INSERT INTO option_volume_0dte (root, ts, call_volume, put_volume, trades, source) "
        "VALUES (%s, %s, %s, %s, 1, 't')",
        (root, ts, calls, puts),
    )


def ns(day: dt.date, hhmm: str) -> int:
    return int(dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=NEW_YORK).timestamp()) * 1_000_000_000


def test_relative_volume_against_hand_computed_history(db: psycopg.Connection[Any]) -> None:
    today = dt.date(2026, 12, 2)  # Wednesday; previous sessions Tue 12-01 and Mon 11-30
    for root in ("SPX", "SPXW"):
        put(db, root, today, "09:30", 100, 50)
        put(db, root, today, "09:31", 10, 0)
        put(db, root, today, "09:32", 999, 999)  # not completed at 09:32:30
    put(db, "SPXW", dt.date(2026, 12, 1), "09:30", 100, 100)
    put(db, "SPXW", dt.date(2026, 12, 1), "09:31", 20, 0)
    put(db, "SPX", dt.date(2026, 11, 30), "09:31", 60, 0)
    put(db, "QQQ", dt.date(2026, 11, 30), "09:31", 10_000, 0)  # another root: ignored
    r = relative_0dte_volume(db, ["SPX", "SPXW"], ns(today, "09:32") + 30_000_000_000, sessions=2, min_sessions=2)
    # today 2 × (150 + 10) = 320; past 220 and 60 → mean 140
    assert (r.today, r.mean, r.sessions, r.minutes) == (320.0, 140.0, 2, 2)
    assert r.ratio == pytest.approx(320 / 140)


def test_sessions_without_data_are_skipped_not_zero(db: psycopg.Connection[Any]) -> None:
    today = dt.date(2026, 12, 2)
    put(db, "SPX", today, "09:30", 10, 0)
    put(db, "SPX", dt.date(2026, 11, 27), "09:30", 40, 0)  # 11-30 and 12-01 hold nothing
    r = relative_0dte_volume(db, ["SPX"], ns(today, "09:31"), sessions=3, min_sessions=1)
    assert (r.sessions, r.mean) == (1, 40.0)
    assert r.ratio == pytest.approx(0.25)
    short = relative_0dte_volume(db, ["SPX"], ns(today, "09:31"), sessions=3, min_sessions=2)
    assert short.ratio is None and short.reason == "warming up: 1 of 2 past sessions"


def test_outside_regular_hours_is_refused(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(DataError, match="outside regular hours"):
        relative_0dte_volume(db, ["SPX"], ns(dt.date(2026, 12, 2), "09:00"))


def test_a_day_with_nothing_stored_is_not_ready_rather_than_zero(db: psycopg.Connection[Any]) -> None:
    put(db, "SPX", dt.date(2026, 12, 1), "09:30", 40, 0)
    r = relative_0dte_volume(db, ["SPX"], ns(dt.date(2026, 12, 2), "10:00"), sessions=3, min_sessions=1)
    assert r.ratio is None and r.reason == "no 0DTE volume stored today" and r.sessions == 1
