import shutil
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from scalper.adapters.spool import Spool
from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter

T0 = 1_735_828_200 * 1_000_000_000
S = 1_000_000_000
MB = 1 << 20


def agg_1s(start_s: int, n: int) -> dict[str, np.ndarray]:
    """``n`` seconds of SPX (index: no volume/vwap) and SPY bars starting ``start_s`` seconds after T0."""
    sym = np.array(["I:SPX", "SPY"] * n, dtype=object)
    ts = T0 + (start_s + np.repeat(np.arange(n, dtype=np.int64), 2)) * S
    close = 5000.0 + np.arange(2 * n) * 0.25
    is_index = sym == "I:SPX"
    return {
        "symbol": sym,
        "ts": ts,
        "open": close - 0.1,
        "high": close + 0.5,
        "low": close - 0.5,
        "close": close,
        "volume": np.where(is_index, np.nan, 1000.0 + np.arange(2 * n)),
        "vwap": np.where(is_index, np.nan, close + 0.01),
        "trades": np.where(is_index, 0, 7).astype(np.int32),
        "source": np.full(2 * n, "ws", dtype=object),
    }


def stored(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT symbol, (extract(epoch FROM ts) * 1e9)::int8, open, high, low, close, volume, vwap, trades, source "
        "FROM agg_1s ORDER BY symbol, ts"
    ).fetchall()


def expected(batches: list[dict[str, np.ndarray]]) -> list[tuple[Any, ...]]:
    def nullable(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    rows = [
        (
            b["symbol"][i],
            int(b["ts"][i]),
            *(float(b[c][i]) for c in ("open", "high", "low", "close")),
            nullable(b["volume"][i]),
            nullable(b["vwap"][i]),
            int(b["trades"][i]),
            b["source"][i],
        )
        for b in batches
        for i in range(len(b["ts"]))
    ]
    return sorted(rows, key=lambda r: (r[0], r[1]))


def spool_batches(directory: Path, batches: list[dict[str, np.ndarray]]) -> None:
    with Spool(directory, max_bytes=64 * MB, segment_bytes=4096) as spool:
        for b in batches:
            spool.append(AGG_1S.name, b)


def replay_into(directory: Path, conn: psycopg.Connection[Any]) -> int:
    writer = BulkWriter(conn)
    tables = {AGG_1S.name: AGG_1S}
    with Spool(directory, max_bytes=64 * MB) as spool:
        n = spool.replay(lambda table, batch: writer.write(tables[table], batch))
        assert spool.pending() == 0
    return n


def test_replayed_batches_are_stored_exactly(db: psycopg.Connection[Any], tmp_path: Path) -> None:
    batches = [agg_1s(60 * i, 50) for i in range(5)]
    spool_batches(tmp_path, batches)
    assert replay_into(tmp_path, db) == 5
    assert stored(db) == expected(batches)
    assert list(tmp_path.glob("*.seg")) == []


def test_replaying_the_same_spool_twice_leaves_the_same_rows(db: psycopg.Connection[Any], tmp_path: Path) -> None:
    batches = [agg_1s(0, 40), agg_1s(30, 40), agg_1s(100, 10)]  # the second overlaps the first: last wins
    spool_batches(tmp_path / "a", batches)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / "lock").unlink()
    replay_into(tmp_path / "a", db)
    once = stored(db)
    replay_into(tmp_path / "b", db)
    assert stored(db) == once
    want = {(r[0], r[1]): r for b in batches for r in expected([b])}  # a later batch overwrites an earlier
    assert once == sorted(want.values(), key=lambda r: (r[0], r[1]))
    assert len(once) == 2 * (70 + 10)


def test_a_database_outage_mid_replay_loses_nothing(db: psycopg.Connection[Any], tmp_path: Path) -> None:
    batches = [agg_1s(60 * i, 20) for i in range(4)]
    spool_batches(tmp_path, batches)
    writer = BulkWriter(db)
    calls = 0

    def flaky(table: str, batch: dict[str, np.ndarray]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise psycopg.OperationalError("connection lost")
        writer.write(AGG_1S, batch)

    with Spool(tmp_path, max_bytes=64 * MB) as spool:
        with pytest.raises(psycopg.OperationalError, match="connection lost"):
            spool.replay(flaky)
        assert spool.pending() == 2
        assert stored(db) == expected(batches[:2])
        assert spool.replay(flaky) == 2
    assert stored(db) == expected(batches)
