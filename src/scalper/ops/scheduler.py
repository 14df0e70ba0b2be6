"""The maintenance scheduler: jobs at New York times, recorded in ``job_runs``, caught up after
downtime, one instance per database.

Schedules (:class:`Schedule`) are wall-clock times in America/New_York, so a job keeps its local
time across daylight-saving changes: a time inside the spring-forward gap runs an hour later (at
the same UTC instant as the standard-time reading), and a time in the repeated fall-back hour
runs once, at its first reading. Cadences: ``daily``, ``weekly`` (one weekday) and
``after_session`` (the calendar day after each XNYS session, holidays and weekends having none).

:func:`due_runs` is the catch-up, a pure function: every scheduled time in (last run, now],
bounded to the job's catch-up window; a job whose policy is ``latest`` (idempotent jobs such as
retention or vacuum) runs only the most recent of them, one whose policy is ``each`` runs every
missed occurrence in order (``flatfile_sync``: each one loads a different session). A job that
never ran starts with the latest occurrence only.

Each run is a ``job_runs`` row inserted ``running`` before the job starts and updated to
``succeeded``, ``skipped`` (with the reason in ``detail``) or ``failed`` (with the error, secrets
removed) afterwards. The insert is ``ON CONFLICT (job, scheduled_for) DO NOTHING``: an occurrence
that has a row, whatever its status, is never run again. A failed run raises a ``job_failed``
alert and the other jobs still run.

One scheduler per database: :class:`Scheduler` takes the session-level advisory lock
:data:`LOCK_KEY` on a dedicated connection and keeps it while it lives; a second one gets
:class:`SchedulerLocked` ("another scheduler holds the lock"). Rows left ``running`` by a
scheduler that died are marked failed (interrupted) by the next one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from scalper.adapters.store import connect, redact_url
from scalper.adapters.store.alerts import record_alert
from scalper.apps.context import AppContext
from scalper.config.model import SchedulerConfig
from scalper.core.errors import ScalperError, StoreError
from scalper.core.timeutil import NEW_YORK, datetime_to_ns, ns_to_datetime

log = logging.getLogger(__name__)

LOCK_KEY = 0x7363616C73636864  # b"scalschd": the scheduler's session-level advisory lock (one per database)

CatchUp = Literal["each", "latest"]
Cadence = Literal["daily", "weekly", "after_session"]
Status = Literal["succeeded", "failed", "skipped"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
JOB_NAMES = ("flatfile_sync", "retention", "vacuum", "calendar_check", "tune_report")
RAW_TABLES = ("agg_1s", "quotes_1s", "trades")  # one-second data and ticks; bars are never deleted
VACUUM_TABLES = (
    "agg_1s", "bars", "quotes_1s", "trades", "features", "option_snapshots", "option_bars",
    "flatfile_manifest", "job_runs", "alerts",
)  # fmt: skip
_ERROR_CHARS = 2000


class SchedulerLocked(ScalperError):
    """Another scheduler holds the advisory lock on this database."""


class JobFailed(ScalperError):
    """A job ran but did not do its work; ``detail`` is recorded with the error."""

    def __init__(self, message: str, detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = dict(detail or {})


# --- schedules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job is due: ``at`` New York time, every day, on one weekday, or after each session."""

    cadence: Cadence
    at: dt.time
    weekday: int = 5  # weekly only: 0 = Monday ... 6 = Sunday

    def __post_init__(self) -> None:
        if self.at.tzinfo is not None:
            raise ValueError("Schedule.at is a New York wall-clock time: expected a naive time")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"Schedule.weekday: expected 0 (Monday) to 6 (Sunday), was {self.weekday}")

    def describe(self) -> str:
        when = f"{self.at:%H:%M} New York"
        if self.cadence == "daily":
            return f"daily {when}"
        if self.cadence == "weekly":
            return f"{WEEKDAYS[self.weekday]}s {when}"
        return f"{when} on the day after each XNYS session"


