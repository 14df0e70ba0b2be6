"""Minute bars rebuilt from stored seconds equal the bars the market produced; stored bars win."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import psycopg
import pytest

from scalper.adapters.store.minute_bars import fill_minute_bars
from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days

pytestmark = pytest.mark.integration
SYMBOLS = ["I:SPX", "SPY"]


def test_missing_minutes_are_rebuilt_from_seconds_and_stored_bars_are_kept(db: psycopg.Connection[Any]) -> None:
    day = next(generate_market_days(dt.date(2025, 7, 1), 1, seed=2))
    BulkWriter(db).write(AGG_1S, columns.seconds(day))
    first_minute = dt.datetime.fromtimestamp(day.window.open_ns / 1e9, dt.UTC)
    db.execute(
        "INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, source) "
        "VALUES ('SPY', '1m', %s, 1, 2, 1, 1.5, 'ws')",
        (first_minute,),
    )

    added = fill_minute_bars(db, SYMBOLS, day.window.open_ns, day.window.close_ns)

    minutes = (day.window.close_ns - day.window.open_ns) // 60_000_000_000
    assert added == 2 * minutes - 1  # every minute of both symbols but the one already stored
    assert fill_minute_bars(db, SYMBOLS, day.window.open_ns, day.window.close_ns) == 0  # idempotent
    kept = db.execute("SELECT close, source FROM bars WHERE symbol = 'SPY' AND ts = %s", (first_minute,)).fetchone()
    assert kept == (1.5, "ws")
    want = columns.bars(day)
    sec = columns.seconds(day)
    for symbol in SYMBOLS:
        rows = db.execute(
            "SELECT open, high, low, close, coalesce(volume, 'NaN'), coalesce(vwap, 'NaN') FROM bars "
            "WHERE symbol = %s AND source = 'agg_1s' ORDER BY ts",
            (symbol,),
        ).fetchall()
        got = np.array(rows, dtype=float)
        pick = (want["symbol"] == symbol) & (want["timeframe"] == "1m")
        ref = np.column_stack([want[k][pick].astype(float) for k in ("open", "high", "low", "close")])
        mine = sec["symbol"] == symbol
        minute = sec["ts"][mine] // 60_000_000_000
        _, first = np.unique(minute, return_index=True)
        volume = np.add.reduceat(np.nan_to_num(sec["volume"][mine]), first)
        pv = np.add.reduceat(np.nan_to_num(sec["vwap"][mine] * sec["volume"][mine]), first)
        if symbol == "SPY":  # the first minute was stored before
            ref, volume, pv = ref[1:], volume[1:], pv[1:]
        assert got.shape[0] == ref.shape[0] > 300
        np.testing.assert_array_equal(got[:, :4], ref)  # OHLC: the market's own minute bars
        if symbol == "SPY":  # volume: the sum of the stored seconds (late trades can make an AM bar differ)
            np.testing.assert_array_equal(got[:, 4], volume)
            np.testing.assert_allclose(got[:, 5], pv / volume, rtol=1e-12)
        else:
            assert np.isnan(got[:, 4:]).all()  # an index has neither
