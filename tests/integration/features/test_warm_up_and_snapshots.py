"""Start-up from stored history equals an engine that ran all along; snapshots land in `features`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import psycopg
import pytest

from scalper.adapters.store.feature_history import warm_up
from scalper.adapters.store.tables import AGG_1S, FEATURES
from scalper.adapters.store.writer import BulkWriter
from scalper.core.events import SECOND_NS
from scalper.features.engine import FeatureEngine
from scalper.features.params import FeatureParams
from scalper.features.recorder import SnapshotRecorder, feature_version
from scalper.features.snapshot import INDEX
from scalper.synthetic import columns
from scalper.synthetic.feature_events import market_events
from scalper.synthetic.market import MarketDay, generate_market_days

pytestmark = pytest.mark.integration
SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
PARAMS = FeatureParams(relvol_sessions=3, relvol_min_sessions=2)


@pytest.fixture(scope="module")
def days() -> list[MarketDay]:
    return list(generate_market_days(dt.date(2025, 6, 9), 4, seed=5))


def store_seconds(db: psycopg.Connection[Any], days: list[MarketDay]) -> None:
    writer = BulkWriter(db)
    for day in days:
        writer.write(AGG_1S, columns.seconds(day))


def test_a_restart_at_eleven_has_the_session_values_of_an_engine_that_never_stopped(
    db: psycopg.Connection[Any], days: list[MarketDay]
) -> None:
    store_seconds(db, days)
    now = days[-1].window.open_ns + 90 * 60 * SECOND_NS  # 11:00 on the last day
    events = market_events(days, SYMBOLS)
    before_now = events.take(np.flatnonzero(events.delivered_at() <= now))
    ran_all_along = FeatureEngine(SYMBOLS, PARAMS)
    ran_all_along.replay(before_now)

    restarted = FeatureEngine(SYMBOLS, PARAMS)
    applied = warm_up(restarted, db, now_ns=now, sessions=4)

    assert applied == len(before_now), restarted.refused
    assert restarted.states.tobytes() == ran_all_along.states.tobytes()
    for symbol in SYMBOLS:
        snap = restarted.latest_dict(symbol)
        assert snap == ran_all_along.latest_dict(symbol)
        assert snap["vwap"] is not None and snap["or30_high"] is not None and snap["ema_15m"] is not None
    assert restarted.latest_dict("SPY")["rel_volume"] is not None  # three earlier sessions of volume curves


def test_a_restart_with_too_short_a_history_says_not_ready_rather_than_wrong(
    db: psycopg.Connection[Any], days: list[MarketDay]
) -> None:
    store_seconds(db, days)
    now = days[-1].window.open_ns + 90 * 60 * SECOND_NS
    engine = FeatureEngine(SYMBOLS, PARAMS)
    warm_up(engine, db, now_ns=now, sessions=1)  # today only
    snap = engine.latest_dict("SPY")
    assert snap["vwap"] is not None  # session values are complete
    assert snap["prior_high"] is None and snap["rel_volume"] is None  # no yesterday, no volume history


def test_replayed_snapshots_are_stored_once_a_minute_and_rewritten_idempotently(
    db: psycopg.Connection[Any], days: list[MarketDay]
) -> None:
    events = market_events(days[:1], SYMBOLS)
    engine = FeatureEngine(SYMBOLS, PARAMS)
    recorder = SnapshotRecorder(SYMBOLS, every_s=60, version=feature_version(PARAMS))
    mask = recorder.due_mask(events)
    status, rows = engine.replay(events, keep=mask)
    recorder.add_replay(events, mask, status, rows)
    batch = recorder.take()
    writer = BulkWriter(db)
    writer.write(FEATURES, batch)
    writer.write(FEATURES, batch)  # a re-run overwrites, never duplicates

    counts = dict(db.execute("SELECT symbol, count(*) FROM features GROUP BY symbol").fetchall())
    minutes = (days[0].window.close_ns - days[0].window.open_ns) // (60 * SECOND_NS)
    expected = {}
    for code, symbol in enumerate(SYMBOLS):  # one per minute close, when the minute's last second came or later
        t = events.ts[events.symbol == code] // SECOND_NS
        last_second = (t + 1) % 60 == 0
        caught_up = np.concatenate(([False], (t[1:] // 60 != t[:-1] // 60) & ~last_second[:-1]))
        expected[symbol] = int(last_second.sum() + caught_up.sum())
        assert minutes - 15 <= expected[symbol] <= minutes
    assert counts == expected
    ts, ready, data, version = db.execute(
        "SELECT ts, ready, data, version FROM features WHERE symbol = 'SPY' ORDER BY ts DESC LIMIT 1"
    ).fetchone()
    assert version == feature_version(PARAMS) and version.startswith("f1-")
    assert ts == dt.datetime.fromtimestamp(days[0].window.close_ns / 1e9, dt.UTC)  # known at the close
    stored = data if isinstance(data, dict) else json.loads(data)
    spy_rows = rows[events.symbol[np.flatnonzero(mask)] == SYMBOLS.index("SPY")]
    assert stored["vwap"] == spy_rows[-1][INDEX["vwap"]]  # JSON round-trips a float64 exactly
    assert stored["ema_15m"] is not None and stored["prior_high"] is None  # first session: no prior day
    assert ready is True
    first_ready = db.execute("SELECT ready FROM features WHERE symbol = 'SPY' ORDER BY ts LIMIT 1").fetchone()
    assert first_ready == (False,)  # 09:30:59: the 15-minute EMA is far from warm
