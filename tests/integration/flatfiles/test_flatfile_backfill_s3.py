"""The backfill against a real S3 API (moto over HTTP) and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from flatfile_s3 import BUCKET, DATASETS, FIRST, LAST, upload

from scalper.adapters.flatfiles import Backfill, FileResult, object_key, sessions_between
from scalper.synthetic.market import MarketDay, generate_market_days

THANKSGIVING = dt.date(2025, 11, 27)


@pytest.fixture(scope="module")
def market_days() -> dict[dt.date, MarketDay]:
    return {d.window.day: d for d in generate_market_days(FIRST, 3, seed=11)}


def run(backfill: Backfill) -> list[FileResult]:
    return backfill.run(DATASETS, sessions_between(FIRST, LAST))


def count(db: psycopg.Connection[Any], query: str, *params: Any) -> int:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def seconds_on(db: psycopg.Connection[Any], day: dt.date, symbols: tuple[str, ...]) -> int:
    return count(
        db,
        "SELECT count(*) FROM agg_1s WHERE symbol = ANY(%s) AND (ts AT TIME ZONE 'America/New_York')::date = %s",
        list(symbols),
        day,
    )


def test_a_date_range_loads_every_session_and_skips_the_holiday(
    backfill: Backfill,
    s3: Any,
    synthetic_files: Path,
    db: psycopg.Connection[Any],
    market_days: dict[dt.date, MarketDay],
) -> None:
    upload(s3, synthetic_files)
    # A file under the holiday's key must never be asked for, let alone loaded.
    holiday_key = object_key("us_stocks_sip/trades_v1", THANKSGIVING)
    s3.put_object(
        Bucket=BUCKET,
        Key=holiday_key,
        Body=(synthetic_files / object_key("us_stocks_sip/trades_v1", FIRST)).read_bytes(),
    )

    results = run(backfill)

    assert {r.day for r in results} == set(market_days)
    assert all(r.outcome == "loaded" for r in results), [(r.key, r.outcome, r.error) for r in results]
    for day, market in market_days.items():
        assert seconds_on(db, day, ("I:SPX", "I:NDX")) == len(market.index_seconds)
        assert seconds_on(db, day, ("SPY", "QQQ")) == len(market.stock_seconds)
        assert count(
            db, "SELECT count(*) FROM trades WHERE (ts AT TIME ZONE 'America/New_York')::date = %s", day
        ) == len(market.trades.sip_ns)
        minutes = count(
            db,
            "SELECT count(*) FROM bars WHERE timeframe = '1m' AND (ts AT TIME ZONE 'America/New_York')::date = %s",
            day,
        )
        assert minutes == len(market.index_minutes)
    assert seconds_on(db, THANKSGIVING, ("SPY", "QQQ", "I:SPX", "I:NDX")) == 0
    assert count(db, "SELECT count(*) FROM flatfile_manifest WHERE key = %s", holiday_key) == 0
    assert count(db, "SELECT count(*) FROM flatfile_manifest WHERE status = 'loaded'") == len(DATASETS) * 3
    # The early close (28 Nov, 13:00 ET) is in the data as published: no regular-hours second after it.
    late = count(db, "SELECT count(*) FROM agg_1s WHERE symbol = 'I:SPX' AND ts >= '2025-11-28 13:00-05'")
    assert late == 0 and seconds_on(db, dt.date(2025, 11, 28), ("I:SPX",)) > 10_000


def test_a_rerun_adds_nothing(backfill: Backfill, s3: Any, synthetic_files: Path, db: psycopg.Connection[Any]) -> None:
    upload(s3, synthetic_files)
    run(backfill)
    before = db.execute("SELECT count(*), max(ingested_at) FROM agg_1s").fetchone()
    trades_before = count(db, "SELECT count(*) FROM trades")

    results = run(backfill)

    assert [r.outcome for r in results] == ["skipped"] * len(results)
    assert sum(r.rows_written for r in results) == 0
    assert db.execute("SELECT count(*), max(ingested_at) FROM agg_1s").fetchone() == before
    assert count(db, "SELECT count(*) FROM trades") == trades_before


def test_a_republished_file_replaces_its_day(
    backfill: Backfill,
    s3: Any,
    synthetic_files: Path,
    db: psycopg.Connection[Any],
    market_days: dict[dt.date, MarketDay],
) -> None:
    upload(s3, synthetic_files)
    run(backfill)
    day = dt.date(2025, 11, 26)
    key = object_key("us_stocks_sip/trades_v1", day)
    old_etag = db.execute("SELECT etag FROM flatfile_manifest WHERE key = %s", (key,)).fetchone()
    # Republish the day with QQQ's trades only: SPY's rows of that day must disappear.
    lines = gzip.decompress((synthetic_files / key).read_bytes()).decode().splitlines(keepends=True)
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=gzip.compress("".join(lines[:1] + [x for x in lines[1:] if x.startswith("QQQ,")]).encode()),
    )
    spy_other_days = {d: seconds_on(db, d, ("SPY",)) for d in market_days if d != day}

    results = {r.key: r for r in run(backfill)}

    assert results[key].outcome == "replaced"
    assert {r.outcome for k, r in results.items() if k != key} == {"skipped"}
    assert seconds_on(db, day, ("SPY",)) == 0
    assert (
        count(
            db,
            "SELECT count(*) FROM trades WHERE symbol = 'SPY' AND (ts AT TIME ZONE 'America/New_York')::date = %s",
            day,
        )
        == 0
    )
    market = market_days[day]
    assert seconds_on(db, day, ("QQQ",)) == int(np.count_nonzero(market.stock_seconds.symbol == 0))  # QQQ is code 0
    assert {d: seconds_on(db, d, ("SPY",)) for d in spy_other_days} == spy_other_days
    new_etag = db.execute("SELECT etag, status FROM flatfile_manifest WHERE key = %s", (key,)).fetchone()
    assert new_etag is not None and old_etag is not None and new_etag[0] != old_etag[0] and new_etag[1] == "loaded"


def test_a_corrupt_gzip_fails_that_file_by_name_and_the_other_days_load(
    backfill: Backfill,
    s3: Any,
    synthetic_files: Path,
    db: psycopg.Connection[Any],
    market_days: dict[dt.date, MarketDay],
) -> None:
    upload(s3, synthetic_files)
    bad_day = dt.date(2025, 11, 26)
    key = object_key("us_stocks_sip/trades_v1", bad_day)
    data = bytearray((synthetic_files / key).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # a damaged stretch in the deflate stream
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))

    results = {r.key: r for r in run(backfill)}

    failed = results[key]
    assert failed.outcome == "failed" and failed.error is not None and key in failed.error
    assert {r.outcome for k, r in results.items() if k != key} == {"loaded"}
    for day, market in market_days.items():
        if day != bad_day:
            assert seconds_on(db, day, ("SPY", "QQQ")) == len(market.stock_seconds)
    row = db.execute("SELECT status, error FROM flatfile_manifest WHERE key = %s", (key,)).fetchone()
    assert row is not None and row[0] == "failed" and key in row[1]


def test_a_truncated_file_fails_by_name(backfill: Backfill, s3: Any, synthetic_files: Path) -> None:
    key = object_key("us_indices/values_v1", FIRST)
    data = (synthetic_files / key).read_bytes()
    s3.put_object(Bucket=BUCKET, Key=key, Body=data[: len(data) // 3])

    result = backfill.load("us_indices/values_v1", FIRST)

    assert result.outcome == "failed" and result.error is not None and result.error.startswith(key)


def test_a_file_not_yet_published_is_reported_missing_and_not_recorded(
    backfill: Backfill, s3: Any, db: psycopg.Connection[Any]
) -> None:
    result = backfill.load("us_indices/values_v1", FIRST)
    assert result.outcome == "missing"
    assert count(db, "SELECT count(*) FROM flatfile_manifest") == 0
