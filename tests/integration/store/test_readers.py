from typing import Any

import numpy as np
import psycopg

from scalper.adapters.store.readers import read_seconds, read_seconds_merged
from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter

T0 = 1_735_828_200 * 1_000_000_000


def test_reader_returns_what_was_written_in_time_order(db: psycopg.Connection[Any]) -> None:
    rng = np.random.default_rng(3)
    n = 500
    ts = T0 + rng.permutation(n).astype(np.int64) * 1_000_000_000 + 123_000  # unordered, sub-second
    close = rng.uniform(100, 200, n)
    writer = BulkWriter(db)
    for symbol, vol in (("SPY", rng.uniform(1, 9, n)), ("I:SPX", np.full(n, np.nan))):
        writer.write(
            AGG_1S,
            {
                "symbol": np.full(n, symbol, dtype=object),
                "ts": ts,
                "open": close,
                "high": close + 1,
                "low": close - 1,
                "close": close,
                "volume": vol,
                "vwap": vol,
                "trades": np.ones(n, dtype=np.int32),
                "source": np.full(n, "t", dtype=object),
            },
        )
    cols = read_seconds(db, "SPY", T0, T0 + 1000 * 1_000_000_000)
    order = np.argsort(ts)
    assert np.array_equal(cols["ts_ns"], ts[order])
    assert np.array_equal(cols["close"], close[order])
    idx = read_seconds(db, "I:SPX", T0 + 10 * 1_000_000_000, T0 + 20 * 1_000_000_000)
    assert len(idx["ts_ns"]) == 10 and np.isnan(idx["volume"]).all()
    merged = read_seconds_merged(db, ["I:SPX", "SPY"], T0, T0 + 3 * 1_000_000_000)
    assert merged["symbol_id"].tolist() == [0, 1, 0, 1, 0, 1]
    assert np.all(np.diff(merged["ts_ns"]) >= 0)
