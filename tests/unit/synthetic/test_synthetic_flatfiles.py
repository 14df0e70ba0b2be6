"""Flat files: exact headers, readable by pyarrow.csv and gzip+csv, consistent with the feed."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from scalper.marketdata.aggregate import trades_to_seconds, values_to_seconds
from scalper.marketdata.conditions import conditions_from_strings
from scalper.synthetic.market import MarketConfig
from scalper.synthetic.writer import write_synthetic

DAY = dt.date(2025, 11, 28)  # an early close (13:00 ET)
HEADERS = {  # as POLYGON.md documents them
    "us_indices/values_v1": "ticker,value,timestamp",
    "us_indices/minute_aggs_v1": "ticker,open,close,high,low,window_start",
    "us_indices/day_aggs_v1": "ticker,open,close,high,low,window_start",
    "us_stocks_sip/trades_v1": "ticker,conditions,correction,exchange,id,participant_timestamp,price,"
    "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp",
    "us_stocks_sip/quotes_v1": "ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
    "conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,tape,trf_timestamp",
    "us_stocks_sip/minute_aggs_v1": "ticker,volume,open,close,high,low,window_start,transactions",
    "us_stocks_sip/day_aggs_v1": "ticker,volume,open,close,high,low,window_start,transactions",
    "us_options_opra/minute_aggs_v1": "ticker,volume,open,close,high,low,window_start,transactions",
    "us_options_opra/day_aggs_v1": "ticker,volume,open,close,high,low,window_start,transactions",
}
TIME_COLUMN = {"values_v1": "timestamp", "trades_v1": "sip_timestamp", "quotes_v1": "sip_timestamp"}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    summary = write_synthetic(root, start=DAY, sessions=1, seed=3, what={"flatfiles", "events"})
    assert summary.sessions == (DAY,)
    return root


def _path(root: Path, dataset: str) -> Path:
    return root / "flatfiles" / dataset / "2025" / "11" / "2025-11-28.csv.gz"


def _read(root: Path, dataset: str) -> pa.Table:
    strings = {"conditions": pa.string(), "indicators": pa.string(), "ticker": pa.string()}
    return pcsv.read_csv(_path(root, dataset), convert_options=pcsv.ConvertOptions(column_types=strings))


@pytest.mark.parametrize("dataset", sorted(HEADERS))
def test_each_dataset_has_the_documented_header_and_parses_both_ways(out: Path, dataset: str) -> None:
    table = _read(out, dataset)
    assert table.column_names == HEADERS[dataset].split(",")
    assert table.num_rows > 0
    with gzip.open(_path(out, dataset), "rt", newline="") as handle:
        assert handle.readline().rstrip("\n") == HEADERS[dataset]
        handle.seek(0)
        rows = list(csv.reader(handle))
    assert len(rows) == table.num_rows + 1
    assert all(len(row) == len(rows[0]) for row in rows)


@pytest.mark.parametrize("dataset", sorted(HEADERS))
def test_rows_are_sorted_by_ticker_then_time(out: Path, dataset: str) -> None:
    table = _read(out, dataset)
    tickers = np.array(table.column("ticker").to_pylist())
    stamps = table.column(TIME_COLUMN.get(dataset.split("/")[1], "window_start")).to_numpy()
    order = np.lexsort((stamps, tickers))
    assert np.array_equal(order, np.arange(len(order)))


def test_trade_conditions_are_quoted_lists_or_empty(out: Path) -> None:
    with gzip.open(_path(out, "us_stocks_sip/trades_v1"), "rt") as handle:
        text = handle.read()
    assert ',"14,37",' in text or ',"37,41",' in text or ',"14,41",' in text
    cells = _read(out, "us_stocks_sip/trades_v1").column("conditions").to_pylist()
    assert None in cells or "" in cells  # regular trades carry no conditions
    assert "37" in cells and "15" in cells


@lru_cache(maxsize=2)
def _events(root: Path, market: str) -> tuple[dict[str, Any], ...]:
    lines = (root / "events" / market / "2025-11-28.jsonl").read_text().splitlines()
    return tuple(event for line in lines for event in json.loads(line))


def test_second_aggs_rebuilt_from_flat_file_trades_equal_the_websocket_a_events(out: Path) -> None:
    trades = _read(out, "us_stocks_sip/trades_v1")
    names, codes = np.unique(np.array(trades.column("ticker").to_pylist()), return_inverse=True)
    bars = trades_to_seconds(
        codes,
        trades.column("sip_timestamp").to_numpy(),
        trades.column("price").to_numpy(),
        trades.column("size").to_numpy(),
        conditions_from_strings(trades.column("conditions")),
    )
    rebuilt = {
        (str(names[s]), t // 1_000_000): (o, h, lo, c, int(v), round(vw, 4))
        for s, t, o, h, lo, c, v, vw in zip(
            bars.symbol,
            bars.start_ns,
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            bars.volume,
            bars.vwap,
            strict=True,
        )
    }
    sent = {
        (e["sym"], e["s"]): (e["o"], e["h"], e["l"], e["c"], e["v"], e["vw"])
        for e in _events(out, "stocks")
        if e["ev"] == "A"
    }
    assert len(sent) == len(rebuilt) > 20_000
    assert sent == rebuilt


def test_index_second_aggs_rebuilt_from_values_equal_the_websocket_a_events(out: Path) -> None:
    values = _read(out, "us_indices/values_v1")
    names, codes = np.unique(np.array(values.column("ticker").to_pylist()), return_inverse=True)
    bars = values_to_seconds(codes, values.column("timestamp").to_numpy(), values.column("value").to_numpy())
    rebuilt = {
        (str(names[s]), t // 1_000_000): (o, h, lo, c)
        for s, t, o, h, lo, c in zip(
            bars.symbol, bars.start_ns, bars.open, bars.high, bars.low, bars.close, strict=True
        )
    }
    sent = {(e["sym"], e["s"]): (e["o"], e["h"], e["l"], e["c"]) for e in _events(out, "indices") if e["ev"] == "A"}
    assert sent == rebuilt


def test_minute_flat_file_equals_the_am_events(out: Path) -> None:
    minutes = _read(out, "us_stocks_sip/minute_aggs_v1").to_pylist()
    from_file = {(r["ticker"], r["window_start"] // 1_000_000): (r["open"], r["close"], r["volume"]) for r in minutes}
    sent = {(e["sym"], e["s"]): (e["o"], e["c"], e["v"]) for e in _events(out, "stocks") if e["ev"] == "AM"}
    assert sent == from_file and len(sent) == 2 * 210  # 3.5 hours of minutes, two tickers


def test_writing_twice_gives_byte_identical_files(tmp_path: Path) -> None:
    config = MarketConfig(trades_per_second=1.0, quotes_per_second=1.0)
    first = write_synthetic(
        tmp_path / "a",
        start=dt.date(2025, 3, 3),
        sessions=2,
        seed=1,
        what={"flatfiles", "events", "snapshots"},
        market_config=config,
    )
    second = write_synthetic(
        tmp_path / "b",
        start=dt.date(2025, 3, 3),
        sessions=2,
        seed=1,
        what={"flatfiles", "events", "snapshots"},
        market_config=config,
    )
    assert first.counts == second.counts and len(first.files) == len(second.files) > 20
    for path in first.files:
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert path.read_bytes() == twin.read_bytes(), path


def test_unknown_parts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="what"):
        write_synthetic(tmp_path, start=DAY, sessions=1, seed=1, what={"parquet"})


def test_gzip_members_are_reproducible_without_timestamps(out: Path) -> None:
    raw = _path(out, "us_indices/day_aggs_v1").read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME field is zero
    assert io.BytesIO(gzip.decompress(raw)).read().startswith(HEADERS["us_indices/day_aggs_v1"].encode())
