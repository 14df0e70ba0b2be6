"""The backtest on a real database: exported Parquet replays exactly like the database; the run is stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from scalper.adapters.parquet_seconds import ParquetSeconds, day_bounds, export_seconds
from scalper.adapters.store.readers import read_seconds_merged
from scalper.adapters.store.synthetic_history import store_synthetic_sessions
from scalper.apps.backtest import run_backtest, sessions_between
from scalper.backtest.trades import round_trips
from scalper.config import load_config
from scalper.core.errors import DataError
from scalper.strategy.thresholds import load_thresholds

pytestmark = pytest.mark.integration

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
FIRST, LAST = dt.date(2025, 9, 8), dt.date(2025, 9, 16)  # six sessions of history, then the traded one


@pytest.fixture
def history(db: psycopg.Connection[Any]) -> list[dt.date]:
    return store_synthetic_sessions(db, FIRST, 7, 7)


def test_exported_seconds_read_back_as_the_database_gives_them(
    db: psycopg.Connection[Any], history: list[dt.date], tmp_path: Path
) -> None:
    written = export_seconds(db, SYMBOLS, history, tmp_path)
    assert [w.day for w in written] == history and all(w.path.exists() for w in written)
    source = ParquetSeconds(tmp_path)
    assert source.days() == history
    start, _ = day_bounds(history[-2])
    _, end = day_bounds(history[-1])
    for symbols in (SYMBOLS, ("QQQ", "I:SPX")):
        a, b = source.read(symbols, start, end), read_seconds_merged(db, symbols, start, end)
        assert set(a) == set(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    (tmp_path / "agg_1s" / f"{history[0]}.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="unreadable"):
        source.read(SYMBOLS, *day_bounds(history[0]))


def test_a_backtest_from_parquet_trades_as_the_one_from_the_database(
    db: psycopg.Connection[Any], db_url: str, history: list[dt.date], tmp_path: Path
) -> None:
    export_seconds(db, SYMBOLS, history, tmp_path)
    config, thresholds = load_config(None, {}), load_thresholds()
    day = history[-1]
    assert sessions_between(day, day) == [day] == [LAST]
    from_db = run_backtest(db_url, config, thresholds, first=day, last=day, run_id="from-db")
    from_files = run_backtest(db_url, config, thresholds, first=day, last=day, run_id="from-parquet", parquet=tmp_path)
    assert from_db.events == from_files.events > 0 and from_db.warmed_up == from_files.warmed_up > 0

    def decisions(report: Any) -> list[tuple[Any, ...]]:
        return [(r.play, r.ts, r.kind, r.accepted, r.shares, r.direction) for r in report.trader.signals]

    assert decisions(from_db) == decisions(from_files)
    assert any(r.kind == "enter" and r.accepted for r in from_db.trader.signals)
    assert [(t.play, t.entry_ts, t.exit_ts, t.pnl) for t in from_db.trips] == [
        (t.play, t.entry_ts, t.exit_ts, t.pnl) for t in from_files.trips
    ]
    # the run is stored: its orders and fills rebuild the same round trips
    from scalper.adapters.store.orders import load_book

    book = load_book(db, "from-db")
    stored, _ = round_trips(book.orders(), book.fills())
    assert len(stored) == len(from_db.trips)
    assert sum(t.pnl for t in stored) == pytest.approx(sum(t.pnl for t in from_db.trips), abs=1e-6)
    (kind,) = db.execute("SELECT kind FROM runs WHERE run_id = 'from-db'").fetchone() or ("",)
    assert kind == "backtest"
