"""Option chains as columns: parsed from the REST snapshot, completed with our IV and greeks.

A :class:`Chain` is one snapshot of one underlying (one ``ts_ns``), one row per contract; a
missing number is nan. :func:`complete` derives, per expiry, the forward and the discount factor
from put-call parity on the quote midpoints (no dividend guess; with ``rate`` given the discount
is ``e^{-rT}`` and only the forward is implied), the time to settlement in ACT/365 minutes
(:func:`scalper.options.black.settlement_ns`), and fills IVs and greeks the source lacks.

IV from the quotes: the midpoint of a two-sided quote (a zero bid gives no IV, status
``ZERO_BID``); each strike takes the IV of its out-of-the-money side (calls at or above the
forward, puts below) for both the call and the put, as parity makes them equal and the OTM quote
carries the information (the ITM quote is mostly intrinsic value). Greeks: Black-76 at that IV,
delta and gamma with respect to the underlying price of the snapshot.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scalper.core.errors import DataError
from scalper.marketdata.tickers import parse_option_ticker
from scalper.options.black import (
    F64,
    greeks,
    implied_forward,
    implied_forward_discount,
    minutes_to_expiry,
    settlement_ns,
    year_fraction,
)
from scalper.options.gex import GammaChain
from scalper.options.iv import IvStatus, implied_vol

NEW_YORK = ZoneInfo("America/New_York")
Objects = NDArray[np.object_]


@dataclass(frozen=True, kw_only=True, slots=True)
class Chain:
    """One snapshot of an underlying's chain; arrays of one length (nan = missing)."""

    underlying: str
    ts_ns: int  # snapshot time, UTC ns
    ticker: Objects
    root: Objects
    expiry: NDArray[np.datetime64]  # datetime64[D]
    is_call: NDArray[np.bool_]
    strike: F64
    bid: F64
    ask: F64
    last: F64
    iv: F64
    delta: F64
    gamma: F64
    theta: F64  # per calendar day
    vega: F64  # per volatility point
    open_interest: F64
    volume: F64
    underlying_price: F64

    def __post_init__(self) -> None:
        n = self.ticker.shape
        for name in _ARRAYS:
            shape = getattr(self, name).shape
            if shape != n:
                raise DataError(f"chain of {self.underlying}: expected {name} of shape {n}, was {shape}")
        if not bool(np.all(self.strike > 0)):
            raise DataError(f"chain of {self.underlying}: expected strikes > 0")

    def __len__(self) -> int:
        return int(self.ticker.size)

    @property
    def session_date(self) -> dt.date:
        """The New York date of the snapshot (expiries on it are 0DTE)."""
        return dt.datetime.fromtimestamp(self.ts_ns / 1e9, tz=NEW_YORK).date()

    @property
    def spot(self) -> float:
        """The underlying price of the snapshot (the median over contracts)."""
        values = self.underlying_price[np.isfinite(self.underlying_price)]
        if values.size == 0:
            raise DataError(f"chain of {self.underlying} at {self.ts_ns}: no underlying price")
        return float(np.median(values))


_FLOATS = (
    "strike",
    "bid",
    "ask",
    "last",
    "iv",
    "delta",
    "gamma",
    "theta",
    "vega",
    "open_interest",
    "volume",
    "underlying_price",
)
_ARRAYS = ("root", "expiry", "is_call", *_FLOATS)


@dataclass(frozen=True, kw_only=True, slots=True)
class Terms:
    """Per-contract time, forward and discount factor (nan where the expiry gave no forward)."""

    t: F64  # years to settlement (nan: settled)
    forward: F64
    discount: F64


