"""Option chains and gamma levels in PostgreSQL: ``option_snapshots`` and ``gamma_levels``.

Writes go through the :class:`~scalper.adapters.store.writer.BulkWriter` (idempotent by natural
key). ``gamma_levels.profile`` holds the per-strike profile and the zero-gamma reason as JSON:
``{"strikes": [...], "call": [...], "put": [...], "zero_gamma_reason": str | null}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.store.tables import GAMMA_LEVELS, OPTION_SNAPSHOTS
from scalper.adapters.store.writer import BulkWriter, WriteResult
from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK, datetime_to_ns, ns_to_datetime
from scalper.options.chains import Chain
from scalper.options.gex import GammaLevels


def write_chain(writer: BulkWriter, chain: Chain, *, source: str) -> WriteResult:
    """One row per contract into ``option_snapshots`` (nan -> NULL)."""
    n = len(chain)
    return writer.write(
        OPTION_SNAPSHOTS,
        {
            "underlying": np.full(n, chain.underlying, dtype=object),
            "ts": np.full(n, chain.ts_ns, dtype=np.int64),
            "ticker": chain.ticker,
            "root": chain.root,
            "expiry": chain.expiry,
            "contract_type": np.where(chain.is_call, "call", "put").astype(object),
            "strike": chain.strike,
            "bid": chain.bid,
            "ask": chain.ask,
            "last_price": chain.last,
            "iv": chain.iv,
            "delta": chain.delta,
            "gamma": chain.gamma,
            "theta": chain.theta,
            "vega": chain.vega,
            "open_interest": chain.open_interest,
            "volume": chain.volume,
            "underlying_price": chain.underlying_price,
            "source": np.full(n, source, dtype=object),
        },
    )


def write_gamma_levels(writer: BulkWriter, underlying: str, ts_ns: int, levels: Sequence[GammaLevels]) -> WriteResult:
    """One ``gamma_levels`` row per variant."""
    n = len(levels)
    return writer.write(
        GAMMA_LEVELS,
        {
            "underlying": np.full(n, underlying, dtype=object),
            "ts": np.full(n, ts_ns, dtype=np.int64),
            "variant": np.array([str(lv.variant) for lv in levels], dtype=object),
            "spot": np.array([lv.spot for lv in levels]),
            "net_gex": np.array([lv.net_gex for lv in levels]),
            "zero_gamma": np.array([lv.zero_gamma for lv in levels]),
            "call_wall": np.array([lv.call_wall for lv in levels]),
            "put_wall": np.array([lv.put_wall for lv in levels]),
            "profile": np.array([_profile(lv) for lv in levels], dtype=object),
        },
    )


def _profile(levels: GammaLevels) -> str:
    return json.dumps(
        {
            "strikes": levels.strikes.tolist(),
            "call": levels.call_gex.tolist(),
            "put": levels.put_gex.tolist(),
            "zero_gamma_reason": levels.zero_gamma_reason,
        }
    )


def read_chain(conn: psycopg.Connection[Any], underlying: str, ts_ns: int) -> Chain:
    """The stored snapshot of ``underlying`` at ``ts_ns`` (NULL -> nan), sorted by ticker."""
    rows = conn.execute(
        "SELECT ticker, root, expiry, contract_type, strike, bid, ask, last_price, iv, delta, gamma, theta, vega, "
        "open_interest, volume, underlying_price FROM option_snapshots WHERE underlying = %s AND ts = %s "
        "ORDER BY ticker",
        (underlying, ns_to_datetime(ts_ns)),
    ).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 16

    def floats(i: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([math.nan if v is None else float(v) for v in cols[i]], dtype=np.float64)

    return Chain(
        underlying=underlying,
        ts_ns=ts_ns,
        ticker=np.array(cols[0], dtype=object),
        root=np.array(cols[1], dtype=object),
        expiry=np.array(cols[2], dtype="datetime64[D]"),
        is_call=np.array([v == "call" for v in cols[3]], dtype=np.bool_),
        strike=floats(4),
        bid=floats(5),
        ask=floats(6),
        last=floats(7),
        iv=floats(8),
        delta=floats(9),
        gamma=floats(10),
        theta=floats(11),
        vega=floats(12),
        open_interest=floats(13),
        volume=floats(14),
        underlying_price=floats(15),
    )


def read_gamma_levels(conn: psycopg.Connection[Any], underlying: str, ts_ns: int) -> dict[str, dict[str, Any]]:
    """Stored gamma levels of ``underlying`` at ``ts_ns`` by variant (NULL -> nan; profile as JSON)."""
    rows = conn.execute(
        "SELECT variant, ts, spot, net_gex, zero_gamma, call_wall, put_wall, profile FROM gamma_levels "
        "WHERE underlying = %s AND ts = %s ORDER BY variant",
        (underlying, ns_to_datetime(ts_ns)),
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for variant, ts, spot, net, zero, call_wall, put_wall, profile in rows:
        out[variant] = {
            "ts_ns": datetime_to_ns(ts),
            "spot": spot,
            "net_gex": net,
            "zero_gamma": math.nan if zero is None else zero,
            "call_wall": math.nan if call_wall is None else call_wall,
            "put_wall": math.nan if put_wall is None else put_wall,
            "profile": profile,
        }
    return out


ROOTS_OF: dict[str, tuple[str, ...]] = {
    "I:SPX": ("SPX", "SPXW"),
    "I:NDX": ("NDX", "NDXP"),
    "SPY": ("SPY",),
    "QQQ": ("QQQ",),
}


def read_day_bars_chain(conn: psycopg.Connection[Any], underlying: str, session_close_ns: int) -> Chain:
    """The chain of ``underlying`` at a session's close from the flat-file day aggregates.

    ``option_bars`` (timeframe ``1d``) of the underlying's roots that day: each contract's close
    stands as a one-point quote (bid = ask = close), its volume is the day's, and open interest is
    unknown (the flat files carry none). The underlying price is its ``1d`` close in ``bars``.
    Closes print at different times than the underlying's, so IVs from them are noisier than
    from quotes; they serve the daily history (the IV-rank series), not intraday gates.
    """
    if underlying not in ROOTS_OF:
        raise DataError(f"no option roots known for {underlying!r}; expected one of {sorted(ROOTS_OF)}")
    day = ns_to_datetime(session_close_ns).astimezone(NEW_YORK).date()
    spot = conn.execute(
        "SELECT close FROM bars WHERE symbol = %s AND timeframe = '1d' "
        "AND (ts AT TIME ZONE 'America/New_York')::date = %s",
        (underlying, day),
    ).fetchone()
    if spot is None:
        raise DataError(f"{underlying}: no daily bar on {day} to price its options against")
    rows = conn.execute(
        "SELECT ticker, root, expiry, contract_type, strike, close, volume FROM option_bars "
        "WHERE timeframe = '1d' AND root = ANY(%s) AND (ts AT TIME ZONE 'America/New_York')::date = %s "
        "AND expiry >= %s ORDER BY ticker",
        (list(ROOTS_OF[underlying]), day, day),
    ).fetchall()
    if not rows:
        raise DataError(f"{underlying}: no option day aggregates on {day}")
    cols = list(zip(*rows, strict=True))
    n = len(rows)
    closes = np.array(cols[5], dtype=np.float64)
    nan = np.full(n, math.nan)
    return Chain(
        underlying=underlying,
        ts_ns=session_close_ns,
        ticker=np.array(cols[0], dtype=object),
        root=np.array(cols[1], dtype=object),
        expiry=np.array(cols[2], dtype="datetime64[D]"),
        is_call=np.array([v == "call" for v in cols[3]], dtype=np.bool_),
        strike=np.array(cols[4], dtype=np.float64),
        bid=closes,
        ask=closes.copy(),
        last=closes.copy(),
        iv=nan,
        delta=nan.copy(),
        gamma=nan.copy(),
        theta=nan.copy(),
        vega=nan.copy(),
        open_interest=nan.copy(),
        volume=np.array(cols[6], dtype=np.float64),
        underlying_price=np.full(n, float(spot[0])),
    )
