"""The backtest report: one self-contained HTML file, the trades as CSV, the statistics as JSON."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from scalper.backtest.report import CSV_COLUMNS, NO_TRADE, ReportData, build_figures, json_ready, write_report
from scalper.backtest.trades import RoundTrip
from scalper.core.errors import DataError
from scalper.core.orders import Leg

NS = 1_000_000_000
# 2025-09-15 (a Monday) 10:00 New York
DAY0 = int(dt.datetime(2025, 9, 15, 14, 0, tzinfo=dt.UTC).timestamp()) * NS
# (day offset, minute of the session, play, direction, pnl)
SPEC = [
    (0, 0, "ORB", 1, 40.0),
    (0, 20, "VWAP", -1, -25.5),
    (0, 50, "ORB", -1, 12.25),
    (1, 5, "VWAP", 1, -60.0),
    (1, 30, "ORB", 1, -15.0),
    (1, 45, "VWAP", 1, 33.0),
    (2, 10, "ORB", 1, 0.0),
    (2, 40, "VWAP", -1, 80.0),
    (3, 15, "ORB", -1, -5.75),
    (3, 25, "VWAP", 1, 21.0),
]
SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)
SCRIPT_BODY = re.compile(r"<script\b[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)


def trip(day: int, minute: int, play: str, direction: int, pnl: float, shares: float = 100.0) -> RoundTrip:
    ts = DAY0 + day * 86_400 * NS + minute * 60 * NS
    return RoundTrip(
        signal_id=f"{play}-{ts}",
        play=play,
        symbol="SPY",
        direction=direction,
        shares=shares,
        entry_ts=ts,
        exit_ts=ts + (90 + 7 * minute) * NS,  # exits out of entry order within a day
        entry_price=500.0 + day,
        exit_price=500.0 + day + direction * (pnl + 1.0) / shares,
        pnl=pnl,
        costs=1.0,
        slippage=None if minute == 0 else 0.01 * direction,
        exit_leg=Leg.TARGET if pnl > 0 else Leg.STOP,
    )


def trips() -> list[RoundTrip]:
    return [trip(*s) for s in SPEC]


def day(offset: int) -> dt.date:
    return dt.date(2025, 9, 15) + dt.timedelta(days=offset)


def prices(offset: int) -> tuple[np.ndarray, np.ndarray]:
    open_ns = int(dt.datetime.combine(day(offset), dt.time(13, 30), tzinfo=dt.UTC).timestamp()) * NS
    ts = open_ns + np.arange(0, 6.5 * 3600, 5, dtype=np.int64) * NS
    return ts, 500.0 + offset + np.sin(np.arange(len(ts)) / 300.0)


def data(trip_list: list[RoundTrip] | None = None) -> ReportData:
    return ReportData(
        run_id="bt-test",
        trips=trips() if trip_list is None else trip_list,
        prices={day(1): prices(1), day(3): prices(3)},
        regimes={day(0): "trend_up", day(1): "balanced", day(2): "trend_down", day(3): "trend_up", day(9): "balanced"},
        equity_start=100_000.0,
        title="Backtest <test>",
    )


def brute_drawdown(curve: list[float]) -> float:
    return min(curve[j] - curve[i] for j in range(len(curve)) for i in range(j + 1))


def test_the_html_embeds_plotly_once_inline_and_every_chart(tmp_path: Path) -> None:
    paths = write_report(data(), tmp_path / "out")
    assert paths.html == tmp_path / "out" / "report.html"
    page = paths.html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert SCRIPT_SRC.search(page) is None  # nothing fetched: no CDN, no file next to it
    assert not re.search(r"""src\s*=\s*["']?https?:""", page, re.IGNORECASE)
    bodies = SCRIPT_BODY.findall(page)
    bundles = [b for b in bodies if "plotly.js v" in b[:500]]
    assert len(bundles) == 1, f"expected plotly.js embedded once, was {len(bundles)} times"
    assert len(bundles[0]) > 1_000_000
    assert page.count("* plotly.js v") == 1
    # the bundle comes before the first chart's script
    assert page.index("* plotly.js v") < page.index("Plotly.newPlot(")
    ids = ["chart-equity", "chart-pnl-hist", "chart-stats", "chart-day-2025-09-16", "chart-day-2025-09-18"]
    for dom_id in ids:
        assert page.count(f'id="{dom_id}"') == 1, dom_id
    assert page.count('class="plotly-graph-div"') == len(ids)
    assert "Backtest &lt;test&gt;" in page and "Backtest <test>" not in page  # the title is escaped
    assert NO_TRADE not in page


