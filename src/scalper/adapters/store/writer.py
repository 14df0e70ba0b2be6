"""The one bulk writer every ingest path uses: binary COPY plus upsert by natural key.

A batch is first de-duplicated by its natural key (the last row wins, as a corrected bar
replaces the first print). Then, under a per-table advisory lock:

* if no stored row can share a key with the batch (checked with one index probe per group over
  the batch's time range), the batch is COPY'd straight into the table inside a savepoint;
* otherwise (or if that COPY meets a unique violation after all) the batch is COPY'd into a
  temporary staging table and upserted with ``INSERT .. ON CONFLICT (key) DO UPDATE`` that only
  rewrites rows whose values changed.

Either way, writing the same batch twice leaves the same rows, and a failed batch leaves none.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from scalper.adapters.store.binary_copy import encode_rows
from scalper.adapters.store.tables import TableSpec
from scalper.core.errors import DataError, StoreError

_COPY_CHUNK = 1 << 22


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteResult:
    """What one ``write`` did."""

    table: str
    rows_in: int
    rows_written: int
    path: str  # "append" (straight COPY) or "upsert" (staged)
    seconds: float


def _table(spec: TableSpec) -> sql.Identifier:
    return sql.Identifier(*spec.name.split("."))


def _codes(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Text keys as integer codes (hashing, no string conversion); numbers as they are."""
    return pd.factorize(values)[0] if values.dtype == object else values


def _dedupe_last(spec: TableSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the last row of each natural key."""
    cols = {k: np.asarray(v) for k, v in data.items()}
    keys = pd.DataFrame({k: _codes(cols[k]) for k in spec.key}, copy=False)
    dup = keys.duplicated(keep="last").to_numpy()
    if not dup.any():
        return cols
    keep = ~dup
    return {k: v[keep] for k, v in cols.items()}


class BulkWriter:
    """Writes column batches into bulk tables over one connection it does not own."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def write(self, spec: TableSpec, data: Mapping[str, Any]) -> WriteResult:
        """Write one batch idempotently; returns what was done."""
        start = time.perf_counter()
        unknown = set(data) - set(spec.column_names)
        if unknown:
            raise DataError(f"{spec.name}: unknown columns {sorted(unknown)}")
        cols = _dedupe_last(spec, data)
        payload, n = encode_rows(spec.columns, cols)
        if n == 0:
            return WriteResult(table=spec.name, rows_in=0, rows_written=0, path="append", seconds=0.0)
        try:
            with self._conn.transaction():
                self._lock(spec)
                path, written = self._write_locked(spec, cols, payload, n)
        except psycopg.Error as exc:
            raise StoreError(f"writing {n} rows to {spec.name} failed: {exc}") from exc
        return WriteResult(
            table=spec.name,
            rows_in=len(next(iter(data.values()))),
            rows_written=written,
            path=path,
            seconds=time.perf_counter() - start,
        )

    def _lock(self, spec: TableSpec) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"scalper.writer.{spec.name}",))

    def _write_locked(self, spec: TableSpec, cols: Mapping[str, Any], payload: bytes, n: int) -> tuple[str, int]:
        if self._range_is_free(spec, cols):
            try:
                with self._conn.transaction():
                    self._copy(spec.name, spec, payload)
                return "append", n
            except pg_errors.UniqueViolation:
                pass  # a row appeared since the check: fall back to the upsert
        return "upsert", self._upsert(spec, payload)

    def _range_is_free(self, spec: TableSpec, cols: Mapping[str, Any]) -> bool:
        if spec.range_column is None or spec.range_group is None:
            return False
        codes, groups = pd.factorize(cols[spec.range_group])
        bounds = pd.Series(cols[spec.range_column], copy=False).groupby(codes, sort=False).agg(["min", "max"])
        bounds.index = pd.Index(groups)[bounds.index]
        query = sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS b(g, lo, hi) "
            "WHERE EXISTS (SELECT 1 FROM {t} WHERE {g} = b.g AND {r} BETWEEN "
            "'epoch'::timestamptz + (b.lo / 1000) * interval '1 microsecond' AND "
            "'epoch'::timestamptz + (b.hi / 1000) * interval '1 microsecond'))"
        ).format(t=_table(spec), g=sql.Identifier(spec.range_group), r=sql.Identifier(spec.range_column))
        params = (
            [str(g) for g in bounds.index],
            bounds["min"].astype(np.int64).tolist(),
            bounds["max"].astype(np.int64).tolist(),
        )
        row = self._conn.execute(query, params).fetchone()
        return row is not None and not row[0]

    def _copy(self, target: str, spec: TableSpec, payload: bytes) -> None:
        stmt = sql.SQL("COPY {t} ({c}) FROM STDIN (FORMAT binary)").format(
            t=sql.Identifier(*target.split(".")), c=sql.SQL(", ").join(map(sql.Identifier, spec.column_names))
        )
        with self._conn.cursor().copy(stmt) as copy:
            for i in range(0, len(payload), _COPY_CHUNK):
                copy.write(payload[i : i + _COPY_CHUNK])

    def _upsert(self, spec: TableSpec, payload: bytes) -> int:
        stage = f"_stage_{spec.name.replace('.', '_')}"
        self._conn.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {s} (LIKE {t} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS").format(
                s=sql.Identifier(stage), t=_table(spec)
            )
        )
        self._copy(stage, spec, payload)
        ident = sql.Identifier
        cols = sql.SQL(", ").join(map(ident, spec.column_names))
        values = spec.value_columns
        stmt = sql.SQL("INSERT INTO {t} AS cur ({c}) SELECT {c} FROM {s} ON CONFLICT ({k}) ").format(
            t=_table(spec), c=cols, s=ident(stage), k=sql.SQL(", ").join(map(ident, spec.key))
        )
        if values:
            stmt += sql.SQL("DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})").format(
                sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=ident(c)) for c in values),
                old=sql.SQL(", ").join(sql.SQL("cur.{c}").format(c=ident(c)) for c in values),
                new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=ident(c)) for c in values),
            )
        else:
            stmt += sql.SQL("DO NOTHING")
        return self._conn.execute(stmt).rowcount
