"""``scalper scheduler`` as a user runs it: --once records the due runs and does nothing on a rerun,
--list shows them, and a second scheduler on the same database is refused while one runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import SECRET_VARS, Run
from scalper.ops.scheduler import LOCK_KEY

pytestmark = pytest.mark.e2e

JOBS = {"SCALPER_SCHEDULER__JOBS": '["retention", "vacuum", "calendar_check", "tune_report"]'}
NOW = "2026-03-14T15:00"  # a Saturday, New York time


def job_runs(db_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT job, status FROM job_runs ORDER BY scheduled_for, job").fetchall()


def test_once_runs_what_is_due_records_it_and_runs_nothing_on_a_rerun(scalper: Run, db_url: str) -> None:
    env = {"SCALPER_DATABASE_URL": db_url, **JOBS}
    out = scalper("scheduler", "--once", "--now", NOW, env=env)
    assert out.returncode == 0, out.stderr
    for line in (
        "retention (scheduled 2026-03-14 03:00:00 New York): succeeded",
        "vacuum (scheduled 2026-03-14 03:30:00 New York): succeeded",
        "calendar_check (scheduled 2026-03-14 07:00:00 New York): succeeded",
        "tune_report (scheduled 2026-03-14 14:00:00 New York): skipped — no tune grid configured",
    ):
        assert line in out.stdout
    assert job_runs(db_url) == [
        ("retention", "succeeded"),
        ("vacuum", "succeeded"),
        ("calendar_check", "succeeded"),
        ("tune_report", "skipped"),
    ]
    with psycopg.connect(db_url) as conn:
        alerts = conn.execute("SELECT kind FROM alerts").fetchall()
    assert alerts == [("calendar_stale",)]  # the shipped calendar does not reach March 2026

    again = scalper("scheduler", "--once", "--now", NOW, env=env)
    assert again.returncode == 0, again.stderr
    assert "nothing due" in again.stdout and len(job_runs(db_url)) == 4

    listing = scalper("scheduler", "--list", "--now", NOW, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "retention" in listing.stdout and "daily 03:00 New York" in listing.stdout
    assert "saturdays 14:00 New York" in listing.stdout and "2026-03-21 14:00:00" in listing.stdout  # next tune
    assert "no tune grid configured" in listing.stdout


def test_a_failed_job_makes_once_exit_1(scalper: Run, db_url: str, tmp_path: Path) -> None:
    env = {
        "SCALPER_DATABASE_URL": db_url,
        "SCALPER_SCHEDULER__JOBS": '["flatfile_sync", "vacuum"]',
        "SCALPER_FLATFILES__LOCAL_DIR": str(tmp_path),  # no files at all
    }
    out = scalper("scheduler", "--once", "--now", NOW, env=env)
    assert out.returncode == 1
    assert "flatfile_sync (scheduled 2026-03-14 11:30:00 New York): failed" in out.stdout
    assert ("vacuum", "succeeded") in job_runs(db_url)


def test_a_second_scheduler_is_refused_while_one_runs(scalper: Run, db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS and not k.startswith("SCALPER_")}
    env |= {
        "SCALPER_DATABASE_URL": db_url,
        "SCALPER_DATABASE__EMBEDDED_DIR": str(tmp_path / "pgdata"),
        "SCALPER_SCHEDULER__JOBS": '["vacuum"]',
        "COLUMNS": "200",
    }
    first = subprocess.Popen(
        [sys.executable, "-m", "scalper", "scheduler", "--poll", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not lock_held(db_url):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first scheduler never took the lock"
            time.sleep(0.1)

        second = scalper("scheduler", "--once", env={"SCALPER_DATABASE_URL": db_url, **JOBS})
        assert second.returncode == 1
        assert "another scheduler holds the lock" in second.stderr and "held by pid" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert "scheduler started" in stdout and "stopped" in stdout

    after = scalper("scheduler", "--once", env={"SCALPER_DATABASE_URL": db_url, **JOBS})
    assert after.returncode == 0, after.stderr  # the lock went with the first scheduler


def lock_held(db_url: str) -> bool:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
            (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
        ).fetchone()
    return row == (1,)
