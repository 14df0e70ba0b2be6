"""Gaps left by disconnects and restarts: recorded in ``ingest_gaps`` and repaired through REST.

A gap is a span of seconds of one symbol that may have been missed while no socket was
subscribed. Repair fetches the one-second aggregates of the span from the REST API, writes them
through the bulk writer (idempotent: seconds that did arrive are simply rewritten), and marks the
gap repaired with the number of rows; a failure leaves it open with the reason, to retry later.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter
from scalper.core.errors import FeedError, StoreError
from scalper.core.events import SecondAgg

log = logging.getLogger(__name__)
Fetch = Callable[[str, int, int], list[SecondAgg]]
SOURCE = "rest"
_TS = "('epoch'::timestamptz + (%s::bigint / 1000) * interval '1 microsecond')"  # exact ns -> timestamptz


@dataclass(frozen=True, slots=True)
class Gap:
    """Seconds of ``symbol`` possibly missed: window starts in [start_ns, end_ns]."""

    cluster: str
    symbol: str
    start_ns: int
    end_ns: int
    reason: str


def seconds_batch(bars: list[SecondAgg]) -> dict[str, np.ndarray[Any, Any]]:
    """REST bars as an ``agg_1s`` batch."""
    nan = math.nan
    return {
        "symbol": np.array([b.symbol for b in bars], dtype=object),
        "ts": np.array([b.ts_event for b in bars], dtype=np.int64),
        "open": np.array([b.open for b in bars]),
        "high": np.array([b.high for b in bars]),
        "low": np.array([b.low for b in bars]),
        "close": np.array([b.close for b in bars]),
        "volume": np.array([nan if b.volume is None else b.volume for b in bars]),
        "vwap": np.array([nan if b.vwap is None else b.vwap for b in bars]),
        "trades": np.array([nan if b.trades is None else b.trades for b in bars]),
        "source": np.full(len(bars), SOURCE, dtype=object),
    }


def record(conn: psycopg.Connection[Any], gap: Gap) -> int:
    """Insert (or find) the gap's row; returns its id."""
    row = conn.execute(
        "INSERT INTO ingest_gaps (cluster, symbol, gap_start, gap_end, reason) "
        f"VALUES (%s, %s, {_TS}, {_TS}, %s) "
        "ON CONFLICT (cluster, symbol, gap_start) "
        "DO UPDATE SET gap_end = GREATEST(ingest_gaps.gap_end, EXCLUDED.gap_end) RETURNING id",
        (gap.cluster, gap.symbol, gap.start_ns, gap.end_ns, gap.reason),
    ).fetchone()
    assert row is not None
    return int(row[0])


def repair(conn: psycopg.Connection[Any], gap: Gap, fetch: Fetch) -> int:
    """Record, fetch, write and mark one gap; returns the rows written. Raises on failure."""
    gap_id = record(conn, gap)
    try:
        bars = fetch(gap.symbol, gap.start_ns, gap.end_ns)
        if bars:
            BulkWriter(conn).write(AGG_1S, seconds_batch(bars))
    except (FeedError, StoreError) as exc:
        conn.execute("UPDATE ingest_gaps SET detail = %s WHERE id = %s", (str(exc)[:500], gap_id))
        raise
    conn.execute(
        "UPDATE ingest_gaps SET status = 'repaired', repaired_at = now(), rows_repaired = %s, detail = NULL "
        "WHERE id = %s",
        (len(bars), gap_id),
    )
    log.info("gap %s %s..%s repaired with %d seconds", gap.symbol, gap.start_ns, gap.end_ns, len(bars))
    return len(bars)
