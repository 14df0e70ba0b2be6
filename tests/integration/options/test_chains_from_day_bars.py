"""Close-of-day chains from the flat-file option day aggregates: stored, and their ATM IV near the quoted one."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import psycopg
import pytest

from scalper.adapters.store.tables import BARS, OPTION_BARS
from scalper.adapters.store.writer import BulkWriter
from scalper.apps.options import chains_from_day_bars
from scalper.options.atm import atm_iv
from scalper.options.chains import chain_from_snapshot
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.options import RATE, generate_option_day
from scalper.synthetic.polygon_events import snapshot_results

pytestmark = pytest.mark.integration


def test_day_bars_become_stored_chains_whose_atm_iv_is_near_the_quoted_one(db: psycopg.Connection[Any]) -> None:
    writer = BulkWriter(db)
    sessions, quoted = [], {}
    for day in generate_market_days(dt.date(2025, 3, 3), 2, seed=8):
        options = generate_option_day(day, 8)
        writer.write(BARS, columns.bars(day))
        writer.write(OPTION_BARS, columns.option_bars(options))
        sessions.append((day.window.day.isoformat(), day.window.close_ns))
        results = snapshot_results(options, day, 0)  # the quoted chain of the same close, not stored
        chain = chain_from_snapshot(results, underlying="I:SPX", ts_ns=day.window.close_ns)
        quoted[day.window.day.isoformat()] = atm_iv(chain, days=7, rate=RATE)[0]

    first = chains_from_day_bars(db, "I:SPX", sessions, rate=RATE, days=7)

    for date, stored, value, note in first:
        assert stored > 100, note
        assert note is None and math.isfinite(value)
        assert value == pytest.approx(quoted[date], rel=0.05)  # closes are trades, not quotes: close, not equal
    counts = dict(
        db.execute(
            "SELECT (ts AT TIME ZONE 'America/New_York')::date::text, count(*) FROM option_snapshots "
            "WHERE underlying = 'I:SPX' AND source = 'flatfile' GROUP BY 1"
        ).fetchall()
    )
    assert counts == {date: stored for date, stored, _, _ in first}
    with_iv = db.execute("SELECT count(iv) FROM option_snapshots WHERE underlying = 'I:SPX'").fetchone()
    assert with_iv is not None and with_iv[0] > 0.5 * sum(counts.values())

    again = chains_from_day_bars(db, "I:SPX", sessions, rate=RATE, days=7)
    assert [(n, note) for _, n, _, note in again] == [(0, "a stored snapshot exists: kept")] * 2
    assert (
        chains_from_day_bars(db, "QQQ", sessions[:1], rate=RATE)[0][3]
        == f"QQQ: no option day aggregates on {sessions[0][0]}"
    )
