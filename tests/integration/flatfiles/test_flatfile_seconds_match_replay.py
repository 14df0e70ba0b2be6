"""Seconds aggregated from a trades flat file equal the seconds the replay server streams."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from flatfile_s3 import FIRST

from scalper.adapters.flatfiles import Backfill, FileCache, LoadOptions, LocalSource
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.polygon_events import render_frames


def streamed_seconds(day_index: int) -> dict[tuple[str, int], dict[str, Any]]:
    """The ``A`` events of SPY/QQQ that the replay server sends for the session, by (symbol, start ns)."""
    day = list(generate_market_days(FIRST, day_index + 1, seed=11))[day_index]
    out = {}
    for frame in render_frames("stocks", day):
        for event in json.loads(frame.data):
            if event["ev"] == "A":
                out[(event["sym"], event["s"] * 1_000_000)] = event
    return out


def test_seconds_from_the_trades_file_equal_the_streamed_seconds(
    db: psycopg.Connection[Any], synthetic_files: Path, tmp_path: Path
) -> None:
    day = dt.date(2025, 11, 26)
    backfill = Backfill(db, LocalSource(synthetic_files), FileCache(tmp_path), LoadOptions())
    assert backfill.load("us_stocks_sip/trades_v1", day).outcome == "loaded"
    rows = db.execute(
        "SELECT symbol, (extract(epoch FROM ts) * 1e9)::bigint, open, high, low, close, volume, vwap, trades "
        "FROM agg_1s ORDER BY symbol, ts"
    ).fetchall()
    streamed = streamed_seconds(1)

    assert {(r[0], r[1]) for r in rows} == set(streamed)
    for symbol, ts, o, h, low, c, v, vwap, _ in rows:
        event = streamed[(symbol, ts)]
        assert (o, h, low, c, v) == (event["o"], event["h"], event["l"], event["c"], event["v"]), (symbol, ts)
        assert np.isclose(vwap, event["vw"], rtol=0, atol=5.1e-5), (
            symbol,
            ts,
            vwap,
            event["vw"],
        )  # sent with 4 decimals