def at_new_york(day: dt.date, at: dt.time) -> dt.datetime:
    """``at`` New York time on ``day``, as an aware UTC datetime.

    A time inside the spring-forward gap (02:00-03:00) is read with the standard-time offset, i.e.
    it comes an hour later in daylight time; an ambiguous fall-back time is its first reading.
    """
    return dt.datetime.combine(day, at.replace(fold=0), NEW_YORK).astimezone(dt.UTC)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _sessions(first: dt.date, last: dt.date) -> list[dt.date]:
    """XNYS sessions from ``first`` to ``last`` (inclusive), clipped to the calendar's range."""
    import pandas as pd

    from scalper.marketdata.calendar import xnys

    cal = xnys()
    lo = max(first, cal.first_session.date())
    hi = min(last, cal.last_session.date())
    if hi < lo:
        return []
    return [ts.date() for ts in cal.sessions_in_range(pd.Timestamp(lo), pd.Timestamp(hi))]


def occurrences(schedule: Schedule, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """Every scheduled time in (``after``, ``until``], in order, as aware UTC datetimes."""
    after, until = _aware(after), _aware(until)
    if until <= after:
        return []
    first = after.astimezone(NEW_YORK).date() - dt.timedelta(days=1)
    last = until.astimezone(NEW_YORK).date() + dt.timedelta(days=1)
    if schedule.cadence == "daily":
        days = _days(first, last)
    elif schedule.cadence == "weekly":
        days = [d for d in _days(first, last) if d.weekday() == schedule.weekday]
    else:
        days = [s + dt.timedelta(days=1) for s in _sessions(first - dt.timedelta(days=1), last)]
    times = (at_new_york(d, schedule.at) for d in days)
    return sorted({t for t in times if after < t <= until})


def next_run(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The first scheduled time after ``now`` (``None`` beyond the calendar's last session)."""
    upcoming = occurrences(schedule, now, _aware(now) + dt.timedelta(days=15))
    return upcoming[0] if upcoming else None


# --- jobs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a job did: ``detail`` (stored as JSON); ``skipped`` holds the reason it did nothing."""

    detail: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job gets: the scheduler's work connection (autocommit), the database URL, the
    application context (its database pinned to that URL) and the occurrence being run."""

    conn: psycopg.Connection[Any]
    url: str
    app: AppContext
    scheduled_for: dt.datetime
    now: dt.datetime

    @property
    def config(self) -> SchedulerConfig:
        return self.app.config.scheduler

    @property
    def day(self) -> dt.date:
        """The New York date of the occurrence."""
        return self.scheduled_for.astimezone(NEW_YORK).date()


JobFunction = Callable[[JobContext], JobResult]


@dataclass(frozen=True, slots=True)
class Job:
    """A named job: its schedule, its catch-up policy and the function that does the work.

    ``catch_up``: ``each`` runs every missed occurrence (in order), ``latest`` only the most
    recent one (for jobs where a later run subsumes the earlier ones). Occurrences older than
    ``window`` are never caught up.
    """

    name: str
    schedule: Schedule
    catch_up: CatchUp
    run: JobFunction
    window: dt.timedelta = dt.timedelta(days=7)


def due_runs(job: Job, last_scheduled_for: dt.datetime | None, now: dt.datetime) -> list[dt.datetime]:
    """The occurrences of ``job`` to run now, in order: those in (``last_scheduled_for``, ``now``]
    and within the job's catch-up window, all of them (``each``) or the latest (``latest``); only
    the latest when the job never ran (``last_scheduled_for`` is ``None``)."""
    now = _aware(now)
    start = now - job.window
    if last_scheduled_for is not None and _aware(last_scheduled_for) > start:
        start = _aware(last_scheduled_for)
    runs = occurrences(job.schedule, start, now)
    if last_scheduled_for is None or job.catch_up == "latest":
        return runs[-1:]
    return runs


def _timescale_installed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT extname FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def retention(ctx: JobContext) -> JobResult:
    """Delete raw data older than its retention age: trades and quotes_1s after ``retention_days``,
    agg_1s after ``retention_seconds_days`` (as of the scheduled time); bars are kept.

    Plain PostgreSQL: per table and symbol, one DELETE per day of data (index range scans on the
    (symbol, ts) primary key, each statement bounded to a day). TimescaleDB (a separate branch):
    ``drop_chunks`` on the hypertables, which drops whole chunks older than the cutoff; compression
    of recent chunks is TimescaleDB's own policy (migration 0005).
    """
    cfg = ctx.config
    local = ctx.scheduled_for.astimezone(NEW_YORK)  # days back on the New York wall clock

    def days_before(days: int) -> dt.datetime:
        return (local - dt.timedelta(days=days)).astimezone(dt.UTC)

    cutoffs = {
        "agg_1s": days_before(cfg.retention_seconds_days),
        "quotes_1s": days_before(cfg.retention_days),
        "trades": days_before(cfg.retention_days),
    }
    detail: dict[str, Any] = {
        "retention_days": cfg.retention_days,
        "retention_seconds_days": cfg.retention_seconds_days,
        "cutoff": {t: c.isoformat() for t, c in cutoffs.items()},
    }
    if _timescale_installed(ctx.conn):
        done = _retention_timescale(ctx.conn, cutoffs)
        dropped = ", ".join(f"{t} {n}" for t, n in done["chunks_dropped"].items())
        return JobResult({"summary": f"chunks dropped: {dropped}", **detail, **done})
    deleted = {table: _delete_older(ctx.conn, table, cutoff) for table, cutoff in cutoffs.items()}
    summary = f"rows deleted: {', '.join(f'{t} {n:,}' for t, n in deleted.items())}"
    return JobResult({"summary": summary, **detail, "method": "delete", "deleted": deleted})


def _symbols(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """The distinct symbols of ``table``: a loose index scan of its (symbol, ts) primary key."""
    rows = conn.execute(
        f"WITH RECURSIVE s(symbol) AS ("
        f"(SELECT symbol FROM {table} ORDER BY symbol LIMIT 1) UNION ALL "
        f"SELECT (SELECT t.symbol FROM {table} t WHERE t.symbol > s.symbol ORDER BY t.symbol LIMIT 1) "
        f"FROM s WHERE s.symbol IS NOT NULL) SELECT symbol FROM s WHERE symbol IS NOT NULL"
    ).fetchall()
    return [r[0] for r in rows]


def _delete_older(conn: psycopg.Connection[Any], table: str, cutoff: dt.datetime) -> int:
    """Delete ``table``'s rows with ts < ``cutoff``, a day of one symbol per statement."""
    if table not in RAW_TABLES:
        raise ValueError(f"retention: {table} is not a raw table")
    total = 0
    for symbol in _symbols(conn, table):
        lo_row = conn.execute(f"SELECT min(ts) FROM {table} WHERE symbol = %s", (symbol,)).fetchone()
        lo = lo_row[0] if lo_row is not None else None
        while lo is not None and lo < cutoff:
            hi = min(lo + dt.timedelta(days=1), cutoff)
            cur = conn.execute(
                f"DELETE FROM {table} WHERE symbol = %s AND ts >= %s AND ts < %s",
                (symbol, lo, hi),
            )
            total += max(cur.rowcount, 0)
            nxt = conn.execute(
                f"SELECT min(ts) FROM {table} WHERE symbol = %s AND ts >= %s",
                (symbol, hi),
            ).fetchone()
            lo = nxt[0] if nxt is not None else None
    return total


def _retention_timescale(conn: psycopg.Connection[Any], cutoffs: Mapping[str, dt.datetime]) -> dict[str, Any]:
    """TimescaleDB: drop whole chunks older than the cutoff of each hypertable (a table that is not
    a hypertable falls back to the plain delete)."""
    dropped: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for table, cutoff in cutoffs.items():
        hyper = conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s", (table,)
        ).fetchone()
        if hyper is None:
            deleted[table] = _delete_older(conn, table, cutoff)
            continue
        rows = conn.execute("SELECT drop_chunks(%s::regclass, older_than => %s)", (table, cutoff)).fetchall()
        dropped[table] = len(rows)
    return {"method": "drop_chunks", "chunks_dropped": dropped, "deleted": deleted}


def vacuum(ctx: JobContext) -> JobResult:
    """``VACUUM (ANALYZE)`` of the main tables, one statement each (needs autocommit)."""
    if not ctx.conn.autocommit:
        raise JobFailed("vacuum: VACUUM cannot run inside a transaction; the connection must be autocommit")
    seconds: dict[str, float] = {}
    for table in VACUUM_TABLES:
        exists = ctx.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not (exists and exists[0]):
            continue
        began = time.perf_counter()
        ctx.conn.execute(f"VACUUM (ANALYZE) {table}")
        seconds[table] = round(time.perf_counter() - began, 3)
    total = sum(seconds.values())
    return JobResult({"summary": f"{len(seconds)} tables vacuumed and analyzed in {total:.1f} s", "tables": seconds})


def flatfile_sync(ctx: JobContext) -> JobResult:
    """``scalper sync`` as of the occurrence's New York date (the newest published session before
    it), then a repair: sessions between the newest fully loaded one before the target and the
    target that are still not loaded (files published late, after an earlier run) are backfilled;
    bounded to the catch-up window. The target itself, when not yet published, is left ``pending``
    for the next run's repair."""
    from scalper.adapters.flatfiles import check_datasets
    from scalper.apps.backfill import run_backfill, run_sync

    datasets = check_datasets(list(ctx.app.config.flatfiles.datasets))
    before = _sessions(ctx.day - dt.timedelta(days=ctx.config.catch_up_days), ctx.day - dt.timedelta(days=1))
    target = before[-1] if before else None
    results = list(run_sync(ctx.app, None, today=ctx.day, datasets=datasets))
    repaired: list[str] = []
    if target is not None:
        loaded = _loaded_sessions(ctx.conn, datasets, before[0])
        older = [d for d in loaded if d < target]
        gaps = [d for d in before if older and max(older) < d < target and d not in loaded]
        if gaps:
            results += run_backfill(ctx.app, None, first=gaps[0], last=gaps[-1], datasets=datasets)
            repaired = [d.isoformat() for d in gaps]
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    sessions = sorted({r.day.isoformat() for r in results if r.outcome != "missing"})
    pending = [] if target is None or target.isoformat() in sessions else [target.isoformat()]
    rows = sum(r.rows_written for r in results)
    summary = f"sessions {', '.join(sessions) or 'none'}: " + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
    summary += f", {rows:,} rows written" + (f"; {pending[0]} not published yet" if pending else "")
    detail: dict[str, Any] = {
        "summary": summary,
        "as_of": ctx.day.isoformat(),
        "sessions": sessions,
        "repaired": repaired,
        "pending": pending,
        "outcomes": outcomes,
        "rows_written": rows,
    }
    failed = [r for r in results if r.outcome == "failed"]
    if failed:
        raise JobFailed(f"{len(failed)} flat file(s) failed: {failed[0].error}", detail)
    if not sessions:
        raise JobFailed(f"no published flat files for the sessions before {ctx.day}", detail)
    return JobResult(detail)


def _loaded_sessions(conn: psycopg.Connection[Any], datasets: Sequence[str], since: dt.date) -> set[dt.date]:
    """Sessions since ``since`` whose files of every dataset are loaded (per the backfill's manifest)."""
    rows = conn.execute(
        "SELECT session_date FROM flatfile_manifest WHERE status = 'loaded' AND dataset = ANY(%s) "
        "AND session_date >= %s GROUP BY session_date HAVING count(DISTINCT dataset) = %s",
        (list(datasets), since, len(set(datasets))),
    ).fetchall()
    return {r[0] for r in rows}


def calendar_check(ctx: JobContext) -> JobResult:
    """The economic calendar's staleness as the session policy sees it (shipped snapshot loaded
    when the table is empty); anything but ``fresh`` raises a ``calendar_stale`` alert."""
    from scalper.econ.flags import staleness, xnys_sessions_from
    from scalper.econ.store import ensure_loaded, read_events
    from scalper.strategy.thresholds import load_thresholds

    cal = load_thresholds().policy.calendar
    ensure_loaded(ctx.conn)
    stale = staleness(
        read_events(ctx.conn),
        ctx.day,
        xnys_sessions_from(ctx.day, cal.reduce_below_sessions),
        kinds=cal.required_kinds,
        reduce_below=cal.reduce_below_sessions,
        off_below=cal.off_below_sessions,
    )
    detail: dict[str, Any] = {
        "summary": f"calendar {stale.level}: {stale.describe()}",
        "as_of": ctx.day.isoformat(),
        "level": stale.level,
        "coverage": stale.coverage,
        "last": {k: (v.isoformat() if v else None) for k, v in stale.last.items()},
        "describe": stale.describe(),
    }
    if stale.level != "fresh":
        detail["alert_id"] = record_alert(
            ctx.conn,
            ts_ns=datetime_to_ns(ctx.now),
            kind="calendar_stale",
            severity="critical" if stale.level == "off" else "warning",
            message=f"economic calendar {stale.level} as of {ctx.day}: {stale.describe()}; "
            "refresh it with scalper calendar refresh",
            payload={"level": stale.level, "coverage": stale.coverage},
            dedup_key="calendar_stale:econ",
        )
    return JobResult(detail)


def _stored_sessions(conn: psycopg.Connection[Any], symbols: Sequence[str], days: Iterable[dt.date]) -> list[dt.date]:
    """The sessions among ``days`` with stored seconds of every symbol."""
    stored = []
    for day in days:
        lo = dt.datetime.combine(day, dt.time(0), NEW_YORK)
        hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), NEW_YORK)
        found = 0
        for symbol in symbols:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM agg_1s WHERE symbol = %s AND ts >= %s AND ts < %s)", (symbol, lo, hi)
            ).fetchone()
            found += bool(row is not None and row[0])
        if found == len(symbols):
            stored.append(day)
    return stored