def test_the_csv_has_one_row_per_trip_with_every_field(tmp_path: Path) -> None:
    trip_list = trips()
    paths = write_report(data(trip_list), tmp_path)
    with paths.trades_csv.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == len(trip_list)
    for row, t in zip(rows, trip_list, strict=True):
        assert row["signal_id"] == t.signal_id and row["play"] == t.play and row["symbol"] == "SPY"
        assert int(row["direction"]) == t.direction and float(row["shares"]) == t.shares
        entry = dt.datetime.fromisoformat(row["entry_time"])
        assert entry.utcoffset() == dt.timedelta(0)
        assert int(entry.timestamp()) * NS == t.entry_ts
        assert int(dt.datetime.fromisoformat(row["exit_time"]).timestamp()) * NS == t.exit_ts
        assert float(row["entry_price"]) == t.entry_price and float(row["exit_price"]) == t.exit_price
        assert float(row["pnl"]) == t.pnl and float(row["costs"]) == t.costs
        assert (row["slippage"] == "") if t.slippage is None else (float(row["slippage"]) == t.slippage)
        assert row["exit_leg"] == t.exit_leg.value and row["day"] == t.day.isoformat()
        assert float(row["holding_s"]) == t.holding_s
    assert rows[0]["entry_time"] == "2025-09-15T14:00:00+00:00"


def test_the_summary_matches_independent_computations(tmp_path: Path) -> None:
    trip_list = trips()
    paths = write_report(data(trip_list), tmp_path)
    summary = json.loads(paths.summary_json.read_text(encoding="utf-8"))
    assert summary["run_id"] == "bt-test" and summary["equity_start"] == 100_000.0

    def check(stats: dict[str, object], subset: list[RoundTrip], start: float) -> None:
        pnl = [t.pnl for t in subset]
        assert stats["trades"] == len(subset)
        assert stats["total_pnl"] == pytest.approx(math.fsum(pnl))
        assert stats["win_rate"] == pytest.approx(sum(p > 0 for p in pnl) / len(pnl))
        assert stats["expectancy"] == pytest.approx(math.fsum(pnl) / len(pnl))
        curve, equity = [start], start
        for t in sorted(subset, key=lambda t: t.exit_ts):
            equity += t.pnl
            curve.append(equity)
        assert stats["max_drawdown"] == pytest.approx(brute_drawdown(curve))
        shares = sum(t.shares for t in subset)
        assert stats["break_even_cents"] == pytest.approx(100 * math.fsum(pnl) / (2 * shares))
        ci = stats["expectancy_ci"]
        assert isinstance(ci, dict) and ci["low"] <= stats["expectancy"] <= ci["high"]

    check(summary["total"], trip_list, 100_000.0)
    assert summary["equity_end"] == pytest.approx(100_000.0 + sum(t.pnl for t in trip_list))
    assert set(summary["plays"]) == {"ORB", "VWAP"}
    for play, stats in summary["plays"].items():
        check(stats, [t for t in trip_list if t.play == play], 0.0)
    # the 0.0 trade is not a win
    assert summary["plays"]["ORB"]["wins"] == 2
    # regimes by entry day: trend_up on days 0 and 3
    assert summary["regimes"]["trend_up"]["trades"] == 5
    assert summary["regimes"]["trend_up"]["total_pnl"] == pytest.approx(40.0 - 25.5 + 12.25 - 5.75 + 21.0)
    assert [d["day"] for d in summary["days"]] == [day(i).isoformat() for i in range(4)]
    assert [d["regime"] for d in summary["days"]] == ["trend_up", "balanced", "trend_down", "trend_up"]


