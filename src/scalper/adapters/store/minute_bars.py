"""Minute bars rebuilt from stored seconds where the feed's ``AM`` bars are missing.

A feed outage is repaired at the one-second level (REST backfill of the gap), and a session
captured without the ``AM`` channel has no minute bars at all. :func:`fill_minute_bars` derives the
missing ``1m`` rows from ``agg_1s`` — open of the first second, high/low extremes, close of the
last second, summed volume and trades, volume-weighted VWAP — and never overwrites a bar that
is already stored (the feed's own bar wins). Rows it writes carry ``source = 'agg_1s'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from scalper.core.errors import StoreError

_FILL = """
INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume, vwap, trades, source)
SELECT symbol, '1m', date_trunc('minute', ts),
       (array_agg(open ORDER BY ts))[1], max(high), min(low), (array_agg(close ORDER BY ts DESC))[1],
       sum(volume), sum(vwap * volume) / NULLIF(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0), sum(trades),
       'agg_1s'
FROM agg_1s
WHERE symbol = ANY(%(symbols)s) AND ts >= %(start)s AND ts < %(end)s
GROUP BY symbol, date_trunc('minute', ts)
ON CONFLICT (symbol, timeframe, ts) DO NOTHING
"""


def fill_minute_bars(conn: psycopg.Connection[Any], symbols: Sequence[str], start_ns: int, end_ns: int) -> int:
    """Insert the ``1m`` bars of ``symbols`` in [start, end) that are missing; returns how many were added."""
    from scalper.core.timeutil import ns_to_datetime

    try:
        cur = conn.execute(
            _FILL, {"symbols": list(symbols), "start": ns_to_datetime(start_ns), "end": ns_to_datetime(end_ns)}
        )
    except psycopg.Error as exc:
        raise StoreError(f"rebuilding minute bars from seconds failed: {exc}") from exc
    return int(cur.rowcount)