def tune_report(ctx: JobContext) -> JobResult:
    """``scalper tune`` over the stored sessions of the last ``tune_weeks`` weeks with the configured
    grid; the result file is written (never applied). Skipped without a grid or with fewer stored
    sessions than ``tune_train + tune_test``."""
    cfg = ctx.config
    if not cfg.tune_grid:
        return JobResult({"tune_weeks": cfg.tune_weeks}, skipped="no tune grid configured (scheduler.tune_grid)")
    from scalper.apps.backtest import run_backtest, sessions_between
    from scalper.apps.tune import parse_grid, run_tune
    from scalper.strategy.thresholds import Thresholds, load_thresholds

    thresholds = load_thresholds()
    axes = parse_grid(list(cfg.tune_grid), thresholds)
    window = sessions_between(ctx.day - dt.timedelta(weeks=cfg.tune_weeks), ctx.day - dt.timedelta(days=1))
    stored = _stored_sessions(ctx.conn, ctx.app.config.feed.index_symbols, window)
    need = cfg.tune_train + cfg.tune_test
    detail: dict[str, Any] = {"tune_weeks": cfg.tune_weeks, "stored_sessions": len(stored), "needed": need}
    if len(stored) < need:
        reason = (
            f"{len(stored)} sessions with stored seconds in the last {cfg.tune_weeks} weeks; "
            f"the tune needs tune_train + tune_test = {need}"
        )
        return JobResult(detail, skipped=reason)
    days = sessions_between(stored[0], stored[-1])
    plays = sorted({a.play for a in axes})
    stamp = f"{ctx.scheduled_for:%Y%m%dT%H%M%S}"

    def backtest(variant: Thresholds, run_id: str) -> Any:
        report = run_backtest(
            ctx.url, ctx.app.config, variant, first=days[0], last=days[-1], run_id=run_id, plays=plays
        )
        return report.trips

    result = run_tune(backtest, thresholds, axes, days, train=cfg.tune_train, test=cfg.tune_test, stamp=stamp)
    out_dir = cfg.tune_dir or _default_tune_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"tune-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return JobResult(
        {
            "summary": f"{len(result['sets'])} sets over {days[0]} to {days[-1]}; proposal "
            f"{result['sets'][result['proposal']]['label']}; written to {path}",
            **detail,
            "first": str(days[0]),
            "last": str(days[-1]),
            "sets": len(result["sets"]),
            "proposal": result["sets"][result["proposal"]]["label"],
            "evidence": result["evidence"],
            "result_file": str(path),
        }
    )


