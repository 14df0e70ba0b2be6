"""``scalper demo``: the whole system, offline, on the embedded database by default.

This version: start the database, migrate, generate synthetic sessions (a holiday and an early
close included by default) as Polygon/Massive flat files in a local directory with the bucket's
layout, load them with the flat-file backfill (the path real history takes), and report what is
stored and how long each step took. End-of-day option chain snapshots, which are REST data and not
flat files, go through the bulk writer directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from scalper.adapters.flatfiles import Backfill, FileCache, FileResult, LoadOptions, LocalSource
from scalper.adapters.store import connect
from scalper.adapters.store.migrations import migrate
from scalper.adapters.store.minute_bars import fill_minute_bars
from scalper.adapters.store.tables import (
    AGG_1S,
    BARS,
    OPTION_BARS,
    OPTION_SNAPSHOTS,
    OPTION_VOLUME_0DTE,
    QUOTES_1S,
    TRADES,
    TableSpec,
)
from scalper.adapters.store.writer import BulkWriter
from scalper.apps.backtest import BacktestReport, regime_labels, run_backtest, segment_tables, write_backtest_report
from scalper.apps.context import AppContext
from scalper.apps.demo_capture import CaptureReport, run_capture
from scalper.apps.demo_policy import PolicyReport, policy_table, run_policy_step
from scalper.apps.features import ComputeResult, show_at, snapshot_table
from scalper.apps.features import compute as compute_features
from scalper.apps.paper import SESSION as PAPER_SESSION
from scalper.apps.paper import paper_session, trades_table
from scalper.apps.regime import print_scores, regime_demo
from scalper.apps.run import RunReport
from scalper.backtest.report import ReportPaths
from scalper.config.secrets import Secret
from scalper.core.timeutil import NEW_YORK
from scalper.ops.alerting import AlertDispatcher
from scalper.ops.webhook_capture import WebhookCapture
from scalper.regime.service import DEFAULT_CHECKPOINTS, DEFAULT_SYMBOLS, ReportResult, Score, Settings, run_score
from scalper.strategy.thresholds import load_thresholds
from scalper.synthetic import columns
from scalper.synthetic.flatfiles import DATASETS, write_dataset
from scalper.synthetic.market import MarketDay, generate_market_days
from scalper.synthetic.options import OptionDay, generate_option_day

DEMO_SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
#: the paper session: a whole synthetic session (inside the shipped calendar's coverage) at this speed
PAPER_SPEED = 800.0
PAPER_SECONDS = 23_400 / PAPER_SPEED + 0.5  # until just after the close (the server then closes its streams)
#: the fault injected into the paper session: the replay server stalls every connection after
#: 2,000 frames, the feed reconnects again and again (and backfills), which is a reconnect storm
PAPER_FAULTS = ("pause_after_frames=2000", "pause_s=0.4")
DEFAULT_START = dt.date(2025, 11, 25)  # 25, 26, then 28 Nov: Thanksgiving skipped, early close on the 28th

_STORED_TABLES: tuple[TableSpec, ...] = (AGG_1S, BARS, TRADES, QUOTES_1S, OPTION_BARS, OPTION_VOLUME_0DTE)
_OPTION_TABLES: tuple[tuple[TableSpec, Callable[[OptionDay], columns.Batch]], ...] = (
    (OPTION_SNAPSHOTS, columns.option_snapshots),
)


@dataclass
class _Tally:
    rows: int = 0
    seconds: float = 0.0
    paths: set[str] = field(default_factory=set)


@dataclass
class DemoReport:
    """What the demo did, for printing and for tests."""

    sessions: list[MarketDay] = field(default_factory=list)
    tallies: dict[str, _Tally] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    capture: CaptureReport | None = None
    files: list[FileResult] = field(default_factory=list)
    features: ComputeResult | None = None
    feature_tables: list[Table] = field(default_factory=list)
    regime: list[ReportResult] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    policy: PolicyReport | None = None
    capture_day: dt.date | None = None
    paper: RunReport | None = None
    backtest: BacktestReport | None = None
    backtest_tables: list[Table] = field(default_factory=list)
    report_paths: ReportPaths | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alerts_path: Path | None = None
    database_url: str = ""


@contextlib.contextmanager
def _step(report: DemoReport, console: Console, name: str) -> Iterator[None]:
    console.print(f"[bold]•[/] {name} …")
    start = time.perf_counter()
    yield
    report.steps[name] = time.perf_counter() - start


def _generate(start: dt.date, sessions: int, seed: int) -> Iterator[tuple[MarketDay, OptionDay]]:
    for day in generate_market_days(start, sessions, seed):
        yield day, generate_option_day(day, seed)


def _load_snapshots(writer: BulkWriter, report: DemoReport, options: OptionDay) -> None:
    for spec, batch in [(spec, make(options)) for spec, make in _OPTION_TABLES]:
        result = writer.write(spec, batch)
        tally = report.tallies.setdefault(spec.name, _Tally())
        tally.rows += result.rows_in
        tally.seconds += result.seconds
        tally.paths.add(result.path)


def _write_flatfiles(root: Path, day: MarketDay, options: OptionDay) -> None:
    """Every dataset of one session as a flat file (two threads: pyarrow and zlib release the GIL)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(partial(write_dataset, root, market=day, options=options), DATASETS))


