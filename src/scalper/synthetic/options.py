"""Synthetic SPX (SPX monthlies + SPXW dailies) and SPY option chains, trades and EOD snapshots.

Per session: every listed expiry from today to ``max_dte`` calendar days out (SPXW and SPY every
trading day, SPX AM-settled on third Fridays), strikes within ``strike_band`` of the open (SPX
every 5 points, SPY every dollar). Implied volatility is a skewed smile over a term structure,
scaled by the day's realised volatility and fixed per contract for the session (sticky strike);
prices are Black-Scholes on the forward (private helper below: the project's real options math
lives elsewhere). Volume concentrates near the money and in 0DTE (about half of SPX volume);
open interest is end-of-day and decays away from the money. Bars come from the trades through
:func:`scalper.marketdata.aggregate.trades_to_bars`, so they are consistent by construction.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from scalper.core.timeutil import NS_PER_S
from scalper.marketdata.aggregate import MINUTE_NS, TradeBars, trades_to_bars
from scalper.marketdata.calendar import xnys
from scalper.marketdata.tickers import OptionTicker, strike_to_milli
from scalper.synthetic.market import DAY_NS, MarketDay, u_profile

UNDERLYINGS: Final = ("I:SPX", "SPY")  # codes 0, 1
ROOTS: Final = ("SPX", "SPXW", "SPY")  # codes 0, 1, 2
YEAR_NS: Final = 365 * DAY_NS
RATE: Final = 0.045
DIVIDEND: Final = (0.013, 0.012)
STRIKE_STEP: Final = (5.0, 1.0)
SPX_EXCHANGE: Final = 302  # illustrative OPRA participant ids (SPX lists on one venue)
SPY_EXCHANGES: Final = np.array([302, 308, 312, 313, 316, 319, 322], dtype=np.int64)
_MIN_T: Final = 60.0 * NS_PER_S / YEAR_NS  # one minute: floor for pricing at expiry

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionConfig:
    """Option activity per average session (scaled by the day's volatility and length)."""

    spx_volume: float = 200_000.0
    spy_volume: float = 150_000.0
    max_dte: int = 30
    strike_band: float = 0.05

    def __post_init__(self) -> None:
        if not (self.spx_volume > 0 and self.spy_volume > 0 and self.max_dte >= 0 and 0 < self.strike_band < 1):
            raise ValueError(f"OptionConfig: expected positive volumes, max_dte >= 0, 0 < band < 1: {self}")


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionChain:
    """Listed contracts sorted by ticker; ``iv`` is the session's (sticky-strike) volatility."""

    ticker: tuple[str, ...]
    underlying: I64  # UNDERLYINGS code
    root: I64  # ROOTS code
    expiry: NDArray[np.datetime64]  # datetime64[D]
    settle_ns: I64  # settlement instant: SPX 09:30 ET, SPXW/SPY the close, of the expiry date
    is_call: B
    strike: F64
    iv: F64
    open_interest: I64  # end of the previous day, as the feed reports it during the session

    def __len__(self) -> int:
        return len(self.ticker)


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionTrades:
    """Option trades sorted by (contract, ts_ns); ``contract`` indexes the chain."""

    contract: I64
    ts_ns: I64
    price: F64
    size: I64
    exchange: I64
    sequence: I64
    conditions: NDArray[np.int16]  # (n, 0): option trades carry no stock sale conditions


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionSnapshot:
    """End-of-day state per contract (at the session close), for the REST chain snapshot."""

    ts_ns: int
    underlying_price: F64
    theo: F64
    bid: F64
    ask: F64
    bid_size: I64
    ask_size: I64
    delta: F64
    gamma: F64
    theta: F64  # per calendar day
    vega: F64  # per volatility point


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionDay:
    """Everything the option market produced in one session."""

    day: dt.date
    chain: OptionChain
    trades: OptionTrades
    seconds: TradeBars
    minutes: TradeBars
    days: TradeBars
    snapshot: OptionSnapshot


def generate_option_day(market: MarketDay, seed: int, config: OptionConfig | None = None) -> OptionDay:
    """Chain, trades, bars and EOD snapshot for the session of ``market`` (deterministic)."""
    cfg = config or OptionConfig()
    rng = np.random.default_rng([seed, market.window.day.toordinal(), 1])
    chain = _chain(rng, market, cfg)
    trades = _trades(rng, market, chain, cfg)

    def bars(width: int, origin: int = 0) -> TradeBars:
        return trades_to_bars(
            trades.contract,
            trades.ts_ns,
            trades.price,
            trades.size,
            trades.conditions,
            window_ns=width,
            origin_ns=origin,
        )

    return OptionDay(
        day=market.window.day,
        chain=chain,
        trades=trades,
        seconds=bars(NS_PER_S),
        minutes=bars(MINUTE_NS),
        days=bars(DAY_NS, market.window.midnight_ns),
        snapshot=_snapshot(rng, market, chain),
    )


# --- pricing (private: Black-Scholes on the forward, vectorised) ------------------------------
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _ncdf(x: F64) -> F64:
    erfc = np.asarray(_ERFC(-np.asarray(x) / math.sqrt(2.0)), dtype=np.float64)
    values: F64 = 0.5 * erfc
    return values


def _npdf(x: F64) -> F64:
    values: F64 = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return values


def bs_price_greeks(spot: F64, strike: F64, t: F64, vol: F64, is_call: B, dividend: F64) -> dict[str, F64]:
    """Black-Scholes price, delta, gamma, theta (per day) and vega (per vol point).

    European exercise for all (SPY's small early-exercise premium is ignored); continuous
    dividend yield, flat ``RATE``; time in years of 365 days.
    """
    sqrt_t = np.sqrt(t)
    fwd = spot * np.exp((RATE - dividend) * t)
    d1 = (np.log(fwd / strike) + 0.5 * vol * vol * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    sign = np.where(is_call, 1.0, -1.0)
    disc, carry = np.exp(-RATE * t), np.exp(-dividend * t)
    n1, n2, pdf = _ncdf(sign * d1), _ncdf(sign * d2), _npdf(d1)
    theta_year = (
        -spot * carry * pdf * vol / (2.0 * sqrt_t)
        - sign * RATE * strike * disc * n2
        + sign * dividend * spot * carry * n1
    )
    return {
        "price": disc * sign * (fwd * n1 - strike * n2),
        "delta": sign * carry * n1,
        "gamma": carry * pdf / (spot * vol * sqrt_t),
        "theta": theta_year / 365.0,
        "vega": spot * carry * pdf * sqrt_t / 100.0,
    }


def smile(strike: F64, forward: F64, t: F64, base_vol: float) -> F64:
    """Put-skewed smile over an upward term structure, around ``base_vol`` (annualised)."""
    atm = base_vol * (0.92 + 0.16 * (1.0 - np.exp(-t * 365.0 / 15.0)))
    x = np.clip(np.log(strike / forward) / (atm * np.sqrt(t)), -6.0, 6.0)
    vol: F64 = atm * np.maximum(1.0 - 0.09 * x + 0.015 * x * x, 0.5)
    return vol


def realised_base_vol(market: MarketDay) -> float:
    """Annualised base volatility from the day's SPX one-second closes and its vol parameter."""
    bars = market.index_seconds
    closes = bars.close[bars.symbol == 1]
    realised = float(np.sqrt(np.sum(np.diff(np.log(closes)) ** 2)))
    return float(np.clip(1.1 * math.sqrt(252.0) * 0.5 * (realised + market.truth.sigma), 0.08, 0.9))


# --- chain -------------------------------------------------------------------------------------
def _expiries(day: dt.date, max_dte: int) -> list[tuple[dt.date, int, int, bool]]:
    """(date, open_ns, close_ns, is_third_friday_expiry) for sessions within max_dte days."""
    cal = xnys()
    labels = cal.sessions_in_range(day.isoformat(), (day + dt.timedelta(days=max_dte)).isoformat())
    monthly = {_monthly_expiry(label.date()) for label in labels}
    return [
        (
            label.date(),
            int(cal.session_open(label).value),
            int(cal.session_close(label).value),
            label.date() in monthly,
        )
        for label in labels
    ]


def _monthly_expiry(day: dt.date) -> dt.date:
    """Third Friday of ``day``'s month, or the session before it when that is a holiday."""
    first = day.replace(day=1)
    friday = first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)
    cal = xnys()
    while not cal.is_session(friday.isoformat()):
        friday -= dt.timedelta(days=1)
    return friday


def _open_spots(market: MarketDay) -> tuple[float, float]:
    """SPX and SPY at the open (the opening index print, the first SPY midpoint)."""
    spy = float(market.stock_mid_at(1, np.array([market.window.open_ns], dtype=np.int64))[0])
    return market.truth.spx.open, spy


def _chain(rng: np.random.Generator, market: MarketDay, cfg: OptionConfig) -> OptionChain:
    window = market.window
    spots = _open_spots(market)
    base = realised_base_vol(market)
    cols: dict[str, list[Any]] = {k: [] for k in ("und", "root", "exp", "settle", "call", "strike")}
    for exp_day, exp_open, exp_close, monthly in _expiries(window.day, cfg.max_dte):
        listings = [(1, exp_close), (2, exp_close)]  # SPXW and SPY settle at that day's close
        if monthly and exp_day > window.day:
            listings.append((0, exp_open))  # SPX monthlies are AM-settled: gone on expiry day
        for root, settle in listings:
            und = 1 if root == 2 else 0
            step = STRIKE_STEP[und]
            strikes = (
                np.arange(
                    math.ceil(spots[und] * (1 - cfg.strike_band) / step),
                    math.floor(spots[und] * (1 + cfg.strike_band) / step) + 1,
                )
                * step
            )
            for call in (True, False):
                k = strikes.size
                for key, value in (
                    ("und", und),
                    ("root", root),
                    ("exp", exp_day),
                    ("settle", settle),
                    ("call", call),
                ):
                    cols[key] += [value] * k
                cols["strike"] += strikes.tolist()
    return _finish_chain(rng, market, cols, spots, base)


def _finish_chain(
    rng: np.random.Generator,
    market: MarketDay,
    cols: dict[str, list[Any]],
    spots: tuple[float, float],
    base: float,
) -> OptionChain:
    tickers = [
        OptionTicker(root=ROOTS[r], expiry=e, right="C" if c else "P", strike_milli=strike_to_milli(k)).ticker
        for r, e, c, k in zip(cols["root"], cols["exp"], cols["call"], cols["strike"], strict=True)
    ]
    order = np.argsort(np.array(tickers), kind="stable")
    und = np.array(cols["und"], dtype=np.int64)[order]
    strike = np.array(cols["strike"], dtype=np.float64)[order]
    settle = np.array(cols["settle"], dtype=np.int64)[order]
    t0 = np.maximum((settle - market.window.open_ns) / YEAR_NS, _MIN_T)
    spot = np.array(spots)[und]
    forward = spot * np.exp((RATE - np.array(DIVIDEND)[und]) * t0)
    x = np.log(strike / forward) / (base * np.sqrt(t0))
    root = np.array(cols["root"], dtype=np.int64)[order]
    dte = ((settle - market.window.open_ns) // DAY_NS).astype(np.float64)
    oi_scale = np.where(und == 0, 1_500.0, 4_000.0) * np.where(root == 0, 3.0, 1.0) * (1.0 + dte / 10.0)
    round_strike = np.where(np.mod(strike, np.where(und == 0, 25.0, 5.0)) == 0, 2.0, 1.0)
    decay = np.exp(-0.2 * np.minimum(np.abs(x), 12.0) - np.abs(np.log(strike / forward)) / 0.02)
    oi = oi_scale * round_strike * decay * rng.lognormal(0.0, 0.5, size=und.size)
    return OptionChain(
        ticker=tuple(np.array(tickers)[order].tolist()),
        underlying=und,
        root=root,
        expiry=np.array(cols["exp"], dtype="datetime64[D]")[order],
        settle_ns=settle,
        is_call=np.array(cols["call"], dtype=np.bool_)[order],
        strike=strike,
        iv=smile(strike, forward, t0, base),
        open_interest=np.floor(oi).astype(np.int64),
    )


# --- trades ------------------------------------------------------------------------------------
def _expected_contracts(rng: np.random.Generator, market: MarketDay, chain: OptionChain, cfg: OptionConfig) -> F64:
    """Expected volume per contract: 0DTE about half of SPX volume, near the money, puts favoured."""
    window = market.window
    scale = np.clip(market.truth.sigma / 0.009, 0.6, 2.0) * window.seconds / 23_400
    today = np.datetime64(window.day, "D")
    zero = chain.expiry == today
    dte = (chain.expiry - today).astype(np.float64)
    t0 = np.maximum((chain.settle_ns - window.open_ns) / YEAR_NS, _MIN_T)
    spot = np.array(_open_spots(market))[chain.underlying]
    x = np.abs(np.log(chain.strike / spot)) / (chain.iv * np.sqrt(t0))
    weight = np.exp(-0.8 * np.minimum(x, 20.0)) * np.where(chain.is_call, 1.0, 1.3)
    expected = np.zeros(len(chain))
    for und, total, share in (
        (0, cfg.spx_volume, rng.uniform(0.46, 0.58)),
        (1, cfg.spy_volume, rng.uniform(0.35, 0.45)),
    ):
        mine = chain.underlying == und
        term = np.where(zero, 0.0, np.exp(-dte / 6.0) * np.where(chain.root == 0, 2.0, 1.0)) * weight
        for part, w in ((share, np.where(zero, weight, 0.0)), (1.0 - share, term)):
            mass = float(np.sum(w[mine]))
            if mass > 0:
                expected[mine] += total * scale * part * w[mine] / mass
    return expected


def _trades(rng: np.random.Generator, market: MarketDay, chain: OptionChain, cfg: OptionConfig) -> OptionTrades:
    window = market.window
    mean_size = np.where(chain.underlying == 0, 4.75, 11.0)
    counts = rng.poisson(_expected_contracts(rng, market, chain, cfg) / mean_size)
    contract = np.repeat(np.arange(len(chain), dtype=np.int64), counts)
    profile = np.cumsum(u_profile(window.seconds) ** 2)
    second = np.searchsorted(profile, rng.random(contract.size) * profile[-1])
    ts = window.open_ns + second * NS_PER_S + rng.integers(10_000, NS_PER_S - 10_000, size=contract.size)
    ts = np.minimum(ts, chain.settle_ns[contract] - 10_000)
    order = np.lexsort((ts, contract))
    contract, ts = contract[order], ts[order]
    und = chain.underlying[contract]
    lomax = np.where(und == 0, 3.0 * rng.pareto(1.8, contract.size), 6.0 * rng.pareto(1.6, contract.size))
    size = np.minimum(1 + np.floor(lomax), 2_000).astype(np.int64)
    price = _trade_prices(rng, market, chain, contract, ts)
    first = np.ones(contract.size, dtype=np.bool_)
    first[1:] = contract[1:] != contract[:-1]
    steps = rng.geometric(0.6, size=contract.size)
    total = np.cumsum(steps)
    sequence = total - np.maximum.accumulate(np.where(first, total - steps, 0))
    exchange = np.where(und == 0, SPX_EXCHANGE, rng.choice(SPY_EXCHANGES, size=contract.size))
    return OptionTrades(
        contract=contract,
        ts_ns=ts,
        price=price,
        size=size,
        exchange=exchange.astype(np.int64),
        sequence=sequence,
        conditions=np.zeros((contract.size, 0), dtype=np.int16),
    )


def _underlying_at(market: MarketDay, und: I64, ts: I64) -> F64:
    values: F64 = np.where(und == 0, market.index_value_at(1, ts), market.stock_mid_at(1, ts))
    return values


def _tick(und: I64, price: F64) -> F64:
    """Minimum price increment: SPX 0.05 below $3 and 0.10 above; SPY a penny."""
    ticks: F64 = np.where(und == 1, 0.01, np.where(price < 3.0, 0.05, 0.10))
    return ticks


def _trade_prices(rng: np.random.Generator, market: MarketDay, chain: OptionChain, contract: I64, ts: I64) -> F64:
    und = chain.underlying[contract]
    t = np.maximum((chain.settle_ns[contract] - ts) / YEAR_NS, _MIN_T)
    theo = bs_price_greeks(
        _underlying_at(market, und, ts),
        chain.strike[contract],
        t,
        chain.iv[contract],
        chain.is_call[contract],
        np.array(DIVIDEND)[und],
    )["price"]
    tick = _tick(und, theo)
    noisy = theo + rng.uniform(-1.0, 1.0, size=theo.size) * np.maximum(tick, 0.02 * theo)
    cents = np.maximum(np.round(noisy / tick), 1.0) * np.round(tick * 100.0)
    prices: F64 = np.round(cents) / 100.0
    return prices


def _snapshot(rng: np.random.Generator, market: MarketDay, chain: OptionChain) -> OptionSnapshot:
    close_ns = market.window.close_ns
    stamps = np.full(len(chain), close_ns - 1, dtype=np.int64)
    spot = _underlying_at(market, chain.underlying, stamps)
    t = np.maximum((chain.settle_ns - close_ns) / YEAR_NS, _MIN_T)
    g = bs_price_greeks(spot, chain.strike, t, chain.iv, chain.is_call, np.array(DIVIDEND)[chain.underlying])
    tick = _tick(chain.underlying, g["price"])
    half = np.maximum(tick, 0.015 * g["price"])
    bid_units = np.maximum(np.floor((g["price"] - half) / tick), 0.0)
    ask_units = np.maximum(np.ceil((g["price"] + half) / tick), bid_units + 1.0)
    bid, ask = np.round(bid_units * tick, 2), np.round(ask_units * tick, 2)
    return OptionSnapshot(
        ts_ns=close_ns,
        underlying_price=spot,
        theo=g["price"],
        bid=bid,
        ask=ask,
        bid_size=rng.integers(1, 200, size=len(chain)),
        ask_size=rng.integers(1, 200, size=len(chain)),
        delta=g["delta"],
        gamma=g["gamma"],
        theta=g["theta"],
        vega=g["vega"],
    )
