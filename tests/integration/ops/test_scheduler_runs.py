"""The scheduler against a real PostgreSQL: runs recorded in job_runs and never repeated, catch-up
after downtime, the advisory lock, failures recorded with an alert, and the real jobs (retention,
vacuum, flat-file sync from an S3 API, calendar check, weekly tune)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scalper.apps.context import AppContext
from scalper.config import Config, Secrets
from scalper.config.model import DatabaseConfig, FlatFilesConfig, SchedulerConfig
from scalper.config.secrets import Secret
from scalper.core.timeutil import NEW_YORK, datetime_to_ns
from scalper.ops.scheduler import (
    LOCK_KEY,
    CatchUp,
    Job,
    JobContext,
    JobResult,
    Schedule,
    Scheduler,
    SchedulerLocked,
    build_jobs,
)

pytestmark = pytest.mark.integration


def ny(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=NEW_YORK)


def app(db_url: str, *, secrets: Secrets | None = None, **overrides: Any) -> AppContext:
    sections: dict[str, Any] = {"database": DatabaseConfig(url=db_url)}
    scheduler = {k: v for k, v in overrides.items() if k != "flatfiles"}
    sections["scheduler"] = SchedulerConfig(**scheduler)
    if "flatfiles" in overrides:
        sections["flatfiles"] = overrides["flatfiles"]
    return AppContext(config=Config(**sections), secrets=secrets or Secrets())


def probe(
    name: str,
    calls: list[tuple[str, dt.datetime]],
    *,
    at: dt.time = dt.time(3, 0),
    catch_up: CatchUp = "each",
    error: Exception | None = None,
) -> Job:
    def run(ctx: JobContext) -> JobResult:
        calls.append((name, ctx.scheduled_for))
        if error is not None:
            raise error
        return JobResult({"call": len(calls)})

    return Job(name, Schedule("daily", at), catch_up, run)


def record_past_run(conn: psycopg.Connection[Any], job: str, scheduled_for: dt.datetime) -> None:
    conn.execute(
        "INSERT INTO job_runs (job, scheduled_for, started_at, finished_at, status) "
        "VALUES (%s, %s, %s, %s, 'succeeded')",
        (job, scheduled_for, scheduled_for, scheduled_for),
    )


def runs(conn: psycopg.Connection[Any], job: str | None = None) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT job, scheduled_for, status, detail, error FROM job_runs WHERE %s::text IS NULL OR job = %s "
        "ORDER BY scheduled_for, job",
        (job, job),
    ).fetchall()


def test_missed_nightly_runs_are_caught_up_by_policy_and_never_run_twice(db: Any, db_url: str) -> None:
    now = ny(2026, 3, 10, 12)
    three_days_ago = ny(2026, 3, 7, 3)
    record_past_run(db, "retention", three_days_ago)
    record_past_run(db, "probe", three_days_ago)
    calls: list[tuple[str, dt.datetime]] = []
    retention = build_jobs(SchedulerConfig(jobs=("retention",)))[0]
    jobs = [retention, probe("probe", calls, catch_up="each")]

    with Scheduler(db_url, app(db_url), jobs=jobs, clock=lambda: now) as scheduler:
        ran = scheduler.run_once()
        assert [(r.job, r.scheduled_for.astimezone(NEW_YORK).day, r.status) for r in ran] == [
            ("probe", 8, "succeeded"),  # each missed night, in order (across the DST change)
            ("probe", 9, "succeeded"),
            ("retention", 10, "succeeded"),  # latest only: one run covers the missed nights
            ("probe", 10, "succeeded"),
        ]
        assert all(r.scheduled_for.astimezone(NEW_YORK).time() == dt.time(3, 0) for r in ran)
        assert ran[2].detail["method"] == "delete" and set(ran[2].detail["deleted"]) == {
            "agg_1s",
            "quotes_1s",
            "trades",
        }
        assert scheduler.run_once() == []  # the same time again: nothing is due
        assert scheduler.run_once(now + dt.timedelta(hours=6)) == []
    assert len(calls) == 3

    stored = runs(db)
    assert [(j, s.astimezone(NEW_YORK).day, st) for j, s, st, _, _ in stored] == [
        ("probe", 7, "succeeded"),
        ("retention", 7, "succeeded"),
        ("probe", 8, "succeeded"),
        ("probe", 9, "succeeded"),
        ("probe", 10, "succeeded"),
        ("retention", 10, "succeeded"),
    ]
    started = db.execute("SELECT started_at, finished_at FROM job_runs WHERE scheduled_for > %s", (three_days_ago,))
    assert all(s is not None and f is not None and f >= s for s, f in started.fetchall())

    # A scheduler with a nanosecond clock, a day later: only the next night is due.
    later = datetime_to_ns(now + dt.timedelta(days=1))
    with Scheduler(db_url, app(db_url), jobs=jobs, clock=lambda: later) as scheduler:
        assert [(r.job, r.scheduled_for) for r in scheduler.run_once()] == [
            ("retention", ny(2026, 3, 11, 3)),
            ("probe", ny(2026, 3, 11, 3)),
        ]


def test_an_occurrence_with_a_row_is_never_run_again_whatever_its_status(db: Any, db_url: str) -> None:
    now = ny(2026, 3, 10, 12)
    calls: list[tuple[str, dt.datetime]] = []
    db.execute(
        "INSERT INTO job_runs (job, scheduled_for, started_at, finished_at, status, error) "
        "VALUES ('probe', %s, %s, %s, 'failed', 'earlier failure')",
        (ny(2026, 3, 10, 3), now, now),
    )
    with Scheduler(db_url, app(db_url), jobs=[probe("probe", calls)], clock=lambda: now) as scheduler:
        assert scheduler.run_once() == []
    assert calls == []


def test_a_second_scheduler_is_refused_until_the_first_releases_the_lock(db: Any, db_url: str) -> None:
    first = Scheduler(db_url, app(db_url), jobs=[])
    first.start()
    second = Scheduler(db_url, app(db_url), jobs=[])
    try:
        with pytest.raises(SchedulerLocked, match="another scheduler holds the lock") as refused:
            second.start()
        assert "held by pid" in str(refused.value) and "scalper" in str(refused.value)
        held = db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
            (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
        ).fetchone()
        assert held == (1,)
    finally:
        first.close()
    second.start()  # released: the second one starts now
    try:
        third = Scheduler(db_url, app(db_url), jobs=[])
        with pytest.raises(SchedulerLocked):
            third.start()
    finally:
        second.close()


def test_a_scheduler_whose_session_died_takes_the_lock_again_or_stops_if_another_took_it(db: Any, db_url: str) -> None:
    first = Scheduler(db_url, app(db_url), jobs=[])
    first.start()
    try:
        pid = first._lock.info.backend_pid if first._lock is not None else None
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))
        first.ensure_connected()  # lock session gone: taken again on a new one
        assert first._lock is not None and first._lock.info.backend_pid != pid

        pid = first._lock.info.backend_pid
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 60
        while db.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() != (0,):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        other = Scheduler(db_url, app(db_url), jobs=[])
        other.start()  # another scheduler took over meanwhile
        try:
            with pytest.raises(SchedulerLocked, match="another scheduler holds the lock"):
                first.ensure_connected()
        finally:
            other.close()
    finally:
        first.close()


def test_a_failing_job_is_recorded_failed_with_an_alert_and_the_others_still_run(db: Any, db_url: str) -> None:
    secret = "hook-secret-value-8841"
    now = ny(2026, 3, 10, 12)
    calls: list[tuple[str, dt.datetime]] = []
    boom = probe("boom", calls, at=dt.time(2, 0), error=RuntimeError(f"upstream refused the token {secret}"))
    after = probe("after", calls, at=dt.time(4, 0))
    vacuum = build_jobs(SchedulerConfig(jobs=("vacuum",)))[0]
    context = app(db_url, secrets=Secrets(discord_webhook_url=Secret(secret)))

    with Scheduler(db_url, context, jobs=[boom, vacuum, after], clock=lambda: now) as scheduler:
        ran = scheduler.run_once()
    assert [(r.job, r.status) for r in ran] == [("boom", "failed"), ("vacuum", "succeeded"), ("after", "succeeded")]

    failed = runs(db, "boom")
    assert len(failed) == 1 and failed[0][2] == "failed"
    assert failed[0][4] == "RuntimeError: upstream refused the token ***"
    alerts = db.execute("SELECT kind, severity, dedup_key, message, payload, ts FROM alerts").fetchall()
    assert len(alerts) == 1
    kind, severity, dedup, message, payload, ts = alerts[0]
    assert (kind, severity, dedup) == ("job_failed", "warning", "job_failed:boom")
    assert "boom" in message and "2026-03-10 02:00" in message and "***" in message and secret not in message
    assert payload["job"] == "boom" and ts == now
    everything = str(db.execute("SELECT * FROM job_runs").fetchall()) + str(
        db.execute("SELECT * FROM alerts").fetchall()
    )
    assert secret not in everything


def test_a_run_left_running_by_a_dead_scheduler_is_marked_interrupted(db: Any, db_url: str) -> None:
    db.execute(
        "INSERT INTO job_runs (job, scheduled_for, started_at, status) VALUES ('probe', %s, %s, 'running')",
        (ny(2026, 3, 9, 3), ny(2026, 3, 9, 3)),
    )
    calls: list[tuple[str, dt.datetime]] = []
    with Scheduler(db_url, app(db_url), jobs=[probe("probe", calls)]) as scheduler:
        scheduler.run_once(ny(2026, 3, 9, 12))
    (row,) = runs(db, "probe")
    assert row[2:] == ("failed", {}, "interrupted: the scheduler stopped during the run")
    assert calls == []  # the interrupted occurrence is not run again


def insert_raw(conn: psycopg.Connection[Any], first: dt.datetime, last: dt.datetime) -> None:
    """Hourly rows of two symbols in every raw table and in bars, from ``first`` to ``last``."""
    args = (["I:SPX", "SPY"], first, last)
    grid = "FROM unnest(%s::text[]) s, generate_series(%s::timestamptz, %s::timestamptz, '1 hour') t"
    conn.execute(
        f"INSERT INTO agg_1s (symbol, ts, open, high, low, close, source) SELECT s, t, 1, 1, 1, 1, 'x' {grid}", args
    )
    conn.execute(f"INSERT INTO quotes_1s (symbol, ts, bid, ask) SELECT s, t, 1, 1.01 {grid}", args)
    conn.execute(f"INSERT INTO trades (symbol, ts, sequence, price, size) SELECT s, t, 1, 1, 100 {grid}", args)
    conn.execute(
        "INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, source) "
        f"SELECT s, '1m', t, 1, 1, 1, 1, 'x' {grid}",
        args,
    )


def count(conn: psycopg.Connection[Any], table: str, where: str = "TRUE", *args: Any) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", args).fetchone()
    assert row is not None
    return int(row[0])


def test_retention_deletes_old_seconds_and_ticks_keeps_recent_ones_and_every_bar(db: Any, db_url: str) -> None:
    insert_raw(db, ny(2026, 1, 10), ny(2026, 1, 25))  # old, then a gap of a week
    insert_raw(db, ny(2026, 2, 2), ny(2026, 3, 10, 2))
    now = ny(2026, 3, 10, 12)
    scheduled = ny(2026, 3, 10, 3)
    seconds_cutoff, ticks_cutoff = scheduled - dt.timedelta(days=30), scheduled - dt.timedelta(days=10)
    old = {
        "agg_1s": count(db, "agg_1s", "ts < %s", seconds_cutoff),
        "quotes_1s": count(db, "quotes_1s", "ts < %s", ticks_cutoff),
        "trades": count(db, "trades", "ts < %s", ticks_cutoff),
    }
    kept = {
        "agg_1s": count(db, "agg_1s", "ts >= %s", seconds_cutoff),
        "quotes_1s": count(db, "quotes_1s", "ts >= %s", ticks_cutoff),
        "trades": count(db, "trades", "ts >= %s", ticks_cutoff),
    }
    bars = count(db, "bars")
    assert min(old.values()) > 0 and min(kept.values()) > 0

    context = app(db_url, jobs=("retention",), retention_days=10, retention_seconds_days=30)
    with Scheduler(db_url, context, clock=lambda: now) as scheduler:
        (run,) = scheduler.run_once()
    assert run.status == "succeeded" and run.scheduled_for == scheduled
    assert run.detail["deleted"] == old and run.detail["method"] == "delete"
    assert run.detail["retention_days"] == 10 and run.detail["retention_seconds_days"] == 30
    for table, cutoff in (("agg_1s", seconds_cutoff), ("quotes_1s", ticks_cutoff), ("trades", ticks_cutoff)):
        assert count(db, table, "ts < %s", cutoff) == 0
        assert count(db, table) == kept[table]
    assert count(db, "bars") == bars
    stored = runs(db, "retention")
    assert stored[0][2] == "succeeded" and stored[0][3]["deleted"] == old


def test_vacuum_runs_and_analyzes_the_main_tables(db: Any, db_url: str) -> None:
    insert_raw(db, ny(2026, 3, 1), ny(2026, 3, 2))
    with Scheduler(db_url, app(db_url, jobs=("vacuum",))) as scheduler:
        (run,) = scheduler.run_once(ny(2026, 3, 10, 12))
    assert run.job == "vacuum" and run.status == "succeeded"
    assert {"agg_1s", "bars", "trades", "quotes_1s", "job_runs"} <= set(run.detail["tables"])
    assert runs(db, "vacuum")[0][2] == "succeeded"
    analyzed = db.execute("SELECT reltuples FROM pg_class WHERE oid = 'agg_1s'::regclass").fetchone()
    assert analyzed == (count(db, "agg_1s"),)  # ANALYZE ran: the planner's row count is exact


def test_calendar_check_records_the_staleness_and_alerts_when_stale(db: Any, db_url: str) -> None:
    context = app(db_url, jobs=("calendar_check",))
    with Scheduler(db_url, context) as scheduler:
        (fresh,) = scheduler.run_once(ny(2025, 11, 3, 12))  # the shipped calendar covers the next weeks
        (stale,) = scheduler.run_once(ny(2025, 12, 1, 12))  # its last NFP is 2025-11-20
    assert fresh.status == "succeeded" and fresh.detail["level"] == "fresh" and "alert_id" not in fresh.detail
    assert stale.status == "succeeded" and stale.detail["level"] == "off"
    assert stale.detail["last"]["NFP"] == "2025-11-20" and stale.detail["coverage"]["NFP"] == 0
    alerts = db.execute("SELECT id, kind, severity, dedup_key, message FROM alerts").fetchall()
    assert len(alerts) == 1 and alerts[0][0] == stale.detail["alert_id"]
    assert alerts[0][1:4] == ("calendar_stale", "critical", "calendar_stale:econ") and "NFP" in alerts[0][4]


def test_the_weekly_tune_is_skipped_with_its_reason_without_a_grid_or_without_enough_data(db: Any, db_url: str) -> None:
    saturday = ny(2026, 3, 14, 15)
    with Scheduler(db_url, app(db_url, jobs=("tune_report",))) as scheduler:
        (no_grid,) = scheduler.run_once(saturday)
    assert no_grid.status == "skipped" and no_grid.scheduled_for == ny(2026, 3, 14, 14)
    assert no_grid.detail["reason"] == "no tune grid configured (scheduler.tune_grid)"

    grid = app(db_url, jobs=("tune_report",), tune_grid=("SPX_TREND_BURST.band_k=0.5,1.5",), tune_train=2, tune_test=1)
    with Scheduler(db_url, grid) as scheduler:
        (no_data,) = scheduler.run_once(saturday + dt.timedelta(days=7))
    assert no_data.status == "skipped" and no_data.detail["stored_sessions"] == 0 and no_data.detail["needed"] == 3
    assert "0 sessions with stored seconds in the last 8 weeks" in no_data.detail["reason"]
    stored = runs(db, "tune_report")
    assert [(r[2], r[3]["reason"][:2]) for r in stored] == [("skipped", "no"), ("skipped", "0 ")]
    assert all(r[4] is None for r in stored)


def test_the_weekly_tune_runs_on_the_stored_sessions_and_writes_its_result(
    db: Any, db_url: str, tmp_path: Path
) -> None:
    from scalper.adapters.store.synthetic_history import store_synthetic_sessions

    days = store_synthetic_sessions(db, dt.date(2026, 3, 2), 4, 7)  # Mon 2 .. Thu 5 March 2026
    context = app(
        db_url,
        jobs=("tune_report",),
        tune_grid=("SPX_TREND_BURST.band_k=0.5,1.5",),
        tune_train=2,
        tune_test=1,
        tune_weeks=1,
        tune_dir=tmp_path / "tune",
    )
    with Scheduler(db_url, context) as scheduler:
        (run,) = scheduler.run_once(ny(2026, 3, 7, 15))
    assert run.status == "succeeded", run.error
    assert run.detail["stored_sessions"] == 4 and run.detail["first"] == str(days[0]) and run.detail["sets"] == 2
    result = Path(run.detail["result_file"])
    assert result.parent == tmp_path / "tune" and result.exists()
    assert "band_k" in run.detail["proposal"] and run.detail["evidence"]["oos_sessions"] >= 1


def test_flatfile_sync_catches_up_one_session_per_missed_occurrence_from_s3(
    db: Any, db_url: str, s3_endpoint: str, tmp_path: Path
) -> None:
    import boto3

    from scalper.synthetic.writer import write_synthetic

    dataset, bucket = "us_indices/minute_aggs_v1", "scheduler-flatfiles"
    key_id, secret = "AKIASCHEDULER", "scheduler-secret-key-never-stored-17"
    write_synthetic(tmp_path / "synthetic", start=dt.date(2025, 11, 25), sessions=3, seed=5, what={"flatfiles"})
    client = boto3.session.Session().client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1"
    )
    client.create_bucket(Bucket=bucket)
    keys = [f"{dataset}/2025/11/2025-11-{d}.csv.gz" for d in (25, 26, 28)]
    try:
        for key in keys:
            client.put_object(Bucket=bucket, Key=key, Body=(tmp_path / "synthetic" / "flatfiles" / key).read_bytes())
        flatfiles = FlatFilesConfig(
            endpoint=s3_endpoint, bucket=bucket, cache_dir=tmp_path / "cache", datasets=(dataset,), writer_connections=1
        )
        secrets = Secrets(s3_access_key_id=Secret(key_id), s3_secret_access_key=Secret(secret))
        context = app(db_url, secrets=secrets, jobs=("flatfile_sync",), flatfiles=flatfiles)
        record_past_run(db, "flatfile_sync", ny(2025, 11, 25, 11, 30))  # the sync of Monday 24th's session
        with Scheduler(db_url, context, clock=lambda: ny(2025, 11, 29, 12)) as scheduler:
            ran = scheduler.run_once()
            assert scheduler.run_once() == []
    finally:
        for key in keys:
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)

    assert [(r.scheduled_for.astimezone(NEW_YORK).date().isoformat(), r.status) for r in ran] == [
        ("2025-11-26", "succeeded"),
        ("2025-11-27", "succeeded"),  # Thanksgiving: the sync of Wednesday's session
        ("2025-11-29", "succeeded"),  # Saturday: Friday's
    ]
    assert [r.detail["sessions"] for r in ran] == [["2025-11-25"], ["2025-11-26"], ["2025-11-28"]]
    assert all(r.detail["outcomes"] == {"loaded": 1} and r.detail["rows_written"] > 0 for r in ran)
    manifest = db.execute("SELECT session_date, status FROM flatfile_manifest ORDER BY session_date").fetchall()
    assert [(d.isoformat(), s) for d, s in manifest] == [
        ("2025-11-25", "loaded"),
        ("2025-11-26", "loaded"),
        ("2025-11-28", "loaded"),
    ]
    assert secret not in str(db.execute("SELECT * FROM job_runs").fetchall())


def test_flatfile_sync_repairs_a_session_published_after_its_run(db: Any, db_url: str, tmp_path: Path) -> None:
    import shutil

    from scalper.synthetic.writer import write_synthetic

    dataset = "us_indices/minute_aggs_v1"
    write_synthetic(tmp_path / "synthetic", start=dt.date(2025, 11, 25), sessions=3, seed=5, what={"flatfiles"})
    published = tmp_path / "published"

    def publish(day: int) -> None:
        key = f"{dataset}/2025/11/2025-11-{day}.csv.gz"
        (published / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "synthetic" / "flatfiles" / key, published / key)

    publish(25)
    flatfiles = FlatFilesConfig(local_dir=published, cache_dir=tmp_path / "cache", datasets=(dataset,))
    context = app(db_url, jobs=("flatfile_sync",), flatfiles=flatfiles)
    record_past_run(db, "flatfile_sync", ny(2025, 11, 25, 11, 30))
    with Scheduler(db_url, context) as scheduler:
        (first,) = scheduler.run_once(ny(2025, 11, 26, 12))
        (late,) = scheduler.run_once(ny(2025, 11, 27, 12))  # Wednesday's files are not there yet
        publish(26)
        publish(28)
        (repair,) = scheduler.run_once(ny(2025, 11, 29, 12))
    assert first.detail["sessions"] == ["2025-11-25"] and first.detail["pending"] == []
    assert late.status == "succeeded" and late.detail["pending"] == ["2025-11-26"]
    assert late.detail["outcomes"] == {"skipped": 1} and "not published yet" in late.detail["summary"]
    assert repair.status == "succeeded" and repair.detail["repaired"] == ["2025-11-26"]
    assert repair.detail["sessions"] == ["2025-11-26", "2025-11-28"] and repair.detail["outcomes"] == {"loaded": 2}
    manifest = db.execute("SELECT session_date FROM flatfile_manifest WHERE status = 'loaded' ORDER BY 1").fetchall()
    assert [d.isoformat() for (d,) in manifest] == ["2025-11-25", "2025-11-26", "2025-11-28"]


def test_flatfile_sync_without_files_fails_and_alerts(db: Any, db_url: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    flatfiles = FlatFilesConfig(local_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    context = app(db_url, jobs=("flatfile_sync", "vacuum"), flatfiles=flatfiles)
    with Scheduler(db_url, context) as scheduler:
        ran = scheduler.run_once(ny(2025, 11, 29, 12))
    assert [(r.job, r.status) for r in ran] == [("vacuum", "succeeded"), ("flatfile_sync", "failed")]
    assert ran[1].error == "no published flat files for the sessions before 2025-11-29"
    assert ran[1].detail["outcomes"] == {"missing": 4}
    assert db.execute("SELECT dedup_key FROM alerts").fetchall() == [("job_failed:flatfile_sync",)]


def test_run_forever_polls_until_stopped(db: Any, db_url: str) -> None:
    calls: list[tuple[str, dt.datetime]] = []
    clock_now = [ny(2026, 3, 10, 12)]
    stop = threading.Event()
    scheduler = Scheduler(db_url, app(db_url), jobs=[probe("probe", calls)], clock=lambda: clock_now[0])
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            with scheduler:
                scheduler.run_forever(0.02, stop=stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=loop)
    thread.start()
    wait_for(lambda: len(calls) == 1)
    clock_now[0] = ny(2026, 3, 11, 12)  # a day passes: the loop runs the next night's occurrence
    wait_for(lambda: len(calls) == 2)
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive() and errors == []
    assert [s.astimezone(NEW_YORK).day for _, s in calls] == [10, 11]
    assert [r[2] for r in runs(db, "probe")] == ["succeeded", "succeeded"]


def wait_for(condition: Callable[[], bool], limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
