"""The backtest report opened in headless Chromium: no script error, every chart drawn.

Needs the Debian package ``chromium``; without it the tests skip, or fail when
``SCALPER_REQUIRE_BROWSER=1`` (CI). The page is a ``file://`` URL: it must not fetch anything.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import open_page, require_chromium

from scalper.backtest.report import NO_TRADE, ReportData, build_figures, write_report
from scalper.backtest.trades import RoundTrip
from scalper.core.orders import Leg

pytestmark = pytest.mark.e2e

NS = 1_000_000_000
DAY = dt.date(2025, 9, 15)

# Wait until every plotly div is drawn (at most 20 s; not after a script error), then describe each one.
RENDERED = """(async () => {
  const divs = () => [...document.querySelectorAll('.plotly-graph-div')];
  const drawn = d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg') !== null;
  const deadline = Date.now() + 20000;
  const failed = () => (window.reportErrors || []).length > 0;
  while (!divs().every(drawn) && !failed() && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
  return {
    charts: Object.fromEntries(divs().map(d => [d.id, {
      drawn: drawn(d),
      traces: (d.data || []).length,
      svgTraces: d.querySelectorAll('g.trace').length,
      points: d.querySelectorAll('.point').length,
      tableCells: d.querySelectorAll('.table .cell-text').length,
    }])),
    reportErrors: window.reportErrors,
    errorBox: document.getElementById('report-errors').textContent,
    noTrade: document.getElementById('no-trade') !== null,
  };
})()"""


def session_ns(day: dt.date, hour: int, minute: int) -> int:
    """New York wall-clock time on ``day`` (September: UTC−4) in ns UTC."""
    return int(dt.datetime.combine(day, dt.time(hour + 4, minute), tzinfo=dt.UTC).timestamp()) * NS


def make_trips() -> list[RoundTrip]:
    out = []
    for d in range(3):
        day = DAY + dt.timedelta(days=d)
        for k, (play, direction, pnl) in enumerate([("ORB", 1, 35.0), ("VWAP", -1, -20.0), ("ORB", -1, 8.5)]):
            ts = session_ns(day, 10 + k, 5 * d)
            out.append(
                RoundTrip(
                    signal_id=f"{play}-{ts}",
                    play=play,
                    symbol="SPY",
                    direction=direction,
                    shares=100.0,
                    entry_ts=ts,
                    exit_ts=ts + 600 * NS,
                    entry_price=500.0,
                    exit_price=500.0 + direction * pnl / 100.0,
                    pnl=pnl * (1 + d),
                    costs=0.6,
                    slippage=0.01,
                    exit_leg=Leg.TARGET if pnl > 0 else Leg.STOP,
                )
            )
    return out


def day_prices(day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    ts = session_ns(day, 9, 30) + np.arange(0, 23_400, dtype=np.int64) * NS
    rng = np.random.default_rng(day.toordinal())
    return ts, 500.0 + np.cumsum(rng.normal(0.0, 0.02, len(ts)))


def report_data(trips: list[RoundTrip]) -> ReportData:
    days = [DAY + dt.timedelta(days=d) for d in range(3)]
    return ReportData(
        run_id="e2e",
        trips=trips,
        prices={days[0]: day_prices(days[0]), days[2]: day_prices(days[2])},
        regimes=dict(zip(days, ["trend_up", "balanced", "trend_down"], strict=True)),
        equity_start=50_000.0,
        title="Report in a browser",
    )


def render(path: Path, chromium: str) -> tuple[list[str], dict[str, Any]]:
    result = open_page(path.as_uri(), RENDERED, binary=chromium, timeout_s=60)
    assert isinstance(result.value, dict) or result.errors, "the page returned nothing"
    return result.errors, result.value or {}


def test_the_report_loads_without_errors_and_draws_every_chart(tmp_path: Path) -> None:
    chromium = require_chromium()  # in the test, not a fixture: without it the test fails, not errors
    data = report_data(make_trips())
    figures = build_figures(data)
    errors, page = render(write_report(data, tmp_path).html, chromium)
    assert errors == []
    assert page["reportErrors"] == [] and page["errorBox"] == "" and not page["noTrade"]
    charts = page["charts"]
    assert (
        list(charts)
        == list(figures)
        == [
            "chart-equity",
            "chart-pnl-hist",
            "chart-stats",
            "chart-day-2025-09-15",
            "chart-day-2025-09-17",
        ]
    )
    for dom_id, chart in charts.items():
        assert chart["drawn"], f"{dom_id}: not drawn"
        assert chart["traces"] == len(figures[dom_id].data), dom_id
    for dom_id in ("chart-equity", "chart-pnl-hist", "chart-day-2025-09-15", "chart-day-2025-09-17"):
        assert charts[dom_id]["svgTraces"] == len(figures[dom_id].data), dom_id
        assert charts[dom_id]["points"] > 0, f"{dom_id}: no point drawn"
    # 9 trips + the start on the equity curve; 3 entries + 3 exits on each day
    assert charts["chart-equity"]["points"] == 10
    assert charts["chart-day-2025-09-15"]["points"] == 6
    assert charts["chart-stats"]["tableCells"] > 0


def test_a_report_without_trades_loads_and_says_so(tmp_path: Path) -> None:
    chromium = require_chromium()
    errors, page = render(write_report(report_data([]), tmp_path).html, chromium)
    assert errors == []
    assert page["noTrade"] and NO_TRADE in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert list(page["charts"]) == ["chart-day-2025-09-15", "chart-day-2025-09-17"]
    assert all(c["drawn"] for c in page["charts"].values())


def test_the_harness_sees_script_errors_and_undrawn_charts(tmp_path: Path) -> None:
    chromium = require_chromium()
    page = write_report(report_data(make_trips()), tmp_path).html.read_text(encoding="utf-8")

    thrown = tmp_path / "thrown.html"
    thrown.write_text(page.replace("</body>", "<script>reportIsBroken.call();</script></body>"), encoding="utf-8")
    errors, result = render(thrown, chromium)
    assert any("reportIsBroken is not defined" in e for e in errors), errors
    assert any("reportIsBroken" in e for e in result["reportErrors"])  # and the page shows it
    assert "reportIsBroken" in result["errorBox"]

    undrawn = tmp_path / "undrawn.html"
    undrawn.write_text(page.replace("Plotly.newPlot(", "Plotly.noSuchPlot("), encoding="utf-8")
    errors, result = render(undrawn, chromium)
    assert len([e for e in errors if "Plotly.noSuchPlot is not a function" in e]) == 5, errors
    assert not any(c["drawn"] for c in result["charts"].values())
