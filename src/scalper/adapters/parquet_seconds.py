"""One-second aggregates as Parquet files: exported from the database, read back for replay.

Layout: ``ROOT/agg_1s/YYYY-MM-DD.parquet``, one file per New York date, columns ``symbol``
(string), ``ts_ns`` (int64, window start UTC), ``open``, ``high``, ``low``, ``close``, ``volume``,
``vwap`` (float64, NaN when absent), sorted by (ts_ns, symbol). :class:`ParquetSeconds` reads a
time range for some symbols into the same columns as
:func:`scalper.adapters.store.readers.read_seconds_merged` (``symbol_id`` = the position in the
requested symbols, ties kept in that order), so a backtest reads either source the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from scalper.adapters.store.readers import Columns, read_seconds
from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK, datetime_to_ns

PRICES = ("open", "high", "low", "close", "volume", "vwap")
SUBDIR = "agg_1s"


def day_bounds(day: dt.date) -> tuple[int, int]:
    """UTC ns of the New York midnight starting ``day`` and the next one."""
    start = datetime_to_ns(dt.datetime.combine(day, dt.time(0), NEW_YORK))
    return start, datetime_to_ns(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), NEW_YORK))


@dataclass(frozen=True, slots=True)
class Exported:
    day: dt.date
    rows: int
    path: Path


def export_seconds(
    conn: psycopg.Connection[Any], symbols: Sequence[str], days: Sequence[dt.date], root: Path
) -> list[Exported]:
    """Write the stored seconds of ``symbols`` for each New York date (days without data: no file)."""
    folder = root / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for day in days:
        start, end = day_bounds(day)
        parts = [(s, read_seconds(conn, s, start, end)) for s in symbols]
        n = sum(len(p["ts_ns"]) for _, p in parts)
        if n == 0:
            continue
        table = {
            "symbol": pa.array(
                np.concatenate([np.full(len(p["ts_ns"]), s, dtype=object) for s, p in parts]), pa.string()
            ),
            "ts_ns": np.concatenate([p["ts_ns"] for _, p in parts]).astype(np.int64),
            **{k: np.concatenate([p[k] for _, p in parts]).astype(np.float64) for k in PRICES},
        }
        arrow = pa.table(table).sort_by([("ts_ns", "ascending"), ("symbol", "ascending")])
        path = folder / f"{day.isoformat()}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(arrow, tmp)
        tmp.replace(path)  # a reader never sees a half-written file
        out.append(Exported(day=day, rows=n, path=path))
    return out


class ParquetSeconds:
    """Reads exported seconds (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / SUBDIR
        if not self.folder.is_dir():
            raise DataError(f"parquet seconds: expected a folder {self.folder} (written by `scalper export`)")

    def days(self) -> list[dt.date]:
        return sorted(dt.date.fromisoformat(p.stem) for p in self.folder.glob("*.parquet"))

    def read(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> Columns:
        """Seconds of ``symbols`` with ``start_ns <= ts < end_ns``, merged by (ts, position in symbols)."""
        first = dt.datetime.fromtimestamp(start_ns / 1e9, NEW_YORK).date()
        last = dt.datetime.fromtimestamp(max(start_ns, end_ns - 1) / 1e9, NEW_YORK).date()
        wanted = {s: i for i, s in enumerate(symbols)}
        chunks: list[pa.Table] = []
        day = first
        while day <= last:
            path = self.folder / f"{day.isoformat()}.parquet"
            if path.exists():
                try:
                    chunks.append(pq.read_table(path))
                except (OSError, pa.ArrowException) as exc:
                    raise DataError(f"parquet seconds {path}: unreadable: {exc}") from exc
            day += dt.timedelta(days=1)
        empty: Columns = {"ts_ns": np.empty(0, np.int64), "symbol_id": np.empty(0, np.int16)}
        empty |= {k: np.empty(0, np.float64) for k in PRICES}
        if not chunks:
            return empty
        table = pa.concat_tables(chunks)
        names = np.asarray(table.column("symbol").to_numpy(zero_copy_only=False), dtype=object)
        ts = table.column("ts_ns").to_numpy().astype(np.int64)
        ids = np.array([wanted.get(str(n), -1) for n in names], dtype=np.int16)
        keep = (ids >= 0) & (ts >= start_ns) & (ts < end_ns)
        order = np.lexsort((ids[keep], ts[keep]))
        out: Columns = {"ts_ns": ts[keep][order], "symbol_id": ids[keep][order]}
        for k in PRICES:
            out[k] = table.column(k).to_numpy().astype(np.float64)[keep][order]
        return out