def test_the_day_chart_marks_each_trip_on_the_line() -> None:
    figures = build_figures(data())
    fig = figures["chart-day-2025-09-16"]
    line, entries, exits = fig.data
    assert len(line.x) == len(prices(1)[0])
    day_trips = [t for t in trips() if t.day == day(1)]
    assert len(entries.x) == len(exits.x) == len(day_trips) == 3
    assert list(entries.marker.symbol) == ["triangle-up"] * 3  # all long
    assert list(exits.marker.symbol) == ["triangle-up-open"] * 3
    assert list(entries.marker.color) == ["#d62728", "#d62728", "#2ca02c"]  # loss, loss, win
    assert "VWAP long 100 SPY" in entries.text[0] and "pnl -60.00" in entries.text[0]
    # markers on the line: the close at the entry time (prices every 5 s from 09:30)
    ts, close = prices(1)
    first = day_trips[0].entry_ts
    assert entries.y[0] == pytest.approx(float(close[np.searchsorted(ts, first)]))
    assert "balanced" in fig.layout.title.text
    # days without prices get no chart; regime days outside the trades get no band
    assert set(figures) == {
        "chart-equity",
        "chart-pnl-hist",
        "chart-stats",
        "chart-day-2025-09-16",
        "chart-day-2025-09-18",
    }
    assert len(figures["chart-equity"].layout.shapes) == 4
    assert [tr.name for tr in figures["chart-pnl-hist"].data] == ["ORB (5)", "VWAP (5)"]


def test_mismatched_prices_are_refused() -> None:
    ts, close = prices(1)
    bad = ReportData(
        run_id="r", trips=trips(), prices={day(1): (ts, close[:-1])}, regimes={}, equity_start=0.0, title="t"
    )
    with pytest.raises(DataError, match="expected as many closes as times"):
        build_figures(bad)


def test_a_run_without_a_closed_trade_still_makes_a_report(tmp_path: Path) -> None:
    paths = write_report(data([]), tmp_path)
    page = paths.html.read_text(encoding="utf-8")
    assert NO_TRADE in page and page.rstrip().endswith("</html>")
    assert SCRIPT_SRC.search(page) is None
    assert 'id="chart-equity"' not in page
    assert page.count("* plotly.js v") == 1  # the price charts still need it
    assert page.count('class="plotly-graph-div"') == 2
    with paths.trades_csv.open(newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [list(CSV_COLUMNS)]
    summary = json.loads(paths.summary_json.read_text(encoding="utf-8"))
    assert summary["total"]["trades"] == 0 and summary["total"]["win_rate"] is None
    assert summary["total"]["expectancy_ci"] is None and summary["plays"] == {}
    assert summary["equity_end"] == 100_000.0

    bare = ReportData(run_id="r", trips=[], prices={}, regimes={}, equity_start=0.0, title="nothing")
    page = write_report(bare, tmp_path / "bare").html.read_text(encoding="utf-8")
    assert NO_TRADE in page and "plotly" not in page.lower().replace("plotly-graph-div", "")


def test_json_has_no_nan(tmp_path: Path) -> None:
    assert json_ready({"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": "x"}) == {
        "a": None,
        "b": [1.0, None, {"c": None}],
        "d": "x",
    }
    # a single day: the daily PSR is undefined and written as null, strictly valid JSON
    one_day = [trip(0, 0, "ORB", 1, 10.0), trip(0, 30, "ORB", 1, -4.0)]
    text = write_report(data(one_day), tmp_path).summary_json.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    summary = json.loads(text)
    assert summary["total"]["psr_daily"] is None
    assert summary["total"]["expectancy_ci"]["days"] == 1


def test_a_chart_symbol_marks_only_its_own_trades() -> None:
    from dataclasses import replace

    mixed = [replace(t, symbol="QQQ") if i % 2 else t for i, t in enumerate(trips())]
    fig = build_figures(replace(data(mixed), chart_symbol="SPY"))["chart-day-2025-09-16"]
    _, entries, _ = fig.data
    spy_that_day = [t for t in mixed if t.day == day(1) and t.symbol == "SPY"]
    assert 0 < len(entries.x) == len(spy_that_day) < len([t for t in mixed if t.day == day(1)])
    assert fig.layout.title.text.startswith("SPY 2025-09-16")
