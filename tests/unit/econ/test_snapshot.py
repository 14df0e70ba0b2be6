"""The shipped calendar snapshot loads, states its sources, and holds the listed releases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scalper.core.errors import DataError
from scalper.econ.snapshot import load_snapshot, snapshot_text
from scalper.marketdata.calendar import xnys

FOMC_2026 = ["01-28", "03-18", "04-29", "06-17", "07-29", "09-16", "10-28", "12-09"]
FOMC_2025 = ["01-29", "03-19", "05-07", "06-18", "07-30", "09-17", "10-29", "12-10"]


def days(kind: str) -> list[str]:
    return [e.day.isoformat() for e in load_snapshot().events if e.kind == kind]


def test_lists_every_fomc_statement_and_press_conference_of_2025_and_2026() -> None:
    expected = [f"2025-{d}" for d in FOMC_2025] + [f"2026-{d}" for d in FOMC_2026] + ["2027-01-27"]
    assert days("FOMC") == expected
    assert days("FOMC_PRESS") == expected
    times = {(e.kind, f"{e.local:%H:%M}") for e in load_snapshot().events if e.kind.startswith("FOMC")}
    assert times == {("FOMC", "14:00"), ("FOMC_PRESS", "14:30")}


def test_lists_the_sourced_bls_releases_at_0830() -> None:
    assert days("NFP")[-1] == "2025-11-20"
    assert len(days("NFP")) == 10
    assert days("CPI") == ["2025-10-24", "2026-02-13"]
    assert {f"{e.local:%H:%M}" for e in load_snapshot().events if e.kind in ("NFP", "CPI")} == {"08:30"}


def test_every_event_is_on_an_xnys_session_or_a_weekday() -> None:
    cal = xnys()
    for e in load_snapshot().events:
        assert e.day.weekday() < 5, e
        if e.day <= cal.last_session.date():
            assert cal.is_session(e.day.isoformat()), e


def test_states_sources_and_retrieval_date() -> None:
    snap = load_snapshot()
    assert snap.retrieved_on == dt.date(2026, 11, 25)
    assert all(url.startswith("https://") for url in snap.sources.values())
    assert {e.source for e in snap.events} <= set(snap.sources.values())
    assert "NOT covered by this snapshot" in snapshot_text()


def test_uids_are_stable_and_unique() -> None:
    events = load_snapshot().events
    assert len({e.uid for e in events}) == len(events)
    assert "snapshot:FOMC:2026-12-09" in {e.uid for e in events}


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ('kind = "CPI"', 'kind = "CPIX"', "kind 'CPIX' is invalid"),
        ('time = "08:30"', 'time = "8h30"', "time '8h30' is invalid"),
        ('source = "bls-cpi-jan-2026-release"', 'source = "nowhere"', "source 'nowhere' is not a"),
        ("dates = [2026-02-13]", 'dates = ["2026-02-13"]', "expected a TOML date"),
    ],
)
def test_bad_snapshot_names_the_block_and_key(tmp_path: Path, replace: str, by: str, message: str) -> None:
    text = snapshot_text()
    assert replace in text
    path = tmp_path / "events.toml"
    path.write_text(text.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_snapshot(path)
