"""Policy decisions are stored with their reasons, inputs and thresholds version, idempotently."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from scalper.adapters.store.policy import store_decision
from scalper.core.timeutil import NEW_YORK
from scalper.strategy.policy import Gates, MorningScore, decide
from scalper.strategy.session import load_session_flags
from scalper.strategy.thresholds import load_thresholds

pytestmark = pytest.mark.integration


def test_an_fomc_afternoon_decision_is_stored_with_its_reasons(db: psycopg.Connection[Any]) -> None:
    thresholds = load_thresholds()
    day = dt.date(2025, 12, 10)  # an FOMC statement day in the shipped calendar
    flags = load_session_flags(db, day, thresholds.policy.calendar)
    at = dt.datetime.combine(day, dt.time(14, 10), NEW_YORK)
    score = MorningScore(trend_up=0.7, trend_down=0.1, balanced=0.2, checkpoint="10:30")
    decision = decide(
        at=at, flags=flags, scores={"I:SPX": score}, gates={"I:SPX": Gates(net_gex=-1e9)}, thresholds=thresholds
    )
    inputs = {"scores": {"I:SPX": {"trend_up": 0.7}}}
    assert store_decision(db, decision, inputs) == 4
    assert store_decision(db, decision, inputs) == 4  # the same moment again: rewritten, not duplicated

    rows = db.execute("SELECT play, level, version, reasons, inputs FROM policy_decisions ORDER BY play").fetchall()
    assert len(rows) == 4 and {r[0] for r in rows} == set(decision.plays)
    for play, level, version, reasons, stored_inputs in rows:
        assert level == "off" and version == thresholds.version
        assert any(r["code"].startswith("FOMC") for r in reasons), (play, reasons)
        assert stored_inputs == inputs