def _backfill(url: str, conn: Any, files: Path, days: list[dt.date]) -> list[FileResult]:
    """Every synthetic dataset through the flat-file backfill (a local directory source)."""
    with connect(url) as extra:
        backfill = Backfill(
            conn,
            LocalSource(files),
            FileCache(files / ".cache"),
            LoadOptions(store_trades=True),
            extra_writers=[extra],
        )
        return backfill.run(list(DATASETS), days)


def run_demo(
    ctx: AppContext,
    console: Console,
    *,
    start: dt.date = DEFAULT_START,
    sessions: int = 3,
    seed: int = 7,
    report_dir: Path = Path("reports"),
) -> DemoReport:
    """Run the demo; prints progress and tables to ``console``."""
    report = DemoReport()
    total = time.perf_counter()
    console.print("[bold]•[/] start the database …")
    with ctx.database() as (url, conn):
        report.steps["start the database"] = time.perf_counter() - total
        with _step(report, console, "apply migrations"):
            migrate(conn)
        writer = BulkWriter(conn)
        with tempfile.TemporaryDirectory(prefix="scalper-demo-flatfiles-") as tmp:
            files = Path(tmp)
            with _step(report, console, f"generate {sessions} synthetic sessions as flat files"):
                for day, options in _generate(start, sessions, seed):
                    report.sessions.append(day)
                    _write_flatfiles(files, day, options)
                    _load_snapshots(writer, report, options)
            with _step(report, console, "load the flat files (backfill)"):
                report.files = _backfill(url, conn, files, [d.window.day for d in report.sessions])
        with _step(report, console, "capture a live session through the feed (one injected disconnect)"):
            capture_day = _next_session(report.sessions[-1].window.day)
            report.capture = run_capture(url, day=capture_day, seed=seed)
            open_ns = _session_open_ns(capture_day)
            fill_minute_bars(conn, DEMO_SYMBOLS, open_ns, open_ns + 86_400 * 1_000_000_000)  # no AM channel captured
        with _step(report, console, "compute feature snapshots over the stored sessions"):
            report.features, engine = compute_features(conn, ctx.config.features)
            report.feature_tables.append(snapshot_table(engine, f"features at the close of {capture_day}"))
            at_eleven = open_ns + 90 * 60 * 1_000_000_000
            report.feature_tables.insert(
                0, snapshot_table(show_at(conn, ctx.config.features, at_eleven), f"features at 11:00 on {capture_day}")
            )
        with _step(report, console, "daily regime: synthetic history, labels, walk-forward report"):
            report.regime = regime_demo(conn, console, end=start, seed=seed)
        with _step(report, console, f"morning regime score of {capture_day}"):
            report.scores = [
                x
                for symbol in DEFAULT_SYMBOLS
                for x in run_score(conn, symbol, [capture_day], DEFAULT_CHECKPOINTS, Settings())
            ]
        with _step(report, console, f"dealer gamma and the session policy of {capture_day}"):
            report.policy = run_policy_step(conn, capture_day, report.scores)
            report.capture_day = capture_day
        with (
            _step(
                report,
                console,
                f"a paper session of {PAPER_SESSION} on the replay server at {PAPER_SPEED:g}x, with an injected "
                "feed fault; its alerts go to a local webhook",
            ),
            tempfile.TemporaryDirectory(prefix="scalper-demo-paper-") as tmp,
        ):
            run_id = f"demo-paper-{time.strftime('%Y%m%dT%H%M%S')}"  # a new paper run each time
            report.alerts_path = report_dir / f"{run_id}-alerts.jsonl"
            with WebhookCapture(report.alerts_path) as capture:
                report.paper = paper_session(
                    url,
                    Path(tmp),
                    seconds=PAPER_SECONDS,
                    speed=PAPER_SPEED,
                    run_id=run_id,
                    faults=PAPER_FAULTS,
                    webhook_url=capture.url,
                    settings={"SCALPER_ALERTS__POLL_S": "0.2"},
                )
                # what the run recorded after its dispatcher's last pass goes out now
                connect_db = partial(connect, url)
                AlertDispatcher.for_discord(connect_db, Secret(capture.url), ctx.config.alerts).dispatch_pending()
                report.alerts = list(capture.received)
        with _step(report, console, f"a backtest of {PAPER_SESSION} from the recorded seconds, and its report"):
            run_id = f"demo-backtest-{time.strftime('%Y%m%dT%H%M%S')}"
            backtest = run_backtest(
                url, ctx.config, load_thresholds(), first=PAPER_SESSION, last=PAPER_SESSION, run_id=run_id
            )
            labels = regime_labels(conn, ctx.config.feed.index_symbols)
            report.backtest = backtest
            report.backtest_tables = segment_tables(backtest, labels)
            report.report_paths = write_backtest_report(
                backtest, labels, report_dir / run_id, equity=ctx.config.broker.paper_equity
            )
        for spec in (*_STORED_TABLES, *(s for s, _ in _OPTION_TABLES)):
            row = conn.execute(f"SELECT count(*) FROM {spec.name}").fetchone()  # names from our own specs
            report.stored[spec.name] = int(row[0]) if row else 0
    report.steps["total"] = time.perf_counter() - total
    _print(console, report, url)
    return report


