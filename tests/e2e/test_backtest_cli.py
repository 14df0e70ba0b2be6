"""`scalper backtest` and `scalper export` as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest

from conftest import Run
from scalper.adapters.store.synthetic_history import store_synthetic_sessions

pytestmark = pytest.mark.e2e


def test_backtest_prints_the_trades_and_writes_the_report_and_export_feeds_it(
    scalper: Run, db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_synthetic_sessions(conn, dt.date(2025, 9, 8), 7, 7)  # six sessions of history, then 2025-09-16
    env = {"SCALPER_DATABASE_URL": db_url}
    out = scalper(
        "backtest",
        "--from",
        "2025-09-16",
        "--to",
        "2025-09-16",
        "--run-id",
        "cli-bt",
        "--report",
        str(tmp_path / "r"),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "trades of run cli-bt" in text and "by play" in text and "by time of day" in text
    assert "stored as run │ cli-bt" in text
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["total"]["trades"] > 0
    assert (tmp_path / "r" / "report.html").stat().st_size > 1_000_000

    again = scalper("backtest", "--from", "2025-09-16", "--to", "2025-09-16", "--run-id", "cli-bt", env=env)
    assert again.returncode == 2 and "a run with this id is stored already" in " ".join(again.stderr.split())
    bad = scalper("backtest", "--from", "2025-09-16", "--to", "2025-09-15", env=env)
    assert bad.returncode == 2 and "expected on or after --from" in " ".join(bad.stderr.split())

    exported = scalper("export", "--from", "2025-09-08", "--to", "2025-09-16", "--out", str(tmp_path / "pq"), env=env)
    assert exported.returncode == 0, exported.stderr
    assert len(list((tmp_path / "pq" / "agg_1s").glob("*.parquet"))) == 7
    from_files = scalper(
        "backtest",
        "--from",
        "2025-09-16",
        "--to",
        "2025-09-16",
        "--run-id",
        "cli-pq",
        "--parquet",
        str(tmp_path / "pq"),
        "--report",
        str(tmp_path / "r2"),
        env=env,
    )
    assert from_files.returncode == 0, from_files.stderr
    assert json.loads((tmp_path / "r2" / "summary.json").read_text())["total"] == summary["total"]
