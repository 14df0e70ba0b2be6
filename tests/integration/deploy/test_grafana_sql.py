"""Every SQL query of the Grafana dashboards, run on a database filled by the project's own writers.

The database (one per module, cloned from the migrated template) holds what a demo leaves behind:
seven synthetic sessions of seconds and minute bars, 90 earlier sessions of minute bars for the
regime history, two backtest runs over the last three sessions (runs, signals, orders, fills),
daily labels, walk-forward evaluations and morning scores of I:SPX and I:NDX, alerts, and two
ingest gaps (one repaired). Each panel query is expanded as Grafana would (macros and template
variables with "All" selected: see ``grafana_dashboards``), run, and must return rows with the
columns the panel reads. Round trips computed in SQL must match ``round_trips`` of the stored runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from grafana_dashboards import Dashboard, Expander, Target, load_dashboards, resolve_variables
from scalper.adapters.feed.gaps import Gap, record, repair
from scalper.adapters.store.alerts import record_alert
from scalper.adapters.store.orders import load_book
from scalper.adapters.store.synthetic_history import store_synthetic_sessions
from scalper.apps.backtest import run_backtest
from scalper.apps.regime import _write_history
from scalper.backtest.trades import round_trips
from scalper.config import load_config
from scalper.core.timeutil import NEW_YORK
from scalper.regime.service import DEFAULT_CHECKPOINTS, DEFAULT_SYMBOLS, Settings, run_label, run_report, run_score
from scalper.regime.store import sessions_before
from scalper.strategy.thresholds import load_thresholds

pytestmark = pytest.mark.integration

FIRST, SESSIONS, SEED = dt.date(2025, 9, 8), 7, 7
HISTORY = 90  # minute-bar sessions before FIRST: 20 of look-back, then 60 labelled ones to fit the morning model
RUNS = ("grafana-bt-a", "grafana-bt-b")
NS = 1_000_000_000

# The columns each query returns, in order: (dashboard uid, panel title, refId) -> names. Time
# series queries start with "time" (and "metric", the series name, when they have several series).
EXPECTED: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("scalper-regime", "Realised vs predicted regime per session", "A"): ("time", "metric", "value"),
    ("scalper-regime", "Brier score per scored session", "A"): ("time", "metric", "brier"),
    ("scalper-regime", "Morning score hit rate", "A"): (
        "symbol", "checkpoint", "sessions", "hits", "accuracy", "mean_brier",
    ),
    ("scalper-regime", "Walk-forward Brier score vs climatology", "A"): (
        "time", "metric", "brier", "climatology_brier",
    ),
    ("scalper-regime", "Walk-forward accuracy vs majority-class baseline", "A"): (
        "time", "metric", "accuracy", "baseline_accuracy",
    ),
    ("scalper-regime", "Realised labels", "A"): ("symbol", "trend_up", "trend_down", "balanced", "unlabelled"),
    ("scalper-regime", "Walk-forward evaluations", "A"): (
        "computed_at", "model_version", "symbol", "checkpoint", "first_day", "last_day", "n", "accuracy",
        "baseline_accuracy", "brier", "climatology_brier",
    ),
    ("scalper-regime", "Scored sessions", "A"): (
        "session_date", "symbol", "checkpoint", "predicted", "realised", "hit", "p_trend_up", "p_trend_down",
        "p_balanced", "brier", "model_version",
    ),
    ("scalper-expectancy", "Expectancy per play and run kind", "A"): (
        "play", "run_kind", "trades", "win_rate", "expectancy", "ci_low", "ci_high", "pnl", "avg_win", "avg_loss",
    ),
    ("scalper-expectancy", "Expectancy per trade with 95% interval", "A"): (
        "play", "ci_low", "expectancy", "ci_high",
    ),
    ("scalper-expectancy", "Cumulative PnL per play", "A"): ("time", "metric", "pnl"),
    ("scalper-expectancy", "Trades per day by run kind", "A"): ("time", "metric", "trades"),
    ("scalper-expectancy", "Round trips", "A"): (
        "entry_ts", "exit_ts", "run_id", "run_kind", "play", "symbol", "direction", "shares", "entry_price",
        "exit_price", "pnl", "costs", "exit_leg", "holding_s", "signal_id",
    ),
    ("scalper-slippage", "Mean slippage", "A"): ("mean_cents_per_share", "cost_dollars", "fills"),
    ("scalper-slippage", "Slippage distribution (cents per share)", "A"): ("slippage_cents",),
    ("scalper-slippage", "Slippage per fill", "A"): ("time", "metric", "slippage_cents"),
    ("scalper-slippage", "Mean slippage per interval", "A"): ("time", "metric", "slippage_cents"),
    ("scalper-slippage", "Slippage by symbol and leg", "A"): (
        "run_kind", "symbol", "leg", "fills", "mean_cents", "p50_cents", "p95_cents", "worst_cents", "cost_dollars",
    ),
    ("scalper-holding", "Holding time distribution", "A"): ("holding_s",),
    ("scalper-holding", "Holding time per round trip", "A"): ("time", "metric", "holding_s"),
    ("scalper-holding", "Holding time by play and exit leg", "A"): (
        "play", "exit_leg", "trades", "mean_s", "p50_s", "p90_s", "max_s",
    ),
    ("scalper-holding", "Holding time of winners and losers", "A"): (
        "outcome", "trades", "mean_s", "p50_s", "mean_pnl",
    ),
    ("scalper-pnl", "Realised PnL in range", "A"): ("pnl", "trades", "win_rate", "costs"),
    ("scalper-pnl", "Realised PnL per day", "A"): ("time", "metric", "pnl"),
    ("scalper-pnl", "Cumulative realised PnL per run", "A"): ("time", "metric", "pnl"),
    ("scalper-pnl", "Intraday cumulative PnL per run", "A"): ("time", "metric", "pnl"),
    ("scalper-pnl", "PnL per run", "A"): (
        "run_id", "kind", "started_at", "finished_at", "trades", "win_rate", "pnl", "costs", "days",
    ),
    ("scalper-feed", "Seconds since the last stored second", "A"): ("symbol", "last_second", "seconds_behind"),
    ("scalper-feed", "Stored seconds per interval", "A"): ("time", "metric", "seconds"),
    ("scalper-feed", "Ingest gaps", "A"): (
        "gap_start", "gap_end", "cluster", "symbol", "seconds", "reason", "status", "rows_repaired", "repaired_at",
        "detail",
    ),
    ("scalper-feed", "Gaps by status", "A"): ("open", "repaired", "unrepairable"),
    ("scalper-feed", "Alerts", "A"): ("time", "kind", "severity", "message", "delivered_at", "error"),
    ("scalper-feed", "Alerts per interval by severity", "A"): ("time", "metric", "alerts"),
}  # fmt: skip

DASHBOARDS = load_dashboards()
SQL_TARGETS = [t for d in DASHBOARDS for t in d.targets() if t.raw_sql is not None]
QUERY_VARIABLES = [(d, v) for d in DASHBOARDS for v in d.variables() if v.get("type") == "query"]


def _target_id(t: Target) -> str:
    return f"{t.dashboard.path.stem}:{t.panel.get('id')}:{t.ref_id}"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass(frozen=True)
class Filled:
    url: str
    days: list[dt.date]
    start: dt.datetime  # the dashboards' time range: every stored row is inside
    end: dt.datetime
    timescaledb: bool


@pytest.fixture(scope="module")
def filled(pg_server_url: str, template_db: str) -> Iterator[Filled]:
    """A fresh migrated database (cloned from the template) filled once for the whole module."""
    name = f"scalper_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_database(pg_server_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            days = store_synthetic_sessions(conn, FIRST, SESSIONS, SEED)
            first = sessions_before(days[0], HISTORY)
            _write_history(conn, first, HISTORY, SEED)
            config, thresholds = load_config(None, {}), load_thresholds()
            run_backtest(url, config, thresholds, first=days[-3], last=days[-2], run_id=RUNS[0])
            run_backtest(url, config, thresholds, first=days[-1], last=days[-1], run_id=RUNS[1])
            for symbol in DEFAULT_SYMBOLS:
                run_label(conn, symbol, None, None, Settings())
                run_report(conn, symbol, DEFAULT_CHECKPOINTS, None, None, Settings())
                run_score(conn, symbol, days, DEFAULT_CHECKPOINTS, Settings())
            noon = int(dt.datetime.combine(days[-1], dt.time(12), NEW_YORK).timestamp()) * NS
            record_alert(conn, ts_ns=noon, kind="stream_stall", severity="warning", message="no SPY event for 30 s")
            record_alert(conn, ts_ns=noon + 60 * NS, kind="kill_switch", severity="critical", message="day loss")
            record_alert(conn, ts_ns=noon + 3600 * NS, kind="regime_flip", severity="info", message="I:SPX balanced")
            record(conn, Gap("stocks", "SPY", noon - 100 * NS, noon - 50 * NS, "disconnect"))
            repair(conn, Gap("indices", "I:SPX", noon - 100 * NS, noon - 50 * NS, "restart"), lambda *_: [])
            timescaledb = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        start = dt.datetime.combine(first, dt.time(0), dt.UTC) - dt.timedelta(days=1)
        end = dt.datetime.combine(days[-1], dt.time(0), dt.UTC) + dt.timedelta(days=1, hours=6)
        yield Filled(url, days, start, end, timescaledb is not None)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _expander(filled: Filled, conn: psycopg.Connection[Any], dashboard: Dashboard) -> Expander:
    """The dashboard's expander for the filled range, its variables resolved with "All" selected."""
    expander = Expander(filled.start, filled.end, interval="1m", timescaledb=filled.timescaledb)
    resolve_variables(dashboard, expander, lambda sql: conn.execute(sql).fetchall())
    return expander


