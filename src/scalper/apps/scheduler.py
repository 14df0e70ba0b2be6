"""``scalper scheduler``: the maintenance jobs of :mod:`scalper.ops.scheduler` from the command line.

Forever (polling), once (``--once``: what is due now, then exit; ``--now`` pretends another
time), or the recorded runs and the next time of every job (``--list``).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from scalper.adapters.store.migrations import migrate
from scalper.apps.context import AppContext
from scalper.core.errors import ConfigError
from scalper.core.timeutil import NEW_YORK
from scalper.ops.scheduler import Job, RunRecord, Scheduler, build_jobs, last_runs, next_run


def parse_now(text: str) -> dt.datetime:
    """``--now``: an ISO 8601 date-time; without an offset it is New York time."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--now: value {text!r} is invalid: expected e.g. 2026-03-10T12:00 (New York time)") from None
    return value.replace(tzinfo=NEW_YORK) if value.tzinfo is None else value


def _local(value: dt.datetime | None) -> str:
    return f"{value.astimezone(NEW_YORK):%Y-%m-%d %H:%M:%S}" if value is not None else "-"


def _summary(record: RunRecord) -> str:
    if record.error:
        return record.error
    if record.status == "skipped":
        return str(record.detail.get("reason", ""))
    if "summary" in record.detail:
        return str(record.detail["summary"])
    text = ", ".join(f"{k}: {v}" for k, v in record.detail.items())
    return text if len(text) <= 160 else text[:157] + "..."


def run_line(record: RunRecord) -> str:
    """One line per finished run (printed as runs end)."""
    return f"{record.job} (scheduled {_local(record.scheduled_for)} New York): {record.status} — {_summary(record)}"


def runs_table(records: Sequence[RunRecord], title: str) -> Table:
    table = Table("job", "scheduled for (NY)", "status", "started (NY)", "took", "detail / error", title=title)
    for r in records:
        took = (
            f"{(r.finished_at - r.started_at).total_seconds():.1f} s"
            if r.finished_at is not None and r.started_at is not None
            else "-"
        )
        colour = {"succeeded": "green", "failed": "red", "skipped": "yellow"}.get(r.status, "white")
        table.add_row(
            r.job, _local(r.scheduled_for), f"[{colour}]{r.status}[/]", _local(r.started_at), took, _summary(r)
        )
    return table


def jobs_table(jobs: Sequence[Job], records: Sequence[RunRecord], now: dt.datetime) -> Table:
    table = Table("job", "schedule", "catch-up", "last run (NY)", "last status", "next run (NY)", title="jobs")
    latest: dict[str, RunRecord] = {}
    for r in records:
        latest.setdefault(r.job, r)
    for job in jobs:
        last = latest.get(job.name)
        table.add_row(
            job.name,
            job.schedule.describe(),
            job.catch_up,
            _local(last.scheduled_for) if last else "never",
            last.status if last else "-",
            _local(next_run(job.schedule, now)),
        )
    return table


def scheduler_command(
    ctx: AppContext,
    console: Console,
    *,
    once: bool,
    show: bool,
    now: dt.datetime | None,
    poll_s: float | None,
) -> bool:
    """Run the scheduler as asked; returns whether every run it made succeeded (or was skipped)."""
    if now is not None and not (once or show):
        raise ConfigError("--now: only with --once or --list (the forever loop follows the real clock)")
    with ctx.database() as (url, conn):
        migrate(conn)
        if show:
            at = now or dt.datetime.now(dt.UTC)
            records = last_runs(conn, per_job=5)
            console.print(jobs_table(build_jobs(ctx.config.scheduler), records, at))
            console.print(runs_table(records, "recent runs") if records else "no recorded runs")
            return True
        failed: list[RunRecord] = []

        def report(record: RunRecord) -> None:
            console.print(run_line(record), highlight=False, markup=False)
            if record.status == "failed":
                failed.append(record)

        with Scheduler(url, ctx, on_run=report) as scheduler:
            if once:
                ran = scheduler.run_once(now)
                if not ran:
                    console.print("nothing due")
                return not failed
            names = ", ".join(j.name for j in scheduler.jobs) or "none"
            poll = poll_s if poll_s is not None else ctx.config.scheduler.poll_s
            console.print(f"scheduler started (jobs: {names}; polling every {poll:g} s; Ctrl-C stops)")
            with _Stop() as stop:
                scheduler.run_forever(poll, stop=stop)
            console.print("stopped")
            return True


class _Stop:
    """A stop event set by SIGTERM (the current job finishes first)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.previous: Any = None

    def __enter__(self) -> threading.Event:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, lambda *_: self.event.set())
        return self.event

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
