"""Synthetic history in the database: one-second bars of generated sessions and their minute bars.

For offline sessions (benchmarks, tests, the demo's paper session): the trading engine needs stored
history before it can decide (feature warm-up, daily sigma for sizing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from scalper.adapters.store.minute_bars import fill_minute_bars
from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
NS_PER_DAY = 86_400_000_000_000


def store_synthetic_sessions(conn: psycopg.Connection[Any], first: dt.date, sessions: int, seed: int) -> list[dt.date]:
    """Store ``sessions`` synthetic sessions from ``first`` (seconds, then their minute bars); returns the days."""
    writer = BulkWriter(conn)
    days = []
    for day in generate_market_days(first, sessions, seed):
        batch = columns.seconds(day)
        writer.write(AGG_1S, batch)
        start = int(batch["ts"].min())
        fill_minute_bars(conn, SYMBOLS, start, start + NS_PER_DAY)
        days.append(day.window.day)
    return days
