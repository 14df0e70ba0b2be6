"""A synthetic chain and its gamma levels stored in PostgreSQL and read back."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from typing import Any

import numpy as np
import psycopg
import pytest

from scalper.adapters.store.options import read_chain, read_gamma_levels, write_chain, write_gamma_levels
from scalper.adapters.store.writer import BulkWriter
from scalper.options.chains import Chain, chain_from_snapshot, complete, gamma_chain, terms
from scalper.options.gex import Variant, gamma_levels
from scalper.synthetic.market import MarketConfig, generate_market_days
from scalper.synthetic.options import RATE, generate_option_day
from scalper.synthetic.polygon_events import snapshot_results

pytestmark = pytest.mark.integration


def synthetic_chain() -> Chain:
    config = MarketConfig(trades_per_second=1.0, quotes_per_second=1.0)
    market = next(iter(generate_market_days(dt.date(2025, 3, 7), 1, seed=11, config=config)))
    options = generate_option_day(market, seed=11)
    rows = copy.deepcopy(snapshot_results(options, market, 0))
    for r in rows[::3]:  # a third of the contracts without IV and greeks, as real snapshots sometimes are
        del r["implied_volatility"], r["greeks"]
    chain = chain_from_snapshot(rows, underlying="I:SPX", ts_ns=options.snapshot.ts_ns)
    filled, _ = complete(chain, rate=RATE)
    return filled


def assert_same_chain(got: Chain, want: Chain) -> None:
    assert got.ticker.tolist() == want.ticker.tolist() and got.root.tolist() == want.root.tolist()
    np.testing.assert_array_equal(got.expiry, want.expiry)
    np.testing.assert_array_equal(got.is_call, want.is_call)
    for name in (
        "strike",
        "bid",
        "ask",
        "last",
        "iv",
        "delta",
        "gamma",
        "theta",
        "vega",
        "open_interest",
        "volume",
        "underlying_price",
    ):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)  # nan == NULL both ways


def test_a_chain_and_its_gamma_levels_round_trip_through_the_database(db: psycopg.Connection[Any]) -> None:
    chain = synthetic_chain()
    writer = BulkWriter(db)
    assert write_chain(writer, chain, source="synthetic").rows_written == len(chain)
    assert_same_chain(read_chain(db, "I:SPX", chain.ts_ns), chain)

    inputs = gamma_chain(chain, terms(chain, rate=RATE))
    levels = [gamma_levels(inputs, v) for v in Variant]
    write_gamma_levels(writer, "I:SPX", chain.ts_ns, levels)
    stored = read_gamma_levels(db, "I:SPX", chain.ts_ns)
    assert sorted(stored) == sorted(v.value for v in Variant)
    for lv in levels:
        row = stored[lv.variant.value]
        assert row["ts_ns"] == chain.ts_ns and row["spot"] == lv.spot and row["net_gex"] == lv.net_gex
        for name in ("zero_gamma", "call_wall", "put_wall"):
            want = getattr(lv, name)
            assert (math.isnan(row[name]) and math.isnan(want)) or row[name] == want
        profile = row["profile"] if isinstance(row["profile"], dict) else json.loads(row["profile"])
        assert profile["strikes"] == lv.strikes.tolist() and profile["call"] == lv.call_gex.tolist()
        assert profile["put"] == lv.put_gex.tolist() and profile["zero_gamma_reason"] == lv.zero_gamma_reason


def test_writing_the_same_snapshot_twice_changes_nothing(db: psycopg.Connection[Any]) -> None:
    chain = synthetic_chain()
    writer = BulkWriter(db)
    write_chain(writer, chain, source="synthetic")
    again = write_chain(writer, chain, source="synthetic")
    assert again.path == "upsert" and again.rows_written == 0
    count = db.execute("SELECT count(*) FROM option_snapshots").fetchone()
    assert count is not None and count[0] == len(chain)
