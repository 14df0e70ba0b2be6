from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalper.adapters.store.tables import AGG_1S, TRADES
from scalper.adapters.store.writer import BulkWriter
from scalper.core.errors import DataError, StoreError

T0 = 1_735_828_200 * 1_000_000_000


def seconds(symbols: list[str], n: int, start: int = T0, price: float = 100.0) -> dict[str, Any]:
    sym = np.array([symbols[i % len(symbols)] for i in range(n)], dtype=object)
    ts = start + np.arange(n, dtype=np.int64) // len(symbols) * 1_000_000_000
    close = price + np.arange(n) * 0.01
    return {
        "symbol": sym,
        "ts": ts,
        "open": close.copy(),
        "high": close + 0.5,
        "low": close - 0.5,
        "close": close,
        "volume": np.where(np.char.startswith(sym.astype(str), "I:"), np.nan, 100.0),
        "vwap": np.where(np.char.startswith(sym.astype(str), "I:"), np.nan, close),
        "trades": np.full(n, 3, dtype=np.int32),
        "source": np.full(n, "test", dtype=object),
    }


def stored(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT symbol, (extract(epoch FROM ts) * 1e9)::int8, open, high, low, close, volume, vwap, trades, source "
        "FROM agg_1s ORDER BY symbol, ts"
    ).fetchall()


