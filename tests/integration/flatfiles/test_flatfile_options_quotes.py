"""Option aggregates (with 0DTE minute volume) and quotes through the backfill, from a local directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from flatfile_s3 import FIRST

from scalper.adapters.flatfiles import Backfill, FileCache, LoadOptions, LocalSource
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.options import ROOTS, generate_option_day


def test_option_minute_bars_and_0dte_volume_match_the_synthetic_chain(
    db: psycopg.Connection[Any], synthetic_files: Path, tmp_path: Path
) -> None:
    market = next(generate_market_days(FIRST, 1, seed=11))
    options = generate_option_day(market, 11)
    backfill = Backfill(db, LocalSource(synthetic_files), FileCache(tmp_path), LoadOptions())

    results = backfill.run(["us_options_opra/minute_aggs_v1", "us_options_opra/day_aggs_v1"], [FIRST])

    assert [r.outcome for r in results] == ["loaded", "loaded"]
    bars = options.minutes
    row = db.execute("SELECT count(*), sum(volume) FROM option_bars WHERE timeframe = '1m'").fetchone()
    assert row == (len(bars), int(bars.volume.sum()))
    assert db.execute("SELECT count(*) FROM option_bars WHERE timeframe = '1d'").fetchone() == (len(options.days),)
    zero_dte = options.chain.expiry[bars.symbol] == np.datetime64(FIRST, "D")
    calls = options.chain.is_call[bars.symbol]
    expected = {}
    for root_code in np.unique(options.chain.root[bars.symbol][zero_dte]):
        mine = zero_dte & (options.chain.root[bars.symbol] == root_code)
        expected[ROOTS[root_code]] = (int(bars.volume[mine & calls].sum()), int(bars.volume[mine & ~calls].sum()))
    got = db.execute(
        "SELECT root, sum(call_volume)::bigint, sum(put_volume)::bigint FROM option_volume_0dte GROUP BY root"
    ).fetchall()
    assert {r: (c, p) for r, c, p in got} == expected and expected
    sample = db.execute("SELECT ticker, root, expiry, contract_type, strike FROM option_bars LIMIT 1").fetchone()
    assert sample is not None
    i = options.chain.ticker.index(sample[0])
    assert (sample[1], sample[2], sample[3], sample[4]) == (
        ROOTS[options.chain.root[i]],
        options.chain.expiry[i].astype(dt.date),
        "call" if options.chain.is_call[i] else "put",
        options.chain.strike[i],
    )


def test_quotes_become_the_one_second_nbbo(db: psycopg.Connection[Any], synthetic_files: Path, tmp_path: Path) -> None:
    market = next(generate_market_days(FIRST, 1, seed=11))
    backfill = Backfill(db, LocalSource(synthetic_files), FileCache(tmp_path), LoadOptions())

    assert backfill.load("us_stocks_sip/quotes_v1", FIRST).outcome == "loaded"

    expected = columns.quotes_1s(market)
    rows = db.execute(
        "SELECT symbol, (extract(epoch FROM ts) * 1e9)::bigint, bid, ask, quotes FROM quotes_1s ORDER BY symbol, ts"
    ).fetchall()
    want = sorted(
        zip(
            expected["symbol"],
            expected["ts"].tolist(),
            expected["bid"],
            expected["ask"],
            expected["quotes"].tolist(),
            strict=True,
        )
    )
    assert rows == want