def _run(conn: psycopg.Connection[Any], sql: str, what: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    try:
        cur = conn.execute(sql)
    except psycopg.Error as exc:
        pytest.fail(f"{what}: the query failed: {exc}\n--- expanded SQL ---\n{sql}")
    assert cur.description is not None, f"{what}: the query returns no result set"
    return [c.name for c in cur.description], cur.fetchall()


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    raise AssertionError(f"not a time: {value!r}")


def test_every_sql_query_has_its_expected_columns_listed() -> None:
    keys = [t.key for t in SQL_TARGETS]
    assert len(keys) == len(set(keys)), "two queries share a (dashboard, panel title, refId)"
    assert sorted(set(keys) - EXPECTED.keys()) == [], "queries without expected columns in EXPECTED"
    assert sorted(EXPECTED.keys() - set(keys)) == [], "EXPECTED names queries no dashboard has"


@pytest.mark.parametrize(
    ("dashboard", "variable"), QUERY_VARIABLES, ids=[f"{d.path.stem}:${v['name']}" for d, v in QUERY_VARIABLES]
)
def test_variable_query_offers_values(filled: Filled, dashboard: Dashboard, variable: dict[str, Any]) -> None:
    with psycopg.connect(filled.url, autocommit=True) as conn:
        expander = _expander(filled, conn, dashboard)
    assert expander.variables[variable["name"]], f"{dashboard.title}: ${variable['name']} offers no value"


@pytest.mark.parametrize("target", SQL_TARGETS, ids=[_target_id(t) for t in SQL_TARGETS])
def test_panel_query_returns_rows_with_the_expected_columns(filled: Filled, target: Target) -> None:
    assert target.raw_sql is not None
    with psycopg.connect(filled.url, autocommit=True) as conn:
        sql = _expander(filled, conn, target.dashboard).expand(target.raw_sql)
        columns, rows = _run(conn, sql, target.name)
    assert rows, f"{target.name}: the query returned no row\n--- expanded SQL ---\n{sql}"
    assert tuple(columns) == EXPECTED[target.key], f"{target.name}: columns {columns}"
    # an aggregate over nothing still gives one row (of NULLs and zeros): that is no data either
    assert any(v is not None and v != 0 for row in rows for v in row[1:] or row), f"{target.name}: only empty values"
    if target.format == "time_series":
        assert columns[0] == "time", f"{target.name}: a time series query must return a 'time' column first"
        times = [_epoch(row[0]) for row in rows]
        assert times == sorted(times), f"{target.name}: rows must be in time order"
        lo, hi = filled.start.timestamp() - 86400, filled.end.timestamp()
        assert lo <= times[0] and times[-1] <= hi, f"{target.name}: times outside the range"
        values = [v for row in rows for v in row[1:] if isinstance(v, int | float | decimal.Decimal)]
        assert values and all(math.isfinite(float(v)) for v in values), f"{target.name}: no finite value"
    else:
        assert target.format == "table", f"{target.name}: format {target.format!r}"


def _panel_rows(filled: Filled, uid: str, title: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    (target,) = [t for t in SQL_TARGETS if t.key == (uid, title, "A")]
    assert target.raw_sql is not None
    with psycopg.connect(filled.url, autocommit=True) as conn:
        return _run(conn, _expander(filled, conn, target.dashboard).expand(target.raw_sql), target.name)


def test_round_trips_in_sql_are_the_round_trips_of_the_stored_runs(filled: Filled) -> None:
    columns, rows = _panel_rows(filled, "scalper-expectancy", "Round trips")
    in_sql = {(r["run_id"], r["signal_id"]): r for r in (dict(zip(columns, row, strict=True)) for row in rows)}
    expected = {}
    with psycopg.connect(filled.url, autocommit=True) as conn:
        for run in RUNS:
            book = load_book(conn, run)
            trips, _ = round_trips(book.orders(), book.fills())
            expected.update({(run, t.signal_id): t for t in trips})
    assert expected and in_sql.keys() == expected.keys()
    for key, trip in expected.items():
        row = in_sql[key]
        assert row["play"] == trip.play and row["symbol"] == trip.symbol and row["exit_leg"] == str(trip.exit_leg)
        assert row["direction"] == trip.direction and row["shares"] == pytest.approx(trip.shares)
        assert row["entry_ts"].timestamp() * NS == pytest.approx(trip.entry_ts, abs=1_000)
        assert row["exit_ts"].timestamp() * NS == pytest.approx(trip.exit_ts, abs=1_000)
        assert row["entry_price"] == pytest.approx(trip.entry_price)
        assert row["exit_price"] == pytest.approx(trip.exit_price)
        assert row["costs"] == pytest.approx(trip.costs)
        assert row["pnl"] == pytest.approx(trip.pnl, abs=1e-6)
        assert row["holding_s"] == pytest.approx(trip.holding_s, abs=1e-6)
    _, (stat,) = _panel_rows(filled, "scalper-pnl", "Realised PnL in range")
    assert stat[0] == pytest.approx(sum(t.pnl for t in expected.values()), abs=1e-6) and stat[1] == len(expected)


def test_the_brier_score_per_session_is_the_walk_forward_definition(filled: Filled) -> None:
    columns, rows = _panel_rows(filled, "scalper-regime", "Scored sessions")
    assert len(rows) == len(DEFAULT_SYMBOLS) * len(DEFAULT_CHECKPOINTS) * SESSIONS
    for row in (dict(zip(columns, r, strict=True)) for r in rows):
        p = {"trend_up": row["p_trend_up"], "trend_down": row["p_trend_down"], "balanced": row["p_balanced"]}
        assert row["brier"] == pytest.approx(sum((v - (k == row["realised"])) ** 2 for k, v in p.items()))
        assert row["predicted"] == max(p, key=lambda k: p[k]) and row["hit"] == (row["predicted"] == row["realised"])