def _print(console: Console, report: DemoReport, url: str) -> None:

    sessions = Table(
        "session", "hours (ET)", "day type", "SPX open", "SPX close", "SPX range", title="synthetic sessions"
    )
    for day in report.sessions:
        t, w = day.truth, day.window
        hours = f"09:30–{_et(w.close_ns)}"
        sessions.add_row(
            str(w.day), hours, t.day_type, f"{t.spx.open:,.2f}", f"{t.spx.close:,.2f}", f"{t.spx.high - t.spx.low:,.2f}"
        )
    stored = Table("table", "rows loaded", "rows stored", "write path", "seconds", "rows/s", title="stored")
    for name in report.stored:
        if name not in report.tallies:
            stored.add_row(name, "(flat files)", f"{report.stored[name]:,}", "backfill", "", "")
    for name, tally in report.tallies.items():
        rate = tally.rows / tally.seconds if tally.seconds else 0.0
        stored.add_row(
            name,
            f"{tally.rows:,}",
            f"{report.stored.get(name, 0):,}",
            "+".join(sorted(tally.paths)),
            f"{tally.seconds:.2f}",
            f"{rate:,.0f}",
        )
    flat = Table("dataset", "files", "outcomes", "rows read", "rows written", "load s", "rows/s", title="flat files")
    for dataset in dict.fromkeys(r.dataset for r in report.files):
        rows = [r for r in report.files if r.dataset == dataset]
        read, load_s = sum(r.rows_read for r in rows), sum(r.load_s for r in rows)
        flat.add_row(
            dataset,
            str(len(rows)),
            ", ".join(sorted({r.outcome for r in rows})),
            f"{read:,}",
            f"{sum(r.rows_written for r in rows):,}",
            f"{load_s:.2f}",
            f"{read / load_s if load_s else 0:,.0f}",
        )
    for r in report.files:
        if r.error:
            flat.add_row(r.dataset, "", f"failed: {r.error}", "", "", "", "")
    timings = Table("step", "seconds", title="timings")
    for name, seconds in report.steps.items():
        timings.add_row(name, f"{seconds:.2f}")
    console.print(sessions, flat, stored)
    if report.capture is not None:
        c = report.capture
        capture = Table("figure", "value", title=f"live capture of {c.day} (replay server → feed → database)")
        capture.add_row("events sent / received", f"{c.events_sent:,} / {c.events_received:,}")
        capture.add_row("SPX+NDX seconds sent / stored", f"{c.index_seconds_sent:,} / {c.index_seconds_stored:,}")
        capture.add_row("reconnects", str(c.reconnects))
        capture.add_row("gaps found / repaired", f"{c.gaps} / {c.gaps_repaired}")
        capture.add_row("seconds backfilled through REST", f"{c.seconds_backfilled:,}")
        console.print(capture)
    if report.features is not None:
        f = report.features
        console.print(
            f"features: {len(f.sessions)} sessions, {f.events:,} events, {f.snapshots:,} snapshots stored "
            f"({f.version}) in {f.seconds:.1f} s",
            highlight=False,
        )
        console.print(*report.feature_tables)
    if report.scores:
        print_scores(console, report.scores)
    if report.policy is not None and report.capture_day is not None:
        console.print(*report.policy.gamma, policy_table(report.policy, report.capture_day))
    if report.paper is not None:
        from scalper.apps.cli import run_summary

        if report.paper.trading is not None:
            console.print(trades_table(report.paper.trading.trader, report.paper.run_id))
        console.print(run_summary(report.paper))
    if report.backtest is not None:
        b = report.backtest
        console.print(
            f"backtest {b.run_id}: {b.events:,} recorded events, {len(b.trips)} closed trades "
            f"(the paper run's entries: {sum(1 for r in b.trader.signals if r.kind == 'enter' and r.accepted)})",
            highlight=False,
        )
        console.print(*report.backtest_tables)
    if report.report_paths is not None:
        console.print(f"backtest report: {report.report_paths.html.resolve()}", highlight=False)
    if report.alerts_path is not None:
        alerts = Table("received", "message", title="alerts delivered to the local webhook")
        for item in report.alerts:
            when = dt.datetime.fromtimestamp(item["received_at"], NEW_YORK).strftime("%H:%M:%S ET")
            alerts.add_row(when, str(item["body"].get("content", ""))[:160])
        console.print(alerts)
        console.print(f"injected fault: {', '.join(PAPER_FAULTS)}", highlight=False)
        console.print(f"alerts captured: {report.alerts_path.resolve()}", highlight=False)
    console.print(timings)
    console.print(_where(report, url))


