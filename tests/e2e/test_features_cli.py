"""``scalper features compute`` and ``show`` on stored seconds, as a user runs them."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Callable

import psycopg

from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_compute_stores_snapshots_and_show_prints_the_features_at_a_moment(scalper: Run, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for day in generate_market_days(dt.date(2025, 7, 7), 2, seed=4):
            BulkWriter(conn).write(AGG_1S, columns.seconds(day))
    env = {"SCALPER_DATABASE_URL": db_url}

    out = scalper("features", "compute", env=env)
    assert out.returncode == 0, out.stderr
    sessions, events, snapshots = re.search(
        r"(\d+) sessions \(2025-07-07 … 2025-07-08\), ([\d,]+) events, ([\d,]+) snapshots", out.stdout
    ).groups()
    assert sessions == "2" and int(events.replace(",", "")) > 170_000
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT symbol), bool_or(ready) FROM features").fetchone()
    assert stored == (int(snapshots.replace(",", "")), 4, True)
    assert "refused: none" in out.stdout

    shown = scalper("features", "show", "--at", "2025-07-08 11:00", "--symbol", "SPY", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "features at 2025-07-08 11:00 New York" in shown.stdout
    vwap = re.search(r"│ VWAP\s+│\s+([\d,.]+)", shown.stdout)
    assert vwap is not None and 400 < float(vwap.group(1).replace(",", "")) < 800

    bad = scalper("features", "show", "--at", "11:00", env=env)
    assert bad.returncode == 2 and "--at" in bad.stderr and "YYYY-MM-DD HH:MM" in bad.stderr
