"""``scalper backfill`` and ``scalper sync`` as a user runs them, from a local copy and from S3."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from scalper.synthetic.writer import write_synthetic

Run = Callable[..., subprocess.CompletedProcess[str]]
VALUES = "us_indices/values_v1"


@pytest.fixture(scope="module")
def flat_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic(out, start=dt.date(2025, 11, 25), sessions=2, seed=3, what={"flatfiles"})
    return out / "flatfiles"


def stored_seconds(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM agg_1s WHERE symbol IN ('I:SPX', 'I:NDX')").fetchone()
    assert row is not None
    return int(row[0])


def test_backfill_loads_a_range_then_skips_it_on_a_rerun(scalper: Run, flat_files: Path, db_url: str) -> None:
    env = {"SCALPER_DATABASE_URL": db_url, "SCALPER_FLATFILES__LOCAL_DIR": str(flat_files)}
    args = ("backfill", "--from", "2025-11-25", "--to", "2025-11-28", "--datasets", VALUES)

    first = scalper(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "2 loaded" in first.stdout and "2025-11-26" in first.stdout
    stored = stored_seconds(db_url)
    assert stored > 40_000

    again = scalper(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "2 skipped" in again.stdout
    assert stored_seconds(db_url) == stored


def test_sync_loads_the_most_recent_published_session(scalper: Run, flat_files: Path, db_url: str) -> None:
    env = {"SCALPER_DATABASE_URL": db_url, "SCALPER_FLATFILES__LOCAL_DIR": str(flat_files)}
    out = scalper("sync", "--as-of", "2025-11-28", "--datasets", VALUES, env=env)  # the 27th was Thanksgiving
    assert out.returncode == 0, out.stderr
    assert "2025-11-26" in out.stdout and "1 loaded" in out.stdout
    with psycopg.connect(db_url) as conn:
        days = conn.execute("SELECT DISTINCT session_date FROM flatfile_manifest").fetchall()
    assert days == [(dt.date(2025, 11, 26),)]


def test_a_corrupt_file_in_s3_fails_by_name_exits_1_and_never_prints_the_keys(
    scalper: Run, flat_files: Path, db_url: str, s3_endpoint: str
) -> None:
    import boto3

    secret = "e2e-secret-key-never-printed-42"
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="AKIAE2E",
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="flatfiles")
    good = f"{VALUES}/2025/11/2025-11-25.csv.gz"
    bad = f"{VALUES}/2025/11/2025-11-26.csv.gz"
    client.put_object(Bucket="flatfiles", Key=good, Body=(flat_files / good).read_bytes())
    client.put_object(Bucket="flatfiles", Key=bad, Body=(flat_files / bad).read_bytes()[:5000])
    env = {
        "SCALPER_DATABASE_URL": db_url,
        "SCALPER_FLATFILES__ENDPOINT": s3_endpoint,
        "SCALPER_FLATFILES__CACHE_DIR": str(flat_files.parent / "cache"),
        "SCALPER_S3_ACCESS_KEY_ID": "AKIAE2E",
        "SCALPER_S3_SECRET_ACCESS_KEY": secret,
    }

    out = scalper("backfill", "--from", "2025-11-25", "--to", "2025-11-26", "--datasets", VALUES, env=env)

    assert out.returncode == 1
    assert bad in out.stderr and "1 loaded" in out.stdout and "1 failed" in out.stdout
    assert secret not in out.stdout + out.stderr
    with psycopg.connect(db_url) as conn:
        errors = conn.execute("SELECT error FROM flatfile_manifest WHERE status = 'failed'").fetchall()
    assert len(errors) == 1 and bad in errors[0][0] and secret not in errors[0][0]


def test_backfill_without_s3_keys_says_which_variables_to_set(scalper: Run, db_url: str) -> None:
    out = scalper("backfill", "--from", "2025-11-25", "--to", "2025-11-25", env={"SCALPER_DATABASE_URL": db_url})
    assert out.returncode == 2
    assert "SCALPER_S3_ACCESS_KEY_ID" in out.stderr


def test_bench_flatfiles_prints_its_figures_as_json(scalper: Run, db_url: str) -> None:
    import json

    out = scalper("bench", "flatfiles", "--json", "--megabytes", "20", env={"SCALPER_DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    keys = ("name", "rows", "parse_rows_per_s", "load_rows_per_s", "copy_rows_per_s", "load_ratio", "peak_rss_mb")
    assert set(keys) <= set(figures) and figures["name"] == "flatfiles"
    assert figures["rows"] > 100_000 and abs(figures["kept_rows"] - 0.8 * figures["rows"]) <= 4  # SPY + QQQ: 80%