def _where(report: DemoReport, url: str) -> Table:
    """The closing summary: where each thing the demo made is."""
    from scalper.adapters.store import redact_url

    where = Table("what", "where", title="where everything is")
    where.add_row("database (every table below)", redact_url(url))
    where.add_row("synthetic history", "loaded from flat files into agg_1s, bars, trades, quotes_1s, option tables")
    where.add_row("regime labels and models", "tables regimes, regime_models, regime_evaluations")
    where.add_row("gamma levels and the session policy", "tables gamma_levels, policy_decisions")
    if report.paper is not None:
        where.add_row("paper run", f"run {report.paper.run_id}: tables runs, signals, orders, order_events, fills")
    if report.alerts_path is not None:
        kinds = sorted(
            {str(a["body"].get("content", "")).split("`")[1] for a in report.alerts if "`" in str(a["body"])}
        )
        where.add_row("alerts raised by the fault", f"table alerts; delivered copies: {report.alerts_path.resolve()}")
        where.add_row("alert kinds delivered", ", ".join(kinds) or "none")
    if report.backtest is not None:
        where.add_row("backtest run", f"run {report.backtest.run_id} (same tables, kind backtest)")
    if report.report_paths is not None:
        paths = report.report_paths
        where.add_row("backtest report", str(paths.html.resolve()))
        where.add_row("trades and summary", f"{paths.trades_csv.resolve()}, {paths.summary_json.resolve()}")
    where.add_row("dashboards", "deploy/grafana/dashboards (docker compose -f deploy/docker-compose.yml up)")
    return where


def _session_open_ns(day: dt.date) -> int:
    from scalper.marketdata.calendar import xnys

    return int(xnys().session_open(day.isoformat()).value)


def _next_session(day: dt.date) -> dt.date:
    from scalper.marketdata.calendar import xnys

    cal = xnys()
    return cal.next_session(day.isoformat()).date()  # type: ignore[no-any-return]


def _et(ns: int) -> str:
    from scalper.core.timeutil import ns_to_datetime

    return ns_to_datetime(ns).astimezone(NEW_YORK).strftime("%H:%M")
