"""``scalper calendar`` against a real database: load, refresh from an .ics (idempotent), show."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from scalper.apps.cli import app
from scalper.econ.snapshot import load_snapshot
from scalper.econ.store import read_events

pytestmark = pytest.mark.integration

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Bureau of Labor Statistics//EN
BEGIN:VEVENT
UID:cpi-2026-11@bls.gov
DTSTART;TZID=US-Eastern:20261210T083000
SUMMARY:Consumer Price Index for November 2026
END:VEVENT
BEGIN:VEVENT
UID:empsit-2026-11@bls.gov
DTSTART:20261204T133000Z
SUMMARY:Employment Situation for November 2026
END:VEVENT
BEGIN:VEVENT
UID:cpi-2026-01@bls.gov
DTSTART;TZID=US-Eastern:20260213T083000
SUMMARY:Consumer Price Index for January 2026
END:VEVENT
BEGIN:VEVENT
UID:rearn-2026-11@bls.gov
DTSTART;TZID=US-Eastern:20261210T083000
SUMMARY:Real Earnings for November 2026
END:VEVENT
END:VCALENDAR
"""


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"SCALPER_DATABASE_URL": url, "COLUMNS": "250"})


def stored(db: psycopg.Connection[Any]) -> dict[str, tuple[str, dt.datetime]]:
    return {e.uid: (e.kind, e.ts) for e in read_events(db)}


def test_refresh_stores_events_and_is_idempotent(db_url: str, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    path = tmp_path / "bls.ics"
    path.write_text(ICS, encoding="utf-8")
    first = cli(db_url, "calendar", "refresh", "--ics", str(path), "--retrieved-on", "2026-11-25")
    assert first.exit_code == 0, first.output
    assert "loaded the shipped snapshot" in first.output
    assert "3 added, 0 updated, 0 unchanged, 1 snapshot rows replaced" in first.output
    assert "1 skipped as not high-impact" in first.output
    rows = stored(db)
    assert rows["cpi-2026-11@bls.gov"] == ("CPI", dt.datetime(2026, 12, 10, 13, 30, tzinfo=dt.UTC))
    assert rows["empsit-2026-11@bls.gov"] == ("NFP", dt.datetime(2026, 12, 4, 13, 30, tzinfo=dt.UTC))
    # the snapshot's January 2026 CPI was replaced by the .ics one, not duplicated
    assert "snapshot:CPI:2026-02-13" not in rows
    assert len(rows) == len(load_snapshot().events) - 1 + 3

    again = cli(db_url, "calendar", "refresh", "--ics", str(path), "--retrieved-on", "2026-11-26")
    assert again.exit_code == 0, again.output
    assert "0 added, 0 updated, 3 unchanged, 0 snapshot rows replaced" in again.output
    assert stored(db) == rows


def test_refresh_reports_a_moved_release(db_url: str, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    path = tmp_path / "bls.ics"
    path.write_text(ICS, encoding="utf-8")
    assert cli(db_url, "calendar", "refresh", "--ics", str(path)).exit_code == 0
    path.write_text(ICS.replace("20261210T083000", "20261211T083000", 1), encoding="utf-8")
    moved = cli(db_url, "calendar", "refresh", "--ics", str(path))
    assert moved.exit_code == 0, moved.output
    assert "updated 2026-12-11 08:30 CPI" in moved.output
    assert "(was 2026-12-10 08:30 CPI" in moved.output
    assert stored(db)["cpi-2026-11@bls.gov"][1] == dt.datetime(2026, 12, 11, 13, 30, tzinfo=dt.UTC)


def test_malformed_ics_fails_naming_the_event_and_stores_nothing(
    db_url: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = tmp_path / "bls.ics"
    path.write_text(ICS.replace("20261204T133000Z", "2026-12-04"), encoding="utf-8")
    result = cli(db_url, "calendar", "refresh", "--ics", str(path))
    assert result.exit_code == 1
    assert "event at line 9 (Employment Situation for November 2026)" in " ".join(result.output.split())
    assert stored(db) == {}


def test_load_is_idempotent_and_show_reports_staleness(db_url: str, db: psycopg.Connection[Any]) -> None:
    first = cli(db_url, "calendar", "load")
    assert first.exit_code == 0, first.output
    n = len(load_snapshot().events)
    assert len(stored(db)) == n
    second = cli(db_url, "calendar", "load")
    assert f"0 added, 0 updated, {n} unchanged" in second.output
    shown = cli(db_url, "calendar", "show", "--from", "2026-12-01", "--to", "2026-12-31", "--today", "2026-11-25")
    assert shown.exit_code == 0, shown.output
    assert "2026-12-09" in shown.output and "FOMC_PRESS" in shown.output
    assert "2025-" not in shown.output.split("economic calendar")[1].split("as of")[0]
    assert "calendar off" in shown.output and "NFP known through 2025-11-20" in shown.output


def test_bad_date_option_is_a_configuration_error(db_url: str) -> None:
    result = cli(db_url, "calendar", "show", "--from", "12/01/2026")
    assert result.exit_code == 2
    assert "--from: value '12/01/2026' is invalid" in result.output
