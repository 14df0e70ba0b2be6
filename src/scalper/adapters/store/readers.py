"""Columnar readers for replay: ts-ordered numpy arrays straight from binary ``COPY TO``.

Every selected value is made fixed-width on the server (timestamps as integer microseconds,
NULL numbers as NaN), so the binary COPY stream is one numpy structured array: no per-row
Python work, which is what lets replay read millions of rows a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from scalper.adapters.store.binary_copy import HEADER

Columns = dict[str, npt.NDArray[Any]]
_PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "vwap")


def _copy_fixed(conn: psycopg.Connection[Any], query: sql.Composable, names: Sequence[str]) -> Columns:
    """Run ``COPY (query) TO STDOUT (FORMAT binary)``; the first column is int8, the rest float8."""
    buf = bytearray()
    with conn.cursor().copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(query)) as copy:
        for chunk in copy:
            buf += chunk
    body = bytes(buf[len(HEADER) : -2])
    fields: list[tuple[str, str]] = [("nf", ">i2")]
    for i, name in enumerate(names):
        fields += [(f"l{i}", ">i4"), (name, ">i8" if i == 0 else ">f8")]
    rows = np.frombuffer(body, dtype=np.dtype(fields))
    out: Columns = {"ts_ns": rows[names[0]].astype(np.int64) * 1000}
    for name in names[1:]:
        out[name] = rows[name].astype(np.float64)
    return out


def read_seconds(conn: psycopg.Connection[Any], symbol: str, start_ns: int, end_ns: int) -> Columns:
    """One-second aggregates of ``symbol`` with ``start_ns <= ts < end_ns``, in time order.

    Returns ``ts_ns`` (int64) and float64 ``open, high, low, close, volume, vwap`` (NaN when absent).
    """
    return _read_bars(conn, sql.SQL("agg_1s WHERE"), symbol, start_ns, end_ns)


def read_minutes(conn: psycopg.Connection[Any], symbol: str, start_ns: int, end_ns: int) -> Columns:
    """One-minute bars (``bars``, timeframe ``1m``) of ``symbol`` starting in ``[start_ns, end_ns)``,
    in time order; the columns of :func:`read_seconds`."""
    return _read_bars(conn, sql.SQL("bars WHERE timeframe = '1m' AND"), symbol, start_ns, end_ns)


def _read_bars(
    conn: psycopg.Connection[Any], where: sql.Composable, symbol: str, start_ns: int, end_ns: int
) -> Columns:
    query = sql.SQL(
        "SELECT (EXTRACT(EPOCH FROM ts) * 1000000)::int8, open, high, low, close, "
        "COALESCE(volume, 'NaN'), COALESCE(vwap, 'NaN') FROM {w} "
        "symbol = {s} AND ts >= {a} AND ts < {b} ORDER BY ts"
    ).format(w=where, s=sql.Literal(symbol), a=_ts_literal(start_ns), b=_ts_literal(end_ns))
    return _copy_fixed(conn, query, ("ts", *_PRICE_COLUMNS))


def read_seconds_merged(conn: psycopg.Connection[Any], symbols: Sequence[str], start_ns: int, end_ns: int) -> Columns:
    """Several symbols' seconds merged into one ts-ordered stream with a ``symbol_id`` column
    (the index into ``symbols``); ties keep the order of ``symbols``."""
    return _merged([read_seconds(conn, s, start_ns, end_ns) for s in symbols])


def read_minutes_merged(conn: psycopg.Connection[Any], symbols: Sequence[str], start_ns: int, end_ns: int) -> Columns:
    """Several symbols' minute bars merged as :func:`read_seconds_merged` merges seconds."""
    return _merged([read_minutes(conn, s, start_ns, end_ns) for s in symbols])


def _merged(parts: Sequence[Columns]) -> Columns:
    merged: Columns = {k: np.concatenate([p[k] for p in parts]) for k in ("ts_ns", *_PRICE_COLUMNS)}
    merged["symbol_id"] = np.concatenate([np.full(len(p["ts_ns"]), i, dtype=np.int16) for i, p in enumerate(parts)])
    order = np.lexsort((merged["symbol_id"], merged["ts_ns"]))
    return {k: v[order] for k, v in merged.items()}


def _ts_literal(ns: int) -> sql.Composable:
    micros = ns // 1000
    return sql.SQL("('epoch'::timestamptz + {} * interval '1 microsecond')").format(sql.Literal(micros))