def _default_tune_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("scalper")) / "tune"


JOB_FUNCTIONS: dict[str, tuple[JobFunction, CatchUp]] = {
    "flatfile_sync": (flatfile_sync, "each"),  # each occurrence loads its own session
    "retention": (retention, "latest"),  # the latest cutoff covers every earlier one
    "vacuum": (vacuum, "latest"),
    "calendar_check": (calendar_check, "latest"),  # only today's staleness matters
    "tune_report": (tune_report, "latest"),  # the latest weeks subsume the earlier ones
}


def build_jobs(config: SchedulerConfig) -> list[Job]:
    """The enabled jobs with their configured schedules, in the order they run at equal times."""
    window = dt.timedelta(days=config.catch_up_days)
    schedules = {
        "flatfile_sync": Schedule("after_session", config.flatfile_sync_at),
        "retention": Schedule("daily", config.retention_at),
        "vacuum": Schedule("daily", config.vacuum_at),
        "calendar_check": Schedule("daily", config.calendar_check_at),
        "tune_report": Schedule("weekly", config.tune_report_at, WEEKDAYS.index(config.tune_report_day)),
    }
    jobs = []
    for name in JOB_NAMES:
        if name in config.jobs:
            function, policy = JOB_FUNCTIONS[name]
            jobs.append(Job(name, schedules[name], policy, function, window))
    return jobs


