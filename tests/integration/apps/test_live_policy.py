"""The session policy of `scalper run` on a real database: decided per minute of market time, inputs
from what is stored, level changes recorded, unknown inputs tolerated."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import psycopg
import pytest

from scalper.adapters.store import connect
from scalper.adapters.store.tables import OPTION_SNAPSHOTS
from scalper.adapters.store.writer import BulkWriter
from scalper.apps.live_policy import LivePolicy
from scalper.core.timeutil import NEW_YORK
from scalper.strategy.thresholds import load_thresholds
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.options import generate_option_day

pytestmark = pytest.mark.integration

SESSION = dt.date(2025, 9, 16)
NS = 1_000_000_000


def at(hhmm: str, second: int = 0) -> int:
    t = dt.datetime.combine(SESSION, dt.time.fromisoformat(hhmm), NEW_YORK)
    return int(t.timestamp()) * NS + second * NS


def policy(db_url: str) -> LivePolicy:
    return LivePolicy(functools.partial(connect, db_url), load_thresholds())


def stored_decisions(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT play, ts, level FROM policy_decisions ORDER BY ts, play").fetchall()


def test_levels_are_decided_per_minute_and_only_changes_are_stored(db_url: str, db: psycopg.Connection[Any]) -> None:
    p = policy(db_url)
    try:
        first = p("SPX_TREND_BURST", at("11:00", 5))
        assert first in ("reduced", "normal", "aggressive")  # the calendar covers the day: trading allowed
        rows = stored_decisions(db)
        assert {r[0] for r in rows} == {
            "SPX_TREND_BURST",
            "SPX_BALANCED_BREAK",
            "NDX_TREND_BURST",
            "NDX_BALANCED_BREAK",
        }
        assert p("SPX_TREND_BURST", at("11:00", 59)) == first
        assert p("NDX_TREND_BURST", at("11:01")) in ("reduced", "normal", "aggressive")
        assert len(stored_decisions(db)) == len(rows)  # the same levels a minute later: nothing new stored
        # the close approaches: flat-before-close and late-session caps may change levels; a change is stored
        late = p("SPX_TREND_BURST", at("15:58"))
        assert late in ("off", "reduced", "normal", "aggressive")
        if late != first:
            assert len(stored_decisions(db)) > len(rows)
        # nothing known: no chain, no 0DTE volume, no labelled history -> the inputs are unknown, not errors
        assert p.gates["I:SPX"].net_gex is None and p.gates["I:SPX"].relvol_0dte is None
        assert p.scores == {}
    finally:
        p.close()


def test_a_chain_stored_before_the_day_gives_the_gamma_gate(db_url: str, db: psycopg.Connection[Any]) -> None:
    (prior,) = generate_market_days(dt.date(2025, 9, 15), 1, 7)
    BulkWriter(db).write(OPTION_SNAPSHOTS, columns.option_snapshots(generate_option_day(prior, 7)))
    p = policy(db_url)
    try:
        p("SPX_TREND_BURST", at("10:15"))
        gates = p.gates["I:SPX"]
        assert gates.net_gex is not None and gates.wall_distance_pct is not None and gates.wall_distance_pct >= 0
        inputs = db.execute("SELECT inputs FROM policy_decisions WHERE play = 'SPX_TREND_BURST' LIMIT 1").fetchone()
        assert inputs is not None and inputs[0]["gates"]["I:SPX"]["net_gex"] == pytest.approx(gates.net_gex)
    finally:
        p.close()


def test_a_chain_stored_after_the_moment_is_not_seen(db_url: str, db: psycopg.Connection[Any]) -> None:
    (later,) = generate_market_days(dt.date(2025, 9, 17), 1, 7)
    BulkWriter(db).write(OPTION_SNAPSHOTS, columns.option_snapshots(generate_option_day(later, 7)))
    p = policy(db_url)
    try:
        p("SPX_TREND_BURST", at("10:15"))
        assert p.gates["I:SPX"].net_gex is None  # no look-ahead: the next day's chain is not used
    finally:
        p.close()
