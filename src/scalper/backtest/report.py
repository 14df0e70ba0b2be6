"""The report of a backtest: one self-contained HTML file, plus the trades as CSV and the statistics as JSON.

Pure except :func:`write_report`, which writes the three files. Conventions:

* Times are shown in **New York** wall-clock time (naive on the charts' axes); the CSV keeps them
  as ISO 8601 UTC (microsecond precision, as PostgreSQL stores them).
* The **equity curve** starts at ``equity_start`` and steps by each trade's PnL (net of costs) at its
  exit, in exit order. Its **drawdown** is the fall from its running peak (dollars, ≤ 0), the start
  included: a first losing trade is a drawdown. A play's drawdown is that of its own trades alone.
* A **win** is a trade with PnL > 0 (a scratch is not a win).
* Per-set statistics come from :mod:`scalper.backtest.stats`: expectancy with its stationary
  bootstrap CI over days, break-even slippage (cents per share and side), and the probabilistic
  Sharpe of the daily PnL over the days with a trade (days without one are not known here, so it
  flatters a sparse strategy; ``null`` when undefined: fewer than two days, no variation).
* Trade markers on a day's price chart sit **on the line** at the fill's time (the line may be the
  index, not the traded proxy); the fill price itself is in the hover text. Entries are triangles up
  (long) or down (short), filled; exits are the same triangles, open; green wins, red losses.
* Regime labels shade the equity chart, one band per labelled day over the regular session
  (09:30–16:00), for the days between the first and the last trade.

The HTML embeds plotly.js exactly once, inline (no CDN: the file opens offline); each chart has a
stable DOM id: ``chart-equity``, ``chart-pnl-hist``, ``chart-stats`` and ``chart-day-YYYY-MM-DD``.
A small inline script lists any script error in ``<pre id="report-errors">`` so a broken report
says so. JSON has no NaN: non-finite numbers are written as ``null``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]
from numpy.typing import NDArray
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from scalper.backtest.stats import break_even_cents, expectancy_ci, max_drawdown, probabilistic_sharpe
from scalper.backtest.trades import RoundTrip
from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK, ns_to_datetime

NO_TRADE = "no closed trade"
WIN_COLOUR = "#2ca02c"
LOSS_COLOUR = "#d62728"
REGIME_COLOURS = {
    "trend_up": "rgba(44,160,44,0.14)",
    "trend_down": "rgba(214,39,40,0.14)",
    "balanced": "rgba(127,127,127,0.14)",
}
OTHER_REGIME_COLOURS = (
    "rgba(31,119,180,0.14)",
    "rgba(255,127,14,0.14)",
    "rgba(148,103,189,0.14)",
    "rgba(140,86,75,0.14)",
)
SESSION_OPEN = dt.time(9, 30)
SESSION_CLOSE = dt.time(16, 0)
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
CSV_COLUMNS = (
    "signal_id",
    "play",
    "symbol",
    "direction",
    "shares",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "pnl",
    "costs",
    "slippage",
    "exit_leg",
    "day",
    "holding_s",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportData:
    """What a report shows.

    ``prices`` holds the days to chart trade by trade: (times in ns UTC, closes) of the proxy or the
    index, same length; ``regimes`` labels days (``trend_up``, ``trend_down``, ``balanced``, …).
    Both may be empty.
    """

    run_id: str
    trips: Sequence[RoundTrip]
    prices: Mapping[dt.date, tuple[NDArray[Any], NDArray[Any]]]
    regimes: Mapping[dt.date, str]
    equity_start: float
    title: str
    #: the symbol of ``prices``: only its trades are marked on the day charts (None: every trade)
    chart_symbol: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportPaths:
    """The files :func:`write_report` wrote."""

    html: Path
    trades_csv: Path
    summary_json: Path


# ---------------------------------------------------------------- statistics


def by_exit(trips: Sequence[RoundTrip]) -> list[RoundTrip]:
    """The trips in exit order (ties by entry, then signal)."""
    return sorted(trips, key=lambda t: (t.exit_ts, t.entry_ts, t.signal_id))


def equity_curve(trips: Sequence[RoundTrip], start: float = 0.0) -> NDArray[np.float64]:
    """``start``, then the equity after each exit (exit order): one more point than trips."""
    pnl = np.array([t.pnl for t in by_exit(trips)], dtype=np.float64)
    return np.concatenate([[start], start + np.cumsum(pnl)])


def trade_stats(trips: Sequence[RoundTrip]) -> dict[str, Any]:
    """The statistics of a set of trades (JSON-ready; ``None`` where undefined, e.g. without trades)."""
    n = len(trips)
    wins = sum(1 for t in trips if t.pnl > 0)
    out: dict[str, Any] = {
        "trades": n,
        "wins": wins,
        "win_rate": wins / n if n else None,
        "total_pnl": float(sum(t.pnl for t in trips)),
        "total_costs": float(sum(t.costs for t in trips)),
        "expectancy": None,
        "expectancy_ci": None,
        "max_drawdown": float(max_drawdown(equity_curve(trips)).depth),
        "break_even_cents": None,
        "psr_daily": None,
        "avg_holding_s": float(np.mean([t.holding_s for t in trips])) if n else None,
        "days": len({t.day for t in trips}),
    }
    if not n:
        return out
    out["expectancy"] = out["total_pnl"] / n
    out["break_even_cents"] = break_even_cents(trips)
    try:
        ci = expectancy_ci(trips)
    except DataError:
        pass
    else:
        out["expectancy_ci"] = {
            "low": ci.low,
            "high": ci.high,
            "level": ci.level,
            "days": ci.days,
            "resamples": ci.resamples,
            "mean_block_days": ci.mean_block_days,
        }
    daily: dict[dt.date, float] = {}
    for t in trips:
        daily[t.day] = daily.get(t.day, 0.0) + t.pnl
    with contextlib.suppress(DataError):  # fewer than two days, or no variation
        out["psr_daily"] = probabilistic_sharpe([daily[d] for d in sorted(daily)])
    return out


def plays_of(trips: Sequence[RoundTrip]) -> list[str]:
    return sorted({t.play for t in trips})


def summary(data: ReportData) -> dict[str, Any]:
    """The statistics of the run: in total, per play, per regime label (by entry day), per day."""
    trips = list(data.trips)
    curve = equity_curve(trips, data.equity_start)
    per_day: dict[dt.date, list[RoundTrip]] = {}
    for t in trips:
        per_day.setdefault(t.day, []).append(t)
    per_regime: dict[str, list[RoundTrip]] = {}
    for t in trips:
        label = data.regimes.get(t.day)
        if label is not None:
            per_regime.setdefault(label, []).append(t)
    return {
        "run_id": data.run_id,
        "title": data.title,
        "equity_start": data.equity_start,
        "equity_end": float(curve[-1]),
        "total": trade_stats(trips),
        "plays": {p: trade_stats([t for t in trips if t.play == p]) for p in plays_of(trips)},
        "regimes": {label: trade_stats(per_regime[label]) for label in sorted(per_regime)},
        "days": [
            {
                "day": d.isoformat(),
                "trades": len(per_day[d]),
                "pnl": float(sum(t.pnl for t in per_day[d])),
                "regime": data.regimes.get(d),
            }
            for d in sorted(per_day)
        ],
    }


def json_ready(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


# ---------------------------------------------------------------- figures


def ny_times(ts_ns: Sequence[int] | NDArray[Any]) -> NDArray[np.datetime64]:
    """Nanoseconds UTC → naive New York wall-clock times (what the charts' axes show)."""
    index = pd.to_datetime(np.asarray(ts_ns, dtype=np.int64), unit="ns", utc=True)
    return np.asarray(index.tz_convert(NEW_YORK).tz_localize(None).to_numpy(), dtype="datetime64[ns]")


def _regime_colour(label: str, labels: Sequence[str]) -> str:
    if label in REGIME_COLOURS:
        return REGIME_COLOURS[label]
    others = [x for x in labels if x not in REGIME_COLOURS]
    return OTHER_REGIME_COLOURS[others.index(label) % len(OTHER_REGIME_COLOURS)]


def equity_figure(data: ReportData) -> Any:
    """Equity by exit time over its drawdown, on shaded regime days."""
    trips = by_exit(data.trips)
    curve = equity_curve(trips, data.equity_start)
    drawdown = curve - np.maximum.accumulate(curve)
    x = ny_times([trips[0].entry_ts] + [t.exit_ts for t in trips])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    hover = ["start"] + [f"{t.play} {t.signal_id}<br>pnl {t.pnl:+,.2f}" for t in trips]
    fig.add_trace(
        go.Scatter(
            x=x, y=curve, mode="lines+markers", name="equity", line={"shape": "hv"}, text=hover, marker={"size": 4}
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=x, y=drawdown, mode="lines", name="drawdown", fill="tozeroy", line={"shape": "hv", "color": LOSS_COLOUR}
        ),
        row=2,
        col=1,
    )
    first, last = trips[0].day, trips[-1].day
    labels = sorted(set(data.regimes.values()))
    shown: set[str] = set()
    for day in sorted(data.regimes):
        if not first <= day <= last:
            continue
        label = data.regimes[day]
        fig.add_shape(  # one band over both subplots (add_vrect would draw one per subplot)
            type="rect",
            xref="x",
            yref="paper",
            x0=dt.datetime.combine(day, SESSION_OPEN),
            x1=dt.datetime.combine(day, SESSION_CLOSE),
            y0=0,
            y1=1,
            fillcolor=_regime_colour(label, labels),
            line_width=0,
            layer="below",
            name=label,
            legendgroup=f"regime-{label}",
            showlegend=label not in shown,
        )
        shown.add(label)
    # hide the weekends and the nights: outside the regular session when every trade is inside it,
    # else outside the extended one (04:00–20:00)
    times = [ns_to_datetime(ts).astimezone(NEW_YORK).time() for t in trips for ts in (t.entry_ts, t.exit_ts)]
    regular = all(SESSION_OPEN <= x <= SESSION_CLOSE for x in times)
    night = [16, 9.5] if regular else [20, 4]
    fig.update_xaxes(rangebreaks=[{"bounds": ["sat", "mon"]}, {"bounds": night, "pattern": "hour"}])
    fig.update_yaxes(title_text="equity ($)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown ($)", row=2, col=1)
    fig.update_xaxes(title_text="exit time (New York)", row=2, col=1)
    fig.update_layout(title="Equity and drawdown", height=560, hovermode="x unified")
    return fig


def pnl_histogram_figure(data: ReportData) -> Any:
    """PnL per trade, one overlaid histogram per play on shared bins."""
    fig = go.Figure()
    for play in plays_of(data.trips):
        pnl = [t.pnl for t in data.trips if t.play == play]
        fig.add_trace(go.Histogram(x=pnl, name=f"{play} ({len(pnl)})", opacity=0.6, bingroup="pnl"))
    fig.update_layout(
        title="PnL per trade, by play", barmode="overlay", height=420, xaxis_title="PnL ($, net)", yaxis_title="trades"
    )
    return fig


def day_figure(day: dt.date, ts_ns: NDArray[Any], close: NDArray[Any], data: ReportData) -> Any:
    """One day's price line with its trades' entries and exits (markers on the line, see the module doc)."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    price = np.asarray(close, dtype=np.float64)
    if ts.shape != price.shape or ts.ndim != 1:
        raise DataError(f"report prices of {day}: expected as many closes as times, had {ts.shape} and {price.shape}")
    if len(ts) == 0:
        raise DataError(f"report prices of {day}: expected at least one close, had none")
    order = np.argsort(ts, kind="stable")
    ts, price = ts[order], price[order]
    fig = go.Figure(
        go.Scatter(x=ny_times(ts), y=price, mode="lines", name="price", line={"color": "#1f77b4", "width": 1})
    )
    trips = [t for t in data.trips if t.day == day and data.chart_symbol in (None, t.symbol)]
    for kind in ("entry", "exit"):
        at = np.array([t.entry_ts if kind == "entry" else t.exit_ts for t in trips], dtype=np.int64)
        fill = [t.entry_price if kind == "entry" else t.exit_price for t in trips]
        suffix = "" if kind == "entry" else "-open"
        fig.add_trace(
            go.Scatter(
                x=ny_times(at),
                y=np.interp(at.astype(np.float64), ts.astype(np.float64), price),
                mode="markers",
                name=kind,
                marker={
                    "symbol": [("triangle-up" if t.direction > 0 else "triangle-down") + suffix for t in trips],
                    "color": [WIN_COLOUR if t.pnl > 0 else LOSS_COLOUR for t in trips],
                    "size": 11,
                    "line": {"width": 2, "color": [WIN_COLOUR if t.pnl > 0 else LOSS_COLOUR for t in trips]},
                },
                text=[
                    f"{kind} {t.play} {'long' if t.direction > 0 else 'short'} {t.shares:g} {t.symbol} @ {p:.4f}"
                    f"<br>pnl {t.pnl:+,.2f} ({t.exit_leg.value})"
                    for t, p in zip(trips, fill, strict=True)
                ],
                hoverinfo="text+x",
            )
        )
    regime = data.regimes.get(day)
    title = f"{day.isoformat()}: {len(trips)} trade{'s' if len(trips) != 1 else ''}" + (f", {regime}" if regime else "")
    if data.chart_symbol is not None:
        title = f"{data.chart_symbol} {title}"
    fig.update_layout(title=title, height=460, xaxis_title="time (New York)", yaxis_title="price", hovermode="closest")
    return fig


def _fmt(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def stats_figure(s: Mapping[str, Any]) -> Any:
    """A table of the statistics of :func:`summary`: in total, per play, per regime label."""
    rows = [("all", s["total"])]
    rows += [(p, st) for p, st in s["plays"].items()]
    rows += [(f"regime {label}", st) for label, st in s["regimes"].items()]
    columns: dict[str, list[str]] = {
        "set": [],
        "trades": [],
        "win rate": [],
        "expectancy ($)": [],
        "CI 95% ($)": [],
        "total PnL ($)": [],
        "max drawdown ($)": [],
        "break-even (¢/sh/side)": [],
        "PSR (daily)": [],
    }
    for name, st in rows:
        ci = st["expectancy_ci"]
        cells = [
            name,
            str(st["trades"]),
            _fmt(st["win_rate"], ".1%"),
            _fmt(st["expectancy"], ",.2f"),
            "–" if ci is None else f"[{ci['low']:,.2f}, {ci['high']:,.2f}]",
            _fmt(st["total_pnl"], ",.2f"),
            _fmt(st["max_drawdown"], ",.2f"),
            _fmt(st["break_even_cents"], ".2f"),
            _fmt(st["psr_daily"], ".3f"),
        ]
        for column, cell in zip(columns.values(), cells, strict=True):
            column.append(cell)
    fig = go.Figure(
        go.Table(
            header={"values": list(columns), "fill_color": "#e8e8e8", "align": "left"},
            cells={"values": list(columns.values()), "align": "left"},
        )
    )
    fig.update_layout(title="Statistics", height=170 + 36 * len(rows), margin={"t": 50, "b": 10})
    return fig


def build_figures(data: ReportData, stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report's plotly figures, by DOM id, in display order (``stats``: :func:`summary`, if known).

    Without a closed trade only the day price charts remain (the page says "no closed trade").
    """
    figures: dict[str, Any] = {}
    if data.trips:
        figures["chart-equity"] = equity_figure(data)
        figures["chart-pnl-hist"] = pnl_histogram_figure(data)
        figures["chart-stats"] = stats_figure(summary(data) if stats is None else stats)
    for day in sorted(data.prices):
        ts, close = data.prices[day]
        figures[f"chart-day-{day.isoformat()}"] = day_figure(day, ts, close, data)
    return figures


# ---------------------------------------------------------------- files

ERROR_SCRIPT = """<script>
window.reportErrors = [];
function reportError(text) {
  window.reportErrors.push(String(text));
  var pre = document.getElementById("report-errors");
  if (pre) { pre.hidden = false; pre.textContent = window.reportErrors.join("\\n"); }
}
window.addEventListener("error", function (e) { reportError(e.message || e); });
window.addEventListener("unhandledrejection", function (e) { reportError("unhandled rejection: " + e.reason); });
</script>"""

STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
.chart { margin: 1em 0 2em; }
.meta { color: #555; }
.empty { font-size: 1.2em; color: #a00; }
#report-errors { color: #a00; background: #fee; padding: 0.5em; }
</style>"""


def render_html(data: ReportData, stats: Mapping[str, Any] | None = None) -> str:
    """The report page: plotly.js inline once (with the first chart), then each chart in its own div
    (``stats``: :func:`summary` of ``data``, if known)."""
    stats = summary(data) if stats is None else stats
    figures = build_figures(data, stats)
    total = stats["total"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(data.title)}</title>",
        STYLE,
        ERROR_SCRIPT,
        "</head><body>",
        f"<h1>{html.escape(data.title)}</h1>",
        f'<p class="meta">run <code>{html.escape(data.run_id)}</code>: {total["trades"]} closed trades, '
        f"PnL {total['total_pnl']:+,.2f} $ net, equity {stats['equity_start']:,.2f} → "
        f"{stats['equity_end']:,.2f} $</p>",
        '<pre id="report-errors" hidden></pre>',
    ]
    if not data.trips:
        parts.append(f'<p class="empty" id="no-trade">{NO_TRADE}</p>')
    first = True
    for dom_id, fig in figures.items():
        height = fig.layout.height or 450
        div = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=first,  # True: the bundled plotly.js, inline (never "cdn")
            div_id=dom_id,
            config=PLOT_CONFIG,
            default_height=f"{height}px",
        )
        parts.append(f'<section class="chart" data-chart="{html.escape(dom_id)}">{div}</section>')
        first = False
    parts.append("</body></html>")
    return "\n".join(parts)


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def trade_rows(trips: Sequence[RoundTrip]) -> list[dict[str, str]]:
    """One CSV row per trip (columns :data:`CSV_COLUMNS`; times ISO UTC, floats in full precision)."""
    rows = []
    for t in trips:
        rows.append(
            {
                "signal_id": t.signal_id,
                "play": t.play,
                "symbol": t.symbol,
                "direction": str(t.direction),
                "shares": _csv_number(t.shares),
                "entry_time": ns_to_datetime(t.entry_ts).isoformat(),
                "exit_time": ns_to_datetime(t.exit_ts).isoformat(),
                "entry_price": _csv_number(t.entry_price),
                "exit_price": _csv_number(t.exit_price),
                "pnl": _csv_number(t.pnl),
                "costs": _csv_number(t.costs),
                "slippage": _csv_number(t.slippage),
                "exit_leg": t.exit_leg.value,
                "day": t.day.isoformat(),
                "holding_s": _csv_number(t.holding_s),
            }
        )
    return rows


def write_report(data: ReportData, out_dir: Path) -> ReportPaths:
    """Write ``report.html``, ``trades.csv`` and ``summary.json`` into ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(
        html=out_dir / "report.html", trades_csv=out_dir / "trades.csv", summary_json=out_dir / "summary.json"
    )
    stats = summary(data)
    paths.html.write_text(render_html(data, stats), encoding="utf-8")
    with paths.trades_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(trade_rows(data.trips))
    paths.summary_json.write_text(json.dumps(json_ready(stats), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return paths