# --- recording and running --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One recorded run, as stored in ``job_runs``."""

    job: str
    scheduled_for: dt.datetime
    status: str
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


Clock = Callable[[], dt.datetime | int]


def _aware(value: dt.datetime | int) -> dt.datetime:
    """An aware UTC datetime from an aware datetime or integer nanoseconds UTC (naive refused)."""
    if isinstance(value, int):
        return ns_to_datetime(value)
    if value.tzinfo is None:
        raise ValueError(f"expected an aware datetime, was naive: {value.isoformat()}")
    return value.astimezone(dt.UTC)


def _json(detail: Mapping[str, Any]) -> Jsonb:
    return Jsonb(json.loads(json.dumps(dict(detail), default=str)))


def pinned(app: AppContext, url: str) -> AppContext:
    """``app`` with its database pinned to ``url`` (jobs reuse the scheduler's database, never
    start another embedded server)."""
    database = app.config.database.model_copy(update={"url": url})
    config = app.config.model_copy(update={"database": database})
    return dataclasses.replace(app, config=config)


class Scheduler:
    """Runs the jobs when due; use as a context manager (takes the lock, opens the connections).

    ``clock`` returns the current time (aware datetime or ns UTC); tests inject their own.
    """

    def __init__(
        self,
        url: str,
        app: AppContext,
        *,
        jobs: Sequence[Job] | None = None,
        clock: Clock | None = None,
        on_run: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self.url = url
        self.app = pinned(app, url)
        self.jobs = list(jobs if jobs is not None else build_jobs(app.config.scheduler))
        self._clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._on_run = on_run
        self._lock: psycopg.Connection[Any] | None = None
        self._work: psycopg.Connection[Any] | None = None
        self._secrets = [s.reveal() for s in vars_of(app.secrets) if s is not None]

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> psycopg.Connection[Any]:
        db = self.app.config.database
        return connect(self.url, timeout_s=db.connect_timeout_s, statement_timeout_s=db.statement_timeout_s)

    def start(self) -> None:
        """Take the advisory lock (or raise :class:`SchedulerLocked`) and open the work connection."""
        self._take_lock()
        self._work = self._connect()

    def _take_lock(self) -> None:
        db = self.app.config.database
        conn = connect(self.url, timeout_s=db.connect_timeout_s)  # no statement timeout: it idles for ever
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s::bigint)", (LOCK_KEY,)).fetchone()
            if row is None or not row[0]:
                raise SchedulerLocked(
                    f"another scheduler holds the lock (advisory lock {LOCK_KEY} on this database{holder(conn)}); "
                    "stop it first, or see its runs with: scalper scheduler --list"
                )
        except BaseException:
            conn.close()
            raise
        self._lock = conn

    def close(self) -> None:
        """Release the lock and close the connections."""
        if self._work is not None:
            self._work.close()
            self._work = None
        if self._lock is not None:
            try:
                if not self._lock.closed and not self._lock.broken:
                    self._lock.execute("SELECT pg_advisory_unlock(%s::bigint)", (LOCK_KEY,))
            except psycopg.Error:
                pass  # the session ends below, which releases the lock anyway
            finally:
                self._lock.close()
                self._lock = None

    def ensure_connected(self) -> None:
        """Check the lock's session is alive (take the lock again if it died: another scheduler
        may have taken it meanwhile, then :class:`SchedulerLocked`); reopen a broken work connection."""
        if self._lock is None:
            raise StoreError("the scheduler is not started")
        try:
            self._lock.execute("SELECT 1")
        except psycopg.Error:
            log.warning("scheduler: the lock's connection was lost; taking the lock again")
            self._lock.close()
            self._lock = None
            self._take_lock()
        if self._work is None or self._work.closed or self._work.broken:
            if self._work is not None:
                self._work.close()
            self._work = self._connect()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._work is None:
            raise StoreError("the scheduler is not started")
        return self._work

    def now(self) -> dt.datetime:
        return _aware(self._clock())

    def last_scheduled(self, job: str) -> dt.datetime | None:
        row = self.conn.execute("SELECT max(scheduled_for) FROM job_runs WHERE job = %s", (job,)).fetchone()
        return row[0] if row is not None else None

    def due(self, now: dt.datetime | None = None) -> list[tuple[dt.datetime, Job]]:
        """Every (occurrence, job) due at ``now``, in the order they run."""
        at = self.now() if now is None else _aware(now)
        planned: list[tuple[dt.datetime, int, Job]] = []
        for index, job in enumerate(self.jobs):
            planned.extend((t, index, job) for t in due_runs(job, self.last_scheduled(job.name), at))
        planned.sort(key=lambda p: (p[0], p[1]))
        return [(t, job) for t, _, job in planned]

    def run_once(self, now: dt.datetime | int | None = None) -> list[RunRecord]:
        """Run every due occurrence (by time, then job order); returns what ran."""
        at = self.now() if now is None else _aware(now)
        self._recover_interrupted()
        records = []
        for scheduled_for, job in self.due(at):
            record = self._execute(job, scheduled_for, at)
            if record is not None:
                records.append(record)
                if self._on_run is not None:
                    self._on_run(record)
        return records

    def run_forever(self, poll_s: float | None = None, *, stop: threading.Event | None = None) -> None:
        """Poll every ``poll_s`` seconds (default ``scheduler.poll_s``) until ``stop`` is set.

        A database problem is logged and retried at the next poll; losing the lock to another
        scheduler raises :class:`SchedulerLocked`.
        """
        poll = poll_s if poll_s is not None else self.app.config.scheduler.poll_s
        stopping = stop or threading.Event()
        while not stopping.is_set():
            try:
                self.ensure_connected()
                self.run_once()
            except SchedulerLocked:
                raise
            except (StoreError, psycopg.Error) as exc:
                log.warning("scheduler: database problem, retrying in %.0f s: %s", poll, self.scrub(str(exc)))
            stopping.wait(poll)

    def scrub(self, text: str) -> str:
        """``text`` without any secret value or database password."""
        text = text.replace(self.url, redact_url(self.url))
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    def _recover_interrupted(self) -> None:
        """Rows left ``running`` are from a scheduler that died (this one holds the lock and runs
        nothing at this point): mark them failed."""
        cur = self.conn.execute(
            "UPDATE job_runs SET status = 'failed', finished_at = clock_timestamp(), "
            "error = 'interrupted: the scheduler stopped during the run' WHERE status = 'running'"
        )
        if cur.rowcount:
            log.warning("scheduler: %d run(s) left running by a stopped scheduler marked failed", cur.rowcount)

    def _execute(self, job: Job, scheduled_for: dt.datetime, now: dt.datetime) -> RunRecord | None:
        row = self.conn.execute(
            "INSERT INTO job_runs (job, scheduled_for, started_at, status) VALUES (%s, %s, clock_timestamp(), "
            "'running') ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING id, started_at",
            (job.name, scheduled_for),
        ).fetchone()
        if row is None:
            log.info("scheduler: %s at %s already has a run; not run again", job.name, scheduled_for.isoformat())
            return None
        run_id, started_at = row
        log.info("scheduler: %s (scheduled for %s) started", job.name, scheduled_for.astimezone(NEW_YORK).isoformat())
        status: Status = "succeeded"
        detail: dict[str, Any] = {}
        error: str | None = None
        try:
            result = job.run(JobContext(self.conn, self.url, self.app, scheduled_for, now))
            detail = dict(result.detail)
            if result.skipped is not None:
                status, detail["reason"] = "skipped", result.skipped
        except Exception as exc:
            status = "failed"
            detail = dict(exc.detail) if isinstance(exc, JobFailed) else {}
            error = self.scrub(str(exc) if isinstance(exc, ScalperError) else f"{type(exc).__name__}: {exc}")
            error = error[:_ERROR_CHARS]
            log.warning("scheduler: %s (scheduled for %s) failed: %s", job.name, scheduled_for.isoformat(), error)
        except BaseException:
            self._finish(run_id, "failed", {}, "interrupted: the scheduler stopped during the run")
            raise
        finished_at = self._finish(run_id, status, detail, error)
        if status == "failed":
            self._alert_failed(job, scheduled_for, now, error or "")
        return RunRecord(job.name, scheduled_for, status, started_at, finished_at, detail, error)

    def _finish(self, run_id: int, status: str, detail: Mapping[str, Any], error: str | None) -> dt.datetime | None:
        if self.conn.broken or self.conn.closed:
            self._work = self._connect()
        row = self.conn.execute(
            "UPDATE job_runs SET status = %s, finished_at = clock_timestamp(), detail = %s, error = %s "
            "WHERE id = %s RETURNING finished_at",
            (status, _json(detail), error, run_id),
        ).fetchone()
        return row[0] if row is not None else None

    def _alert_failed(self, job: Job, scheduled_for: dt.datetime, now: dt.datetime, error: str) -> None:
        local = scheduled_for.astimezone(NEW_YORK)
        try:
            record_alert(
                self.conn,
                ts_ns=datetime_to_ns(now),
                kind="job_failed",
                severity="warning",
                message=f"scheduled job {job.name} ({local:%Y-%m-%d %H:%M} New York) failed: {error}"[:_ERROR_CHARS],
                payload={"job": job.name, "scheduled_for": scheduled_for.isoformat()},
                dedup_key=f"job_failed:{job.name}",
            )
        except StoreError as exc:
            log.error("scheduler: the job_failed alert of %s could not be recorded: %s", job.name, exc)