def expected(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(len(data["ts"])):
        vol = data["volume"][i]
        rows.append(
            (
                data["symbol"][i],
                int(data["ts"][i]),
                *(float(data[c][i]) for c in ("open", "high", "low", "close")),
                None if np.isnan(vol) else float(vol),
                None if np.isnan(data["vwap"][i]) else float(data["vwap"][i]),
                int(data["trades"][i]),
                data["source"][i],
            )
        )
    return sorted(rows, key=lambda r: (r[0], r[1]))


def test_a_fresh_batch_is_stored_exactly(db: psycopg.Connection[Any]) -> None:
    data = seconds(["I:SPX", "SPY"], 1000)
    result = BulkWriter(db).write(AGG_1S, data)
    assert result.path == "append" and result.rows_written == 1000
    assert stored(db) == expected(data)


def test_writing_the_same_batch_twice_leaves_the_same_rows(db: psycopg.Connection[Any]) -> None:
    data = seconds(["I:SPX", "I:NDX", "SPY", "QQQ"], 2000)
    writer = BulkWriter(db)
    writer.write(AGG_1S, data)
    first = stored(db)
    again = writer.write(AGG_1S, data)
    assert again.path == "upsert"
    assert again.rows_written == 0  # nothing changed, nothing rewritten
    assert stored(db) == first == expected(data)


def test_a_corrected_bar_replaces_the_first_print(db: psycopg.Connection[Any]) -> None:
    data = seconds(["SPY"], 10)
    writer = BulkWriter(db)
    writer.write(AGG_1S, data)
    corrected = {k: v[3:5].copy() for k, v in data.items()}
    corrected["close"] = corrected["close"] + 0.25
    corrected["high"] = corrected["high"] + 0.25
    result = writer.write(AGG_1S, corrected)
    assert result.rows_written == 2
    data["close"][3:5] += 0.25
    data["high"][3:5] += 0.25
    assert stored(db) == expected(data)


def test_duplicates_inside_one_batch_keep_the_last(db: psycopg.Connection[Any]) -> None:
    data = seconds(["SPY"], 3)
    doubled = {k: np.concatenate([v, v[:1]]) for k, v in data.items()}
    doubled["close"][-1] = doubled["close"][0] + 0.1
    BulkWriter(db).write(AGG_1S, doubled)
    data["close"][0] += 0.1
    assert stored(db) == expected(data)


def test_a_batch_overlapping_stored_rows_upserts_and_appends(db: psycopg.Connection[Any]) -> None:
    writer = BulkWriter(db)
    writer.write(AGG_1S, seconds(["SPY"], 100))
    overlapping = seconds(["SPY"], 100, start=T0 + 50 * 1_000_000_000, price=200.0)
    result = writer.write(AGG_1S, overlapping)
    assert result.path == "upsert"
    assert len(stored(db)) == 150
    row = db.execute("SELECT close FROM agg_1s WHERE ts = to_timestamp(%s)", (T0 // 10**9 + 60,)).fetchone()
    assert row == (200.0 + 10 * 0.01,)


def test_a_bad_batch_writes_nothing_and_says_why(db: psycopg.Connection[Any]) -> None:
    writer = BulkWriter(db)
    data = seconds(["SPY"], 5)
    data["low"][4] = data["high"][4] + 1  # violates CHECK (low <= high)
    with pytest.raises(StoreError, match="agg_1s"):
        writer.write(AGG_1S, data)
    assert stored(db) == []
    bad = seconds(["SPY"], 5)
    bad["symbol"][2] = None
    with pytest.raises(DataError, match="symbol: expected no NULLs"):
        writer.write(AGG_1S, bad)
    with pytest.raises(DataError, match="unknown columns"):
        writer.write(AGG_1S, {**seconds(["SPY"], 1), "colour": np.array(["red"])})
    assert stored(db) == []


def test_an_empty_batch_is_a_no_op(db: psycopg.Connection[Any]) -> None:
    data = {k: v[:0] for k, v in seconds(["SPY"], 1).items()}
    assert BulkWriter(db).write(AGG_1S, data).rows_written == 0


def test_text_and_nullable_columns_survive_the_binary_encoding(db: psycopg.Connection[Any]) -> None:
    data = {
        "symbol": np.array(["SPY", "SPY", "QQQ"], dtype=object),
        "ts": np.array([T0, T0, T0 + 5]),
        "sequence": np.array([1, 2, 7]),
        "price": np.array([1.5, 1.25, 2.0]),
        "size": np.array([100.0, 5, 1]),
        "exchange": np.array([4, 11, 12], dtype=np.int16),
        "trade_id": np.array(["a1", None, "ünï"], dtype=object),
        "conditions": np.array(["12,37", None, ""], dtype=object),
        "tape": np.array([1, 1, 3], dtype=np.int16),
    }
    BulkWriter(db).write(TRADES, data)
    rows = db.execute(
        "SELECT symbol, sequence, trade_id, conditions, exchange FROM trades ORDER BY sequence"
    ).fetchall()
    assert rows == [("SPY", 1, "a1", "12,37", 4), ("SPY", 2, None, None, 11), ("QQQ", 7, "ünï", "", 12)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.sampled_from(["SPY", "I:SPX", "QQQ"]), st.integers(0, 40), st.integers(1, 1000)),
            min_size=1,
            max_size=30,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_sequence_of_batches_ends_as_last_write_wins(db: psycopg.Connection[Any], batches: list[Any]) -> None:
    db.execute("TRUNCATE agg_1s")
    writer = BulkWriter(db)
    model: dict[tuple[str, int], float] = {}
    for batch in batches:
        data = {
            "symbol": np.array([b[0] for b in batch], dtype=object),
            "ts": np.array([T0 + b[1] * 10**9 for b in batch], dtype=np.int64),
            "close": np.array([float(b[2]) for b in batch]),
        }
        full = {
            **data,
            "open": data["close"],
            "high": data["close"],
            "low": data["close"],
            "volume": np.full(len(batch), np.nan),
            "vwap": np.full(len(batch), np.nan),
            "trades": np.zeros(len(batch), dtype=np.int32),
            "source": np.full(len(batch), "h", dtype=object),
        }
        writer.write(AGG_1S, full)
        for b in batch:
            model[(b[0], T0 + b[1] * 10**9)] = float(b[2])
    rows = db.execute("SELECT symbol, (extract(epoch FROM ts) * 1e9)::int8, close FROM agg_1s").fetchall()
    assert {(r[0], r[1]): r[2] for r in rows} == model
    assert len(rows) == len(model)