# --- parsing -------------------------------------------------------------------------------------
def chain_from_snapshot(results: Iterable[Mapping[str, Any]], *, underlying: str, ts_ns: int) -> Chain:
    """A :class:`Chain` from ``GET /v3/snapshot/options/{underlying}`` results (missing -> nan)."""
    rows = [_row(r) for r in results]
    if not rows:
        raise DataError(f"options snapshot of {underlying}: no results")
    cols = {key: [row[key] for row in rows] for key in rows[0]}
    order = np.argsort(np.array(cols["ticker"], dtype=object), kind="stable")

    def floats(key: str) -> F64:
        values: F64 = np.array(cols[key], dtype=np.float64)[order]
        return values

    return Chain(
        underlying=underlying,
        ts_ns=ts_ns,
        ticker=np.array(cols["ticker"], dtype=object)[order],
        root=np.array(cols["root"], dtype=object)[order],
        expiry=np.array(cols["expiry"], dtype="datetime64[D]")[order],
        is_call=np.array(cols["is_call"], dtype=np.bool_)[order],
        **{k: floats(k) for k in _FLOATS},
    )


def _row(result: Mapping[str, Any]) -> dict[str, Any]:
    details = result.get("details") or {}
    ticker = details.get("ticker")
    if not isinstance(ticker, str):
        raise DataError(f"options snapshot result without details.ticker: {dict(result)!r:.200}")
    parsed = parse_option_ticker(ticker)
    quote, trade, day = result.get("last_quote") or {}, result.get("last_trade") or {}, result.get("day") or {}
    greeks_ = result.get("greeks") or {}
    asset = result.get("underlying_asset") or {}
    return {
        "ticker": ticker,
        "root": parsed.root,
        "expiry": parsed.expiry,
        "is_call": parsed.is_call,
        "strike": parsed.strike,
        "bid": _num(quote.get("bid")),
        "ask": _num(quote.get("ask")),
        "last": _num(trade.get("price")),
        "iv": _num(result.get("implied_volatility")),
        **{k: _num(greeks_.get(k)) for k in ("delta", "gamma", "theta", "vega")},
        "open_interest": _num(result.get("open_interest")),
        "volume": _num(day.get("volume", 0 if "day" in result else None)),
        "underlying_price": _num(asset.get("price", asset.get("value"))),
    }


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


# --- completion ----------------------------------------------------------------------------------
def terms(chain: Chain, *, rate: float | None = None) -> Terms:
    """Time to settlement, forward and discount factor per contract (see the module docstring)."""
    t = np.full(len(chain), np.nan)
    forward, discount = np.full(len(chain), np.nan), np.full(len(chain), np.nan)
    mid = _mid(chain)
    for (root, expiry), rows in _groups(chain).items():
        minutes = float(minutes_to_expiry(chain.ts_ns, settlement_ns(root, expiry)))
        if minutes <= 0:
            continue  # settled
        years = float(year_fraction(minutes))
        t[rows] = years
        fwd, disc = _parity(chain, rows, mid, years, rate)
        forward[rows], discount[rows] = fwd, disc
    return Terms(t=t, forward=forward, discount=discount)


def complete(chain: Chain, *, rate: float | None = None) -> tuple[Chain, NDArray[np.int8]]:
    """``chain`` with IVs and greeks filled where the source has none, and the IV status per row.

    Source values are kept; a row whose IV could not be solved keeps nan (status says why).
    """
    term = terms(chain, rate=rate)
    vol, status = otm_iv(chain, term)
    iv = np.where(np.isfinite(chain.iv), chain.iv, vol)
    status = np.where(np.isfinite(chain.iv), np.int8(IvStatus.OK), status).astype(np.int8)
    ok = np.isfinite(iv) & np.isfinite(term.t) & np.isfinite(term.forward)
    computed = {k: np.full(len(chain), np.nan) for k in ("delta", "gamma", "theta", "vega")}
    if ok.any():
        g = greeks(
            term.forward[ok],
            chain.strike[ok],
            term.t[ok],
            iv[ok],
            chain.is_call[ok],
            term.discount[ok],
            chain.underlying_price[ok],
        )
        for key in computed:
            computed[key][ok] = getattr(g, key)

    def fill(name: str) -> F64:
        source: F64 = getattr(chain, name)
        values: F64 = np.where(np.isfinite(source), source, computed[name])
        return values

    filled = replace(chain, iv=iv, delta=fill("delta"), gamma=fill("gamma"), theta=fill("theta"), vega=fill("vega"))
    return filled, status