def vars_of(secrets: Any) -> list[Any]:
    """The values of every field of a :class:`~scalper.config.Secrets`."""
    return [getattr(secrets, f.name) for f in dataclasses.fields(secrets)]


def holder(conn: psycopg.Connection[Any]) -> str:
    """``, held by pid N (application, since T)`` for the scheduler lock's holder, when visible."""
    try:
        row = conn.execute(
            "SELECT l.pid, a.application_name, a.backend_start FROM pg_locks l "
            "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid AND l.objsubid = 1",
            (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
        ).fetchone()
    except psycopg.Error:
        return ""
    if row is None:
        return ""
    since = f", since {row[2]:%Y-%m-%d %H:%M:%S %Z}" if row[2] is not None else ""
    return f", held by pid {row[0]} ({row[1] or 'unknown application'}{since})"


def last_runs(conn: psycopg.Connection[Any], per_job: int = 5) -> list[RunRecord]:
    """The latest ``per_job`` runs of every job that ran, by job then newest first."""
    rows = conn.execute(
        "SELECT job, scheduled_for, status, started_at, finished_at, detail, error FROM ("
        " SELECT *, row_number() OVER (PARTITION BY job ORDER BY scheduled_for DESC) AS n FROM job_runs"
        ") r WHERE n <= %s ORDER BY job, scheduled_for DESC",
        (per_job,),
    ).fetchall()
    return [RunRecord(r[0], r[1], r[2], r[3], r[4], dict(r[5] or {}), r[6]) for r in rows]
