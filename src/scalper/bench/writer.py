"""``scalper bench writer``: the bulk writer against a raw binary COPY into the same indexed table.

Both targets are copies of ``agg_1s`` (same columns, same primary key) in a scratch schema,
written batch by batch in alternation so that machine noise hits both alike. The raw COPY is
given pre-encoded bytes (database time only); the writer's figure includes all its own work
(de-duplication, encoding, the overlap check). A second pass rewrites every batch through the
writer, which then must take the staged-upsert path: that figure is reported too.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.store.binary_copy import encode_rows
from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter

SCHEMA = "scalper_bench"
SYMBOLS = ("I:SPX", "I:NDX", "SPY", "QQQ")
START_NS = 1_735_828_200 * 1_000_000_000  # 2025-01-02 14:30 UTC


def synthetic_seconds(rows: int, seed: int = 1) -> dict[str, Any]:
    """``rows`` one-second bars cycling through four symbols (indices without volume)."""
    rng = np.random.default_rng(seed)
    sym_idx = np.arange(rows) % len(SYMBOLS)
    ts = START_NS + (np.arange(rows, dtype=np.int64) // len(SYMBOLS)) * 1_000_000_000
    base = np.array([5900.0, 21000.0, 590.0, 510.0])[sym_idx]
    close = base * np.exp(np.cumsum(rng.normal(0, 2e-5, rows)))
    spread = np.abs(rng.normal(0, 2e-5, rows)) * close
    is_index = sym_idx < 2
    volume = np.where(is_index, np.nan, rng.gamma(2.0, 400.0, rows).round())
    return {
        "symbol": np.array(SYMBOLS, dtype=object)[sym_idx],
        "ts": ts,
        "open": close,
        "high": close + spread,
        "low": close - spread,
        "close": close,
        "volume": volume,
        "vwap": np.where(is_index, np.nan, close),
        "trades": np.where(is_index, 0, 12).astype(np.int32),
        "source": np.full(rows, "bench", dtype=object),
    }


def _setup(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    for name in ("raw", "writer"):
        conn.execute(f"CREATE TABLE {SCHEMA}.{name} (LIKE agg_1s INCLUDING ALL)")


def _raw_copy(conn: psycopg.Connection[Any], payload: bytes) -> float:
    cols = ", ".join(AGG_1S.column_names)
    start = time.perf_counter()
    with conn.transaction(), conn.cursor().copy(f"COPY {SCHEMA}.raw ({cols}) FROM STDIN (FORMAT binary)") as cp:
        cp.write(payload)
    return time.perf_counter() - start


def run(conn: psycopg.Connection[Any], rows: int = 1_000_000, batch: int = 100_000) -> dict[str, Any]:
    """Measure; ``conn`` must be an autocommit connection to a migrated database."""
    data = synthetic_seconds(rows)
    spec = dataclasses.replace(AGG_1S, name=f"{SCHEMA}.writer")
    writer = BulkWriter(conn)
    _setup(conn)
    try:
        t_raw = t_writer = t_upsert = 0.0
        batches = [{k: v[i : i + batch] for k, v in data.items()} for i in range(0, rows, batch)]
        for part in batches:
            payload, _ = encode_rows(AGG_1S.columns, part)
            t_raw += _raw_copy(conn, payload)
            t_writer += writer.write(spec, part).seconds
        for part in batches:
            t_upsert += writer.write(spec, part).seconds
        stored = conn.execute(f"SELECT count(*) FROM {SCHEMA}.writer").fetchone()
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    return {
        "name": "writer",
        "rows": rows,
        "batch": batch,
        "rows_per_s": round(rows / t_writer),
        "copy_rows_per_s": round(rows / t_raw),
        "ratio": round(t_raw / t_writer, 3),
        "upsert_rows_per_s": round(rows / t_upsert),
        "upsert_ratio": round(t_raw / t_upsert, 3),
        "stored_after_rewrite": int(stored[0]) if stored else 0,
    }