def otm_iv(chain: Chain, term: Terms) -> tuple[F64, NDArray[np.int8]]:
    """IV of every row from the out-of-the-money quote of its strike (both sides share it)."""
    mid = _mid(chain)
    n = len(chain)
    ok = np.isfinite(term.t) & np.isfinite(term.forward)
    vol, status = np.full(n, np.nan), np.full(n, IvStatus.MISSING, dtype=np.int8)
    if ok.any():
        res = implied_vol(mid[ok], term.forward[ok], chain.strike[ok], term.t[ok], chain.is_call[ok], term.discount[ok])
        vol[ok], status[ok] = res.vol, res.status
    status[ok & (chain.bid <= 0)] = IvStatus.ZERO_BID
    vol[status == IvStatus.ZERO_BID] = np.nan
    otm = np.where(chain.is_call, chain.strike >= term.forward, chain.strike < term.forward)
    pair = _pair_index(chain)
    has_pair = pair >= 0
    use_pair = ~otm & has_pair
    source = np.where(use_pair, pair, np.arange(n))
    return vol[source], status[source]


def gamma_chain(chain: Chain, term: Terms) -> GammaChain:
    """Inputs of :func:`scalper.options.gex.gamma_levels` (settled or forward-less rows dropped)."""
    spot = chain.spot
    keep = np.isfinite(term.t) & np.isfinite(term.forward) & np.isfinite(term.discount)
    today = np.datetime64(chain.session_date, "D")
    return GammaChain(
        spot=spot,
        strike=chain.strike[keep],
        is_call=chain.is_call[keep],
        t=term.t[keep],
        vol=chain.iv[keep],
        carry=term.forward[keep] / spot,
        discount=term.discount[keep],
        open_interest=chain.open_interest[keep],
        volume=chain.volume[keep],
        expires_today=chain.expiry[keep] == today,
    )


def _mid(chain: Chain) -> F64:
    with np.errstate(invalid="ignore"):
        two_sided = (chain.bid > 0) & (chain.ask >= chain.bid)
    mid: F64 = np.where(two_sided, 0.5 * (chain.bid + chain.ask), np.where(chain.bid == 0, 0.0, np.nan))
    return mid


def _groups(chain: Chain) -> dict[tuple[str, dt.date], NDArray[np.intp]]:
    keys = pd.MultiIndex.from_arrays([chain.root, chain.expiry])
    groups: dict[tuple[str, dt.date], NDArray[np.intp]] = {}
    for (root, expiry), rows in pd.Series(np.arange(len(chain))).groupby(keys, sort=True).indices.items():
        groups[(str(root), pd.Timestamp(expiry).date())] = np.asarray(rows, dtype=np.intp)
    return groups


def _parity(chain: Chain, rows: NDArray[np.intp], mid: F64, years: float, rate: float | None) -> tuple[float, float]:
    """Forward and discount of one expiry from its call/put midpoints (nan, nan without pairs)."""
    calls = rows[chain.is_call[rows]]
    puts = rows[~chain.is_call[rows]]
    common, ci, pi = np.intersect1d(chain.strike[calls], chain.strike[puts], return_indices=True)
    c, p = mid[calls[ci]], mid[puts[pi]]
    try:
        if rate is not None:
            disc = math.exp(-rate * years)
            return implied_forward(common, c, p, disc), disc
        return implied_forward_discount(common, c, p)
    except DataError:
        return math.nan, math.nan


def _pair_index(chain: Chain) -> NDArray[np.intp]:
    """Row of the other side (same root, expiry and strike), -1 when not listed."""
    frame = pd.DataFrame({"root": chain.root, "expiry": chain.expiry, "strike": chain.strike, "call": chain.is_call})
    index = pd.MultiIndex.from_frame(frame)
    other = pd.MultiIndex.from_frame(frame.assign(call=~chain.is_call))
    if not index.is_unique:
        raise DataError(f"chain of {chain.underlying}: a contract is listed twice")
    pair: NDArray[np.intp] = index.get_indexer(other)
    return pair
