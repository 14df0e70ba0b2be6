"""The synthetic price/volume model: SPX/NDX index paths, SPY/QQQ trades and NBBO quotes.

Deterministic: a session's random draws come from ``default_rng([seed, date.toordinal()])``
and the state carried between sessions (closes, volatility, proxy ratios) evolves in date order
from ``start``, so the same seed and dates give the same arrays. Nothing reads the wall clock.

Model, per XNYS session (regular hours only; early closes respected):

* Daily volatility follows a log-AR(1) (clustering); overnight gaps are Student-t.
* A ground-truth day type is drawn: ``trend_up``/``trend_down`` (``trend_probability``, split
  evenly) or ``balanced``. Trend days are a drift of 1.6-2.6 daily sigmas spent on a
  volatility clock plus a Brownian bridge (open near one extreme, close near the other, wide
  range); balanced days are an Ornstein-Uhlenbeck excursion around the open (narrow range).
* Per-second innovations are Student-t(4) with a U-shaped intraday volatility profile;
  NDX = beta x SPX shocks with correlation ``correlation``.
* Index values tick about once a second at a random millisecond offset (2% of seconds have
  none, 5% have two). SPY = SPX/ratio and QQQ = NDX/ratio, ratios drifting a few bps a day.
* NBBO quotes and trades arrive as Poisson streams with a U-shaped rate; prices are whole cents,
  the spread one cent (sometimes two), trades at the bid, the ask or (two-cent spreads) inside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from scalper.core.timeutil import NEW_YORK, NS_PER_S, datetime_to_ns
from scalper.marketdata.aggregate import (
    MINUTE_NS,
    TradeBars,
    ValueBars,
    trades_to_bars,
    values_to_bars,
)
from scalper.marketdata.calendar import xnys

INDEX_TICKERS: Final = ("I:NDX", "I:SPX")  # codes 0, 1 (ticker order)
STOCK_TICKERS: Final = ("QQQ", "SPY")  # codes 0, 1; QQQ tracks NDX, SPY tracks SPX
DAY_TYPES: Final = ("trend_up", "trend_down", "balanced")
DAY_NS: Final = 86_400 * NS_PER_S

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketConfig:
    """Knobs of the synthetic market; defaults give realistic levels at a modest data volume."""

    spx_start: float = 5800.0
    ndx_start: float = 20500.0
    spy_ratio: float = 10.0
    qqq_ratio: float = 41.0
    daily_vol: float = 0.009
    ndx_beta: float = 1.25
    correlation: float = 0.94
    trend_probability: float = 0.3
    trades_per_second: float = 6.0
    quotes_per_second: float = 3.0

    def __post_init__(self) -> None:
        for name in ("spx_start", "ndx_start", "spy_ratio", "qqq_ratio", "daily_vol", "ndx_beta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"MarketConfig.{name}: expected > 0, was {getattr(self, name)!r}")
        if not 0.0 <= self.trend_probability <= 1.0 or not 0.0 < self.correlation < 1.0:
            raise ValueError("MarketConfig: expected 0 <= trend_probability <= 1 and 0 < correlation < 1")
        if not (self.trades_per_second > 0 and self.quotes_per_second > 0):
            raise ValueError("MarketConfig: expected trades_per_second and quotes_per_second > 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionWindow:
    """One XNYS regular session: [open_ns, close_ns) in UTC nanoseconds."""

    day: dt.date
    open_ns: int
    close_ns: int
    midnight_ns: int  # 00:00 America/New_York of ``day``: the day-aggregate window start

    @property
    def seconds(self) -> int:
        """Length of the session in seconds (23,400 normally, 12,600 on an early close)."""
        return (self.close_ns - self.open_ns) // NS_PER_S


@dataclass(frozen=True, kw_only=True, slots=True)
class OHLC:
    """Open, high, low, close of one instrument over the session."""

    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionTruth:
    """What the generator decided for a session, for checking that later code recovers it."""

    day: dt.date
    day_type: str
    sigma: float  # the day's volatility parameter (daily log-return sd)
    spx: OHLC
    ndx: OHLC
    spy_ratio: tuple[float, float]  # SPX/SPY at the open and at the close
    qqq_ratio: tuple[float, float]


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexTicks:
    """Index value prints, sorted by (symbol, ts_ns); ``symbol`` indexes INDEX_TICKERS."""

    symbol: I64
    ts_ns: I64
    value: F64


@dataclass(frozen=True, kw_only=True, slots=True)
class StockTrades:
    """SPY/QQQ trades sorted by (symbol, sip_ns); ``symbol`` indexes STOCK_TICKERS.

    ``conditions`` is the (n, 4) condition-id matrix padded with -1; ``trf_id``/``trf_ns`` are
    0 for trades not reported through a FINRA TRF (exchange 4).
    """

    symbol: I64
    sip_ns: I64
    participant_ns: I64
    price: F64
    size: I64
    exchange: I64
    tape: I64
    sequence: I64
    trade_id: I64
    conditions: NDArray[np.int16]
    trf_id: I64
    trf_ns: I64
    correction: I64


@dataclass(frozen=True, kw_only=True, slots=True)
class StockQuotes:
    """SPY/QQQ NBBO quotes sorted by (symbol, sip_ns); sizes in shares, prices in whole cents."""

    symbol: I64
    sip_ns: I64
    participant_ns: I64
    bid: F64
    ask: F64
    bid_size: I64
    ask_size: I64
    bid_exchange: I64
    ask_exchange: I64
    sequence: I64
    tape: I64

    def mid_at(self, code: int, ts_ns: I64) -> F64:
        """Midpoint of the quote prevailing at each time (the first quote before the open)."""
        rows = np.flatnonzero(self.symbol == code)
        at = np.searchsorted(self.sip_ns[rows], ts_ns, side="right") - 1
        pick = rows[np.clip(at, 0, rows.size - 1)]
        mid: F64 = 0.5 * (self.bid[pick] + self.ask[pick])
        return mid


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketDay:
    """Everything the market produced in one session; bars are derived from the ticks/trades."""

    window: SessionWindow
    truth: SessionTruth
    index_ticks: IndexTicks
    index_seconds: ValueBars
    index_minutes: ValueBars
    index_days: ValueBars
    trades: StockTrades
    quotes: StockQuotes
    stock_seconds: TradeBars
    stock_minutes: TradeBars
    stock_days: TradeBars

    def index_value_at(self, code: int, ts_ns: I64) -> F64:
        """The index level at given times (linear between ticks), for pricing derivatives."""
        return _interp(self.index_ticks, code, ts_ns)

    def stock_mid_at(self, code: int, ts_ns: I64) -> F64:
        """The prevailing NBBO midpoint of a stock at given times."""
        return self.quotes.mid_at(code, ts_ns)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Carry:
    """State carried from one session to the next."""

    closes: F64  # index closes, by INDEX_TICKERS code
    log_sigma: float
    ratios: F64  # proxy ratios at the close, by STOCK_TICKERS code


def session_windows(start: dt.date, sessions: int) -> list[SessionWindow]:
    """The first ``sessions`` XNYS sessions on or after ``start``."""
    if sessions < 0:
        raise ValueError(f"sessions: expected >= 0, was {sessions}")
    cal = xnys()
    labels = cal.sessions_in_range(start.isoformat(), cal.last_session)[:sessions]
    if len(labels) < sessions:
        raise ValueError(f"only {len(labels)} XNYS sessions known from {start}; asked for {sessions}")
    return [_window(cal, label) for label in labels]


def _window(cal: Any, label: Any) -> SessionWindow:
    day = label.date()
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    return SessionWindow(
        day=day,
        open_ns=int(cal.session_open(label).value),
        close_ns=int(cal.session_close(label).value),
        midnight_ns=datetime_to_ns(midnight),
    )


def generate_market_days(
    start: dt.date, sessions: int, seed: int, config: MarketConfig | None = None
) -> Iterator[MarketDay]:
    """Yield one MarketDay per session, in date order, generated lazily (bounded memory)."""
    cfg = config or MarketConfig()
    carry = _initial_carry(seed, cfg)
    for window in session_windows(start, sessions):
        rng = np.random.default_rng([seed, window.day.toordinal()])
        day, carry = _market_day(rng, window, carry, cfg)
        yield day


def _initial_carry(seed: int, cfg: MarketConfig) -> _Carry:
    rng = np.random.default_rng([seed, 0])
    closes = np.array([cfg.ndx_start, cfg.spx_start]) * np.exp(rng.normal(0.0, 0.01, 2))
    ratios = np.array([cfg.qqq_ratio, cfg.spy_ratio]) * np.exp(rng.normal(0.0, 0.001, 2))
    return _Carry(closes=closes, log_sigma=float(np.log(cfg.daily_vol)), ratios=ratios)


def _market_day(
    rng: np.random.Generator, window: SessionWindow, carry: _Carry, cfg: MarketConfig
) -> tuple[MarketDay, _Carry]:
    log_sigma = np.log(cfg.daily_vol) + 0.85 * (carry.log_sigma - np.log(cfg.daily_vol)) + 0.22 * rng.normal()
    sigma = float(np.clip(np.exp(log_sigma), 0.3 * cfg.daily_vol, 3.5 * cfg.daily_vol))
    day_type = _draw_day_type(rng, cfg.trend_probability)
    opens = _gap_open(rng, carry.closes, sigma, cfg)
    paths = _log_paths(rng, window.seconds, sigma, day_type, cfg)
    ticks = _index_ticks(rng, window, opens[:, None] * np.exp(paths))
    ratio_close = _drift_ratios(rng, carry.ratios, cfg)
    trades, quotes = _stock_day(rng, window, ticks, (carry.ratios, ratio_close), cfg)
    truth = SessionTruth(
        day=window.day,
        day_type=day_type,
        sigma=sigma,
        spx=_ohlc(ticks, 1),
        ndx=_ohlc(ticks, 0),
        spy_ratio=(float(carry.ratios[1]), float(ratio_close[1])),
        qqq_ratio=(float(carry.ratios[0]), float(ratio_close[0])),
    )
    day = _assemble(window, truth, ticks, trades, quotes)
    closes = np.array([truth.ndx.close, truth.spx.close])
    return day, _Carry(closes=closes, log_sigma=float(np.log(sigma)), ratios=ratio_close)


def _assemble(
    window: SessionWindow, truth: SessionTruth, ticks: IndexTicks, trades: StockTrades, quotes: StockQuotes
) -> MarketDay:
    def values(width: int, origin: int = 0) -> ValueBars:
        return values_to_bars(ticks.symbol, ticks.ts_ns, ticks.value, window_ns=width, origin_ns=origin)

    columns = (trades.symbol, trades.sip_ns, trades.price, trades.size, trades.conditions)

    def bars(width: int, origin: int = 0) -> TradeBars:
        return trades_to_bars(*columns, window_ns=width, origin_ns=origin)

    return MarketDay(
        window=window,
        truth=truth,
        index_ticks=ticks,
        index_seconds=values(NS_PER_S),
        index_minutes=values(MINUTE_NS),
        index_days=values(DAY_NS, window.midnight_ns),
        trades=trades,
        quotes=quotes,
        stock_seconds=bars(NS_PER_S),
        stock_minutes=bars(MINUTE_NS),
        stock_days=bars(DAY_NS, window.midnight_ns),
    )


def _draw_day_type(rng: np.random.Generator, trend_probability: float) -> str:
    u = rng.random()
    if u < trend_probability / 2:
        return "trend_up"
    if u < trend_probability:
        return "trend_down"
    return "balanced"


def _student(rng: np.random.Generator, shape: tuple[int, ...], df: float = 4.0) -> F64:
    """Student-t draws scaled to unit variance (fat tails)."""
    draws: F64 = rng.standard_t(df, shape) / np.sqrt(df / (df - 2.0))
    return draws


def _gap_open(rng: np.random.Generator, closes: F64, sigma: float, cfg: MarketConfig) -> F64:
    """Overnight gap, with a weak pull that keeps the levels in their historical band."""
    centres = np.array([cfg.ndx_start, cfg.spx_start])
    shock = 0.3 * sigma * _student(rng, (1,))[0]
    betas = np.array([cfg.ndx_beta, 1.0])
    gaps = betas * shock + 0.1 * sigma * rng.normal(size=2) - 0.03 * np.log(closes / centres)
    opens: F64 = np.round(closes * np.exp(gaps), 2)
    return opens


def u_profile(n: int) -> F64:
    """U-shaped intraday volatility profile over n seconds, scaled so mean(profile**2) == 1."""
    t = (np.arange(n) + 0.5) / n
    shape = 1.0 + 1.8 * np.exp(-t / 0.05) + 0.9 * np.exp(-(1.0 - t) / 0.04)
    scaled: F64 = shape / np.sqrt(np.mean(shape * shape))
    return scaled


def _log_paths(rng: np.random.Generator, n: int, sigma: float, day_type: str, cfg: MarketConfig) -> F64:
    """Log price relative to the open, per second, rows by INDEX_TICKERS code (NDX, SPX)."""
    z = _student(rng, (2, n))
    rho = cfg.correlation
    shocks = np.stack([cfg.ndx_beta * (rho * z[0] + np.sqrt(1.0 - rho * rho) * z[1]), z[0]])
    scale = sigma * u_profile(n) / np.sqrt(n)
    increments = shocks * scale
    if day_type == "balanced":
        path = _ornstein_uhlenbeck(1.2 * increments, kappa=8.0 / n)
    else:
        sign = 1.0 if day_type == "trend_up" else -1.0
        clock = np.cumsum(scale * scale) / np.sum(scale * scale)
        walk = np.cumsum(0.6 * increments, axis=1)
        bridge = walk - clock * walk[:, -1:]
        move = sign * rng.uniform(1.6, 2.6) * sigma * np.array([[cfg.ndx_beta], [1.0]])
        path = move * clock + bridge
    anchored: F64 = path - path[:, :1]
    return anchored


def _ornstein_uhlenbeck(increments: F64, kappa: float) -> F64:
    """x_t = (1-kappa) x_{t-1} + e_t from x_{-1} = 0, in closed form (a**-n stays ~e**8)."""
    powers = (1.0 - kappa) ** np.arange(increments.shape[1])
    path: F64 = powers * np.cumsum(increments / powers, axis=1)
    return path


def _index_ticks(rng: np.random.Generator, window: SessionWindow, levels: F64) -> IndexTicks:
    """About one print per second at random ms offsets; some seconds none, some two."""
    n = window.seconds
    symbols, stamps, values = [], [], []
    for code in range(levels.shape[0]):
        counts = rng.choice(3, size=n, p=[0.02, 0.93, 0.05])
        counts[0] = counts[-1] = 1
        second = np.repeat(np.arange(n), counts)
        offset_ms = rng.integers(0, 1000, size=second.size)
        order = np.lexsort((offset_ms, second))
        second, offset_ms = second[order], offset_ms[order]
        repeat = np.zeros(second.size, dtype=np.bool_)
        repeat[1:] = second[1:] == second[:-1]
        nxt = np.minimum(second + 1, n - 1)
        value = np.where(repeat, 0.5 * (levels[code, second] + levels[code, nxt]), levels[code, second])
        ts = window.open_ns + second * NS_PER_S + offset_ms * 1_000_000
        keep = np.ones(ts.size, dtype=np.bool_)
        keep[1:] = ts[1:] != ts[:-1]
        symbols.append(np.full(int(keep.sum()), code, dtype=np.int64))
        stamps.append(ts[keep])
        values.append(np.round(value[keep], 2))
    return IndexTicks(symbol=np.concatenate(symbols), ts_ns=np.concatenate(stamps), value=np.concatenate(values))


def _interp(ticks: IndexTicks, code: int, ts_ns: I64) -> F64:
    rows = ticks.symbol == code
    result: F64 = np.interp(ts_ns, ticks.ts_ns[rows], ticks.value[rows])
    return result


def _ohlc(ticks: IndexTicks, code: int) -> OHLC:
    values = ticks.value[ticks.symbol == code]
    return OHLC(open=float(values[0]), high=float(values.max()), low=float(values.min()), close=float(values[-1]))


def _drift_ratios(rng: np.random.Generator, ratios: F64, cfg: MarketConfig) -> F64:
    """Proxy ratios move a few bps a day (dividends, fees, tracking), weakly pulled home."""
    homes = np.array([cfg.qqq_ratio, cfg.spy_ratio])
    step = rng.normal(0.3e-4, 2.5e-4, size=2) - 0.02 * np.log(ratios / homes)
    drifted: F64 = ratios * np.exp(step)
    return drifted


# --- SPY/QQQ microstructure -------------------------------------------------------------------
# Exchange ids as Polygon numbers them for stocks; 4 is the FINRA TRF (off-exchange prints).
LIT_EXCHANGES: Final = np.array([11, 12, 19, 8, 15, 21, 10, 7], dtype=np.int64)
LIT_CUMULATIVE: Final = np.cumsum([0.2, 0.2, 0.15, 0.13, 0.09, 0.1, 0.08, 0.05])
TRF_EXCHANGE: Final = 4
TRF_IDS: Final = np.array([201, 202, 203], dtype=np.int64)
LISTING_EXCHANGE: Final = (12, 11)  # QQQ on Nasdaq, SPY on NYSE Arca
TAPES: Final = (3, 2)  # QQQ tape C, SPY tape B
_EDGE_NS: Final = 10_000  # continuous quotes/trades keep 10 us off the session edges


def _stock_day(
    rng: np.random.Generator,
    window: SessionWindow,
    ticks: IndexTicks,
    ratios: tuple[F64, F64],
    cfg: MarketConfig,
) -> tuple[StockTrades, StockQuotes]:
    """Quotes and trades of both proxies, concatenated in (symbol, time) order."""
    rate = u_profile(window.seconds) ** 2
    parts = [
        _one_stock(
            rng,
            window,
            code,
            lambda ts, c=code: _fair(ticks, window, ratios, c, ts),
            cfg.trades_per_second * rate,
            cfg.quotes_per_second * rate,
        )
        for code in range(len(STOCK_TICKERS))
    ]
    trades = StockTrades(**{k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]})
    quotes = StockQuotes(**{k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]})
    return trades, quotes


def _fair(ticks: IndexTicks, window: SessionWindow, ratios: tuple[F64, F64], code: int, ts: I64) -> F64:
    """Fair proxy price: index level over a ratio that moves linearly (in logs) through the day."""
    frac = (ts - window.open_ns) / (window.close_ns - window.open_ns)
    ratio = ratios[0][code] * (ratios[1][code] / ratios[0][code]) ** frac
    fair: F64 = _interp(ticks, code, ts) / ratio
    return fair


def _arrivals(rng: np.random.Generator, window: SessionWindow, rate: F64) -> I64:
    """Poisson arrival times with a per-second rate, kept clear of the session edges."""
    second = np.repeat(np.arange(rate.size, dtype=np.int64), rng.poisson(rate))
    offset = rng.integers(_EDGE_NS, NS_PER_S - _EDGE_NS, size=second.size)
    stamps: I64 = np.sort(window.open_ns + second * NS_PER_S + offset)
    return stamps


def _one_stock(
    rng: np.random.Generator, window: SessionWindow, code: int, fair: Any, trade_rate: F64, quote_rate: F64
) -> tuple[dict[str, Any], dict[str, Any]]:
    q_ts = np.concatenate(([window.open_ns], _arrivals(rng, window, quote_rate)))
    spread = np.where(rng.random(q_ts.size) < 0.12, 2, 1)
    bid_c = np.floor(fair(q_ts) * 100.0 - (spread - 1) / 2.0).astype(np.int64)
    quotes = _quote_columns(rng, code, q_ts, bid_c, bid_c + spread)
    t_ts = _arrivals(rng, window, trade_rate)
    at = np.searchsorted(q_ts, t_ts, side="right") - 1
    buy = rng.random(t_ts.size) < 0.5
    price_c = np.where(buy, bid_c[at] + spread[at], bid_c[at])
    price_c = np.where((spread[at] == 2) & (rng.random(t_ts.size) < 0.3), bid_c[at] + 1, price_c)
    size, conditions, exchange = _sizes_conditions(rng, t_ts.size)
    auction_ts, auction_c, auction_size, auction_cond = _auctions(rng, window, q_ts, bid_c)
    ts = np.concatenate((t_ts, auction_ts))
    order = np.argsort(ts, kind="stable")
    trades = _trade_columns(
        rng,
        code,
        ts[order],
        np.concatenate((price_c, auction_c))[order],
        np.concatenate((size, auction_size))[order],
        np.concatenate((conditions, auction_cond))[order],
        np.concatenate((exchange, np.full(4, LISTING_EXCHANGE[code])))[order],
    )
    _assign_sequences(rng, trades, quotes)
    return trades, quotes


def _lit_exchanges(rng: np.random.Generator, n: int) -> I64:
    """Venues drawn by market share (inverse CDF: much faster than ``choice`` with weights)."""
    picked: I64 = LIT_EXCHANGES[np.searchsorted(LIT_CUMULATIVE, rng.random(n) * LIT_CUMULATIVE[-1])]
    return picked


def _quote_columns(rng: np.random.Generator, code: int, ts: I64, bid_c: I64, ask_c: I64) -> dict[str, Any]:
    n = ts.size
    return {
        "symbol": np.full(n, code, dtype=np.int64),
        "sip_ns": ts,
        "participant_ns": ts - rng.integers(20_000, 900_000, size=n),
        "bid": bid_c / 100.0,
        "ask": ask_c / 100.0,
        "bid_size": 100 * rng.geometric(0.3, size=n),
        "ask_size": 100 * rng.geometric(0.3, size=n),
        "bid_exchange": _lit_exchanges(rng, n),
        "ask_exchange": _lit_exchanges(rng, n),
        "sequence": np.zeros(n, dtype=np.int64),
        "tape": np.full(n, TAPES[code], dtype=np.int64),
    }


def _sizes_conditions(rng: np.random.Generator, n: int) -> tuple[I64, NDArray[np.int16], I64]:
    """Heavy-tailed sizes (odd lots, round lots, mixed lots), condition ids and exchanges."""
    odd = rng.random(n) < 0.35
    lots = np.minimum(1 + np.floor(rng.pareto(1.4, size=n)), 400).astype(np.int64)
    mixed = np.where(rng.random(n) < 0.12, rng.integers(1, 100, size=n), 0)
    size = np.where(odd, rng.integers(1, 100, size=n), 100 * lots + mixed)
    trf = rng.random(n) < 0.4
    exchange = np.where(trf, TRF_EXCHANGE, _lit_exchanges(rng, n))
    u = rng.random(n)
    special = np.where(u < 0.001, 2, np.where(u < 0.0015, 53, -1))  # average price, QCT
    iso = ~trf & (rng.random(n) < 0.05)
    candidates = np.stack(
        [
            special,
            np.where(iso, 14, -1),
            np.where(odd, 37, -1),
            np.where(rng.random(n) < 0.004, 41, -1),
        ],
        axis=1,
    )
    ordered = np.sort(np.where(candidates < 0, 1 << 15, candidates), axis=1)
    conditions = np.where(ordered == 1 << 15, -1, ordered).astype(np.int16)
    return size.astype(np.int64), conditions, exchange.astype(np.int64)


def _auctions(
    rng: np.random.Generator, window: SessionWindow, q_ts: I64, bid_c: I64
) -> tuple[I64, I64, I64, NDArray[np.int16]]:
    """Opening print + official-open marker, closing print + official-close marker."""
    open_c = bid_c[0]
    close_c = bid_c[np.searchsorted(q_ts, window.close_ns - 5_000, side="right") - 1]
    ts = np.array([window.open_ns + 500, window.open_ns + 600, window.close_ns - 5_000, window.close_ns - 4_000])
    sizes = (100 * np.round(rng.lognormal(np.log(2_000.0), 0.5, size=2))).astype(np.int64)
    cond = np.full((4, 4), -1, dtype=np.int16)
    cond[:, 0] = (25, 16, 8, 15)
    return ts, np.array([open_c, open_c, close_c, close_c]), np.repeat(sizes, 2), cond


def _trade_columns(
    rng: np.random.Generator,
    code: int,
    ts: I64,
    price_c: I64,
    size: I64,
    conditions: NDArray[np.int16],
    exchange: I64,
) -> dict[str, Any]:
    n = ts.size
    trf = exchange == TRF_EXCHANGE
    delay = np.where(trf, rng.integers(200_000, 20_000_000, size=n), rng.integers(20_000, 900_000, size=n))
    return {
        "symbol": np.full(n, code, dtype=np.int64),
        "sip_ns": ts,
        "participant_ns": ts - delay,
        "price": price_c / 100.0,
        "size": size,
        "exchange": exchange,
        "tape": np.full(n, TAPES[code], dtype=np.int64),
        "sequence": np.zeros(n, dtype=np.int64),
        "trade_id": _trade_ids(rng, exchange),
        "conditions": conditions,
        "trf_id": np.where(trf, rng.choice(TRF_IDS, size=n), 0),
        "trf_ns": np.where(trf, ts - rng.integers(5_000, 150_000, size=n), 0),
        "correction": np.zeros(n, dtype=np.int64),
    }


def _trade_ids(rng: np.random.Generator, exchange: I64) -> I64:
    """Per-exchange increasing ids with gaps (trade ids are unique per ticker and venue)."""
    order = np.argsort(exchange, kind="stable")
    steps = rng.integers(1, 40, size=exchange.size)
    total = np.cumsum(steps[order])
    first = np.ones(order.size, dtype=np.bool_)
    first[1:] = exchange[order][1:] != exchange[order][:-1]
    base = np.maximum.accumulate(np.where(first, total - steps[order], 0))
    ids = np.empty(exchange.size, dtype=np.int64)
    ids[order] = exchange[order] * 10**12 + rng.integers(10**9, 10**10) + (total - base)
    return ids


def _assign_sequences(rng: np.random.Generator, trades: dict[str, Any], quotes: dict[str, Any]) -> None:
    """One increasing sequence per ticker over quotes and trades, with gaps."""
    nq = quotes["sip_ns"].size
    stamps = np.concatenate((quotes["sip_ns"], trades["sip_ns"]))
    order = np.argsort(stamps, kind="stable")
    seq = np.empty(stamps.size, dtype=np.int64)
    seq[order] = rng.integers(1_000, 5_000) + np.cumsum(rng.geometric(0.8, size=stamps.size))
    quotes["sequence"], trades["sequence"] = seq[:nq], seq[nq:]
