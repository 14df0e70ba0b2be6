"""``scalper demo``: the whole system, offline, on the embedded database by default.

This version: start the database, migrate, generate synthetic sessions (a holiday and an early
close included by default), load them through the bulk writer, and report what is stored and
how long each step took.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from scalper.adapters.store.migrations import migrate
from scalper.adapters.store.tables import AGG_1S, BARS, OPTION_BARS, OPTION_SNAPSHOTS, QUOTES_1S, TRADES, TableSpec
from scalper.adapters.store.writer import BulkWriter
from scalper.apps.context import AppContext
from scalper.apps.demo_capture import CaptureReport, run_capture
from scalper.synthetic import columns
from scalper.synthetic.market import MarketDay, generate_market_days
from scalper.synthetic.options import OptionDay, generate_option_day

DEFAULT_START = dt.date(2025, 11, 25)  # 25, 26, then 28 Nov: Thanksgiving skipped, early close on the 28th

_MARKET_TABLES: tuple[tuple[TableSpec, Callable[[MarketDay], columns.Batch]], ...] = (
    (AGG_1S, columns.seconds),
    (BARS, columns.bars),
    (TRADES, columns.trades),
    (QUOTES_1S, columns.quotes_1s),
)
_OPTION_TABLES: tuple[tuple[TableSpec, Callable[[OptionDay], columns.Batch]], ...] = (
    (OPTION_BARS, columns.option_bars),
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


@contextlib.contextmanager
def _step(report: DemoReport, console: Console, name: str) -> Iterator[None]:
    console.print(f"[bold]•[/] {name} …")
    start = time.perf_counter()
    yield
    report.steps[name] = time.perf_counter() - start


def _generate(start: dt.date, sessions: int, seed: int) -> Iterator[tuple[MarketDay, OptionDay]]:
    for day in generate_market_days(start, sessions, seed):
        yield day, generate_option_day(day, seed)


def _load(writer: BulkWriter, report: DemoReport, day: MarketDay, options: OptionDay) -> None:
    batches: list[tuple[TableSpec, columns.Batch]] = [(spec, make(day)) for spec, make in _MARKET_TABLES]
    batches += [(spec, make(options)) for spec, make in _OPTION_TABLES]
    for spec, batch in batches:
        result = writer.write(spec, batch)
        tally = report.tallies.setdefault(spec.name, _Tally())
        tally.rows += result.rows_in
        tally.seconds += result.seconds
        tally.paths.add(result.path)


def run_demo(
    ctx: AppContext, console: Console, *, start: dt.date = DEFAULT_START, sessions: int = 3, seed: int = 7
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
        with _step(report, console, f"generate and load {sessions} synthetic sessions"):
            for day, options in _generate(start, sessions, seed):
                report.sessions.append(day)
                _load(writer, report, day, options)
        with _step(report, console, "capture a live session through the feed (one injected disconnect)"):
            capture_day = _next_session(report.sessions[-1].window.day)
            report.capture = run_capture(url, day=capture_day, seed=seed)
        for spec in (*(s for s, _ in _MARKET_TABLES), *(s for s, _ in _OPTION_TABLES)):
            row = conn.execute(f"SELECT count(*) FROM {spec.name}").fetchone()  # names from our own specs
            report.stored[spec.name] = int(row[0]) if row else 0
    report.steps["total"] = time.perf_counter() - total
    _print(console, report, url)
    return report


def _print(console: Console, report: DemoReport, url: str) -> None:
    from scalper.adapters.store import redact_url

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
    timings = Table("step", "seconds", title="timings")
    for name, seconds in report.steps.items():
        timings.add_row(name, f"{seconds:.2f}")
    console.print(sessions, stored)
    if report.capture is not None:
        c = report.capture
        capture = Table("figure", "value", title=f"live capture of {c.day} (replay server → feed → database)")
        capture.add_row("events sent / received", f"{c.events_sent:,} / {c.events_received:,}")
        capture.add_row("SPX+NDX seconds sent / stored", f"{c.index_seconds_sent:,} / {c.index_seconds_stored:,}")
        capture.add_row("reconnects", str(c.reconnects))
        capture.add_row("gaps found / repaired", f"{c.gaps} / {c.gaps_repaired}")
        capture.add_row("seconds backfilled through REST", f"{c.seconds_backfilled:,}")
        console.print(capture)
    console.print(timings)
    console.print(f"database: {redact_url(url)}", highlight=False)


def _next_session(day: dt.date) -> dt.date:
    from scalper.marketdata.calendar import xnys

    cal = xnys()
    return cal.next_session(day.isoformat()).date()  # type: ignore[no-any-return]


def _et(ns: int) -> str:
    from scalper.core.timeutil import NEW_YORK, ns_to_datetime

    return ns_to_datetime(ns).astimezone(NEW_YORK).strftime("%H:%M")
