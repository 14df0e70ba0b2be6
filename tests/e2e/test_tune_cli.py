"""`scalper tune` then `scalper thresholds apply`, as a user runs them: a new thresholds version and a
progress entry whose numbers are the out-of-sample ones."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tomllib
from importlib import resources
from pathlib import Path

import psycopg
import pytest

from conftest import Run
from scalper.adapters.store.synthetic_history import store_synthetic_sessions

pytestmark = pytest.mark.e2e


def test_tune_then_apply_writes_a_new_version_with_out_of_sample_evidence(
    scalper: Run, db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        days = store_synthetic_sessions(conn, dt.date(2025, 9, 8), 10, 7)  # 9/8 .. 9/19
    env = {"SCALPER_DATABASE_URL": db_url}
    first, last = days[6], days[-1]  # four sessions tuned, six before them warm the features up
    out = scalper(
        "tune",
        "--from",
        str(first),
        "--to",
        str(last),
        "--grid",
        "SPX_TREND_BURST.band_k=0.5,1.5",
        "--train",
        "2",
        "--test",
        "1",
        "--out",
        str(tmp_path / "tune.json"),
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "tune.json").read_text())
    assert len(result["sets"]) == 2 and len(result["run_ids"]) == 2
    assert [f["test"] for f in result["folds"]] == [[str(days[8])] * 2, [str(days[9])] * 2]
    e = result["evidence"]
    assert e["oos_sessions"] == 2 and e["oos_first"] == str(days[8])  # only the sessions after a training window
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM runs WHERE kind = 'backtest' AND run_id LIKE 'tune-%'").fetchone()
    assert stored == (2,)

    packaged = resources.files("scalper.strategy").joinpath("thresholds.toml")
    thresholds = tmp_path / "thresholds.toml"
    with resources.as_file(packaged) as src:
        shutil.copy(src, thresholds)
    progress = tmp_path / "PROGRESS.md"
    progress.write_text("# Progress\n\n", encoding="utf-8")
    before = tomllib.loads(thresholds.read_text())["version"]
    applied = scalper(
        "thresholds",
        "apply",
        str(tmp_path / "tune.json"),
        "--thresholds",
        str(thresholds),
        "--progress",
        str(progress),
        env=env,
    )
    assert applied.returncode == 0, applied.stderr
    after = tomllib.loads(thresholds.read_text())
    proposal = result["sets"][result["proposal"]]["override"]["SPX_TREND_BURST"]["band_k"]
    assert after["version"] != before and after["plays"]["SPX_TREND_BURST"]["band_k"] == proposal
    entry = progress.read_text()
    assert f"thresholds {before} → {after['version']}" in entry
    assert f"Out-of-sample only: 2 sessions ({days[8]} to {days[9]})" in entry
    assert f"{e['oos_total_pnl']:.2f} $" in entry
    again = scalper(
        "thresholds",
        "apply",
        str(tmp_path / "tune.json"),
        "--thresholds",
        str(thresholds),
        "--progress",
        str(progress),
        env=env,
    )
    assert again.returncode == 2 and "tune again on the current thresholds" in " ".join(again.stderr.split())
