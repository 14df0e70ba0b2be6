"""The feature engine against independent batch references computed from the raw second columns.

Synthetic XNYS sessions (regular hours only) are replayed with ``keep=True``; every feature is
recomputed here with numpy / pandas / TA-Lib — never with the engine's own primitives — and read
back at the event where the engine must know it. Conventions of the references:

* VWAP and σ: two passes in ``np.longdouble``; weights = volume, σ² = Σw(x−μ)²/Σw (population).
* Bars: pandas ``resample`` of the seconds on the clock grid (``origin="epoch"``: 09:30 ET is on the
  1/5/15-minute grids). A bar is known at its *close event*: the event of its last second when that
  is hh:mm:59 (resp. the grid's last minute), else the first later event that closes it.
* TA-Lib: ``EMA`` is seeded with the SMA of the first n inputs (α = 2/(n+1)), ``ATR``/``ADX``/``±DI``
  use Wilder smoothing; ``BBANDS`` with ``matype=0`` has an SMA middle and a population σ. The series
  run over the concatenated sessions: the engine's indicators carry across days.

Tolerance rtol = 1e-9 for values that are one formula away from the reference (VWAP, EMA, ATR…):
only rounding separates the engine's incremental updates from the batch computations.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import talib

from scalper.features.engine import EventArrays, FeatureEngine
from scalper.features.snapshot import INDEX
from scalper.synthetic.columns import seconds
from scalper.synthetic.market import generate_market_days

START = dt.date(2024, 3, 4)
N_DAYS = 7
SEED = 11
NS = 1_000_000_000
RTOL = 1e-9
OR_MINUTES = (5, 15, 30)
TIMEFRAMES = {"1m": 60, "5m": 300, "15m": 900}


# --- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seconds:
    """One symbol's one-second bars over consecutive sessions (regular hours), in time order."""

    ts: np.ndarray  # window start, UTC ns
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray  # nan for an index
    vw: np.ndarray  # nan for an index
    day: np.ndarray  # session number, 0 = first
    opens: np.ndarray  # session open per day, UTC ns

    @property
    def n(self) -> int:
        return int(self.ts.size)

    @property
    def t(self) -> np.ndarray:
        """Whole UTC seconds."""
        return self.ts // NS

    @property
    def elapsed(self) -> np.ndarray:
        """Seconds since the session's open."""
        return (self.ts - self.opens[self.day]) // NS

    def day_rows(self, d: int) -> np.ndarray:
        return np.flatnonzero(self.day == d)

    def first(self, n_days: int) -> Seconds:
        keep = self.day < n_days
        cols = {k: getattr(self, k)[keep] for k in ("ts", "o", "h", "lo", "c", "v", "vw", "day")}
        return Seconds(**cols, opens=self.opens[:n_days])

    def events(self, code: int) -> EventArrays:
        return EventArrays.seconds(np.full(self.n, code), self.ts, self.o, self.h, self.lo, self.c, self.v, self.vw)


def engine_price(s: Seconds) -> np.ndarray:
    """The price a second contributes to a VWAP (DOMAIN.md): its own VWAP when present — even outside
    [low, high], where odd lots can put it — else the typical price (H+L+C)/3."""
    typical = (s.h + s.lo + s.c) / 3.0
    with np.errstate(invalid="ignore"):
        ok = s.vw > 0
    return np.where(ok, s.vw, typical)


@pytest.fixture(scope="module")
def market() -> dict[str, Seconds]:
    days = list(generate_market_days(START, N_DAYS, SEED))
    opens = np.array([d.window.open_ns for d in days], dtype=np.int64)
    out: dict[str, Seconds] = {}
    for symbol in ("SPY", "I:SPX"):
        parts = []
        for i, day in enumerate(days):
            cols = seconds(day)
            m = cols["symbol"] == symbol
            parts.append({k: cols[k][m] for k in ("ts", "open", "high", "low", "close", "volume", "vwap")})
            parts[-1]["day"] = np.full(int(m.sum()), i)
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out[symbol] = Seconds(
            ts=cat["ts"].astype(np.int64),
            o=cat["open"].astype(float),
            h=cat["high"].astype(float),
            lo=cat["low"].astype(float),
            c=cat["close"].astype(float),
            v=cat["volume"].astype(float),
            vw=cat["vwap"].astype(float),
            day=cat["day"],
            opens=opens,
        )
    assert np.all(np.diff(out["SPY"].ts) > 0) and np.all(np.diff(out["I:SPX"].ts) > 0)
    return out


@pytest.fixture(scope="module")
def spy(market: dict[str, Seconds]) -> Seconds:
    return market["SPY"]


@pytest.fixture(scope="module")
def spy_rows(spy: Seconds) -> np.ndarray:
    """SPY alone over all sessions: one snapshot row per second."""
    engine = FeatureEngine(("SPY",))
    status, rows = engine.replay(spy.events(0), keep=True)
    assert (status == 0).all()
    return rows


def col(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, INDEX[name]]


def assert_same(got: np.ndarray, ref: np.ndarray, name: str, *, rtol: float = RTOL, atol: float = 0.0) -> None:
    """Non-empty, the same nan (warm-up) pattern, and close where the reference has a value."""
    assert got.shape == ref.shape and got.size > 0, name
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{name}: nan pattern")
    mask = ~np.isnan(ref)
    assert mask.any(), f"{name}: the reference never has a value"
    np.testing.assert_allclose(got[mask], ref[mask], rtol=rtol, atol=atol, err_msg=name)


def two_pass(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(μ, σ) by two passes in long double: μ = Σwx/Σw, σ² = Σw(x−μ)²/Σw."""
    xl, wl = np.asarray(x, dtype=np.longdouble), np.asarray(w, dtype=np.longdouble)
    total = wl.sum()
    mu = (wl * xl).sum() / total
    var = (wl * (xl - mu) ** 2).sum() / total
    return float(mu), float(np.sqrt(var))


def sample_rows(s: Seconds, d: int, count: int = 40) -> np.ndarray:
    rows = s.day_rows(d)
    picks = np.unique(np.concatenate([rows[:3], rows[np.linspace(0, rows.size - 1, count).astype(int)]]))
    return picks


def step_series(n: int, events: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A per-event column that takes ``values[j]`` at ``events[j]`` and holds it until the next one."""
    keep = events >= 0
    events, values = events[keep], values[keep]
    assert np.all(np.diff(events) > 0), "one close per event and timeframe"
    pos = np.full(n, -1)
    pos[events] = np.arange(events.size)
    pos = np.maximum.accumulate(pos)
    out = np.full(n, np.nan)
    out[pos >= 0] = values[pos[pos >= 0]]
    return out


# --- bars ------------------------------------------------------------------------------------------


def resample(s: Seconds, width_s: int) -> pd.DataFrame:
    """Clock-aligned bars of ``width_s`` seconds from the seconds (pandas), with the last second's row."""
    price = engine_price(s)
    w = np.where(np.isnan(s.v), 0.0, s.v)
    frame = pd.DataFrame(
        {
            "open": s.o,
            "high": s.h,
            "low": s.lo,
            "close": s.c,
            "pw": price * w,
            "w": w,
            "last": np.arange(s.n, dtype=float),
            "day": s.day.astype(float),
        },
        index=pd.to_datetime(s.ts, utc=True),
    )
    how = {"open": "first", "high": "max", "low": "min", "close": "last", "pw": "sum", "w": "sum"}
    bars = frame.resample(f"{width_s}s", origin="epoch").agg({**how, "last": "max", "day": "first"})
    bars = bars.dropna(subset=["close"])
    bars["start"] = bars.index.asi8 // NS
    bars["last"] = bars["last"].astype(int)
    bars["day"] = bars["day"].astype(int)
    return bars


def minute_close_events(s: Seconds, minutes: pd.DataFrame) -> np.ndarray:
    """The event at which each minute closes: its hh:mm:59 second, else the next event (−1: never)."""
    last = minutes["last"].to_numpy()
    ev = np.where(s.t[last] % 60 == 59, last, last + 1)
    return np.where(ev < s.n, ev, -1)


def higher_close_events(s: Seconds, minutes: pd.DataFrame, bars: pd.DataFrame, width_s: int) -> np.ndarray:
    """A 5m/15m bar closes with its grid-last minute, else with the next minute of the session, else
    at the session's end (the next session's first event)."""
    m_start = minutes["start"].to_numpy()
    m_day = minutes["day"].to_numpy()
    m_ev = minute_close_events(s, minutes)
    out = []
    for start, last in zip(bars["start"].to_numpy(), bars["last"].to_numpy(), strict=True):
        p = int(np.searchsorted(m_start, s.t[last] - s.t[last] % 60))
        assert m_start[p] >= start
        if (m_start[p] + 60) % width_s == 0:
            out.append(m_ev[p])
        elif p + 1 < m_start.size and m_day[p + 1] == m_day[p]:
            out.append(m_ev[p + 1])
        else:
            out.append(last + 1 if last + 1 < s.n else -1)
    return np.array(out, dtype=np.int64)


def close_events(s: Seconds, width_s: int) -> tuple[pd.DataFrame, np.ndarray]:
    minutes = resample(s, 60)
    if width_s == 60:
        return minutes, minute_close_events(s, minutes)
    bars = resample(s, width_s)
    return bars, higher_close_events(s, minutes, bars, width_s)


def shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    out[k:] = x[:-k]
    return out


# --- 1. session VWAP and σ ---------------------------------------------------------------------------


def vwap_reference(s: Seconds, rows: np.ndarray, price: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, ...]:
    mus, sigmas = [], []
    for i in rows:
        start = s.day_rows(int(s.day[i]))[0]
        mu, sigma = two_pass(price[start : i + 1], weight[start : i + 1])
        mus.append(mu)
        sigmas.append(sigma)
    return np.array(mus), np.array(sigmas)


def assert_vwap_and_bands(got: np.ndarray, mu: np.ndarray, sigma: np.ndarray, mode: float) -> None:
    assert mu.size > 0
    np.testing.assert_allclose(col(got, "vwap"), mu, rtol=RTOL)
    # σ of the first second is exactly 0; elsewhere relative (σ is a fraction of a point at SPY levels).
    np.testing.assert_allclose(col(got, "vwap_std"), sigma, rtol=RTOL, atol=1e-12 * mu.max())
    for k in (1, 2, 3):
        np.testing.assert_allclose(col(got, f"vwap_upper_{k}"), mu + k * sigma, rtol=RTOL)
        np.testing.assert_allclose(col(got, f"vwap_lower_{k}"), mu - k * sigma, rtol=RTOL)
    assert (col(got, "vwap_mode") == mode).all()


def test_spy_session_vwap_sigma_and_bands_equal_the_two_pass_oracle(spy: Seconds, spy_rows: np.ndarray) -> None:
    rows = np.concatenate([sample_rows(spy, d) for d in range(3)])
    mu, sigma = vwap_reference(spy, rows, engine_price(spy), spy.v)
    assert_vwap_and_bands(spy_rows[rows], mu, sigma, 1.0)
    assert (sigma[1:] > 0).any()


def test_session_vwap_uses_the_seconds_own_vwap_as_domain_md_says(spy: Seconds, spy_rows: np.ndarray) -> None:
    rows = sample_rows(spy, 0)
    mu, _ = vwap_reference(spy, rows, spy.vw, spy.v)
    np.testing.assert_allclose(col(spy_rows[rows], "vwap"), mu, rtol=RTOL)


def test_spy_vwaps_own_price_rule_is_not_vacuous(spy: Seconds) -> None:
    """The data exercise both branches of the price rule (and the rule matters for the result)."""
    with np.errstate(invalid="ignore"):
        outside = (spy.vw < spy.lo) | (spy.vw > spy.h)
    assert 0 < outside.sum() < spy.n


def test_index_without_a_pair_has_the_equal_weight_twap(market: dict[str, Seconds]) -> None:
    spx = market["I:SPX"].first(2)
    engine = FeatureEngine(("I:SPX",), pairs={})
    status, got = engine.replay(spx.events(0), keep=True)
    assert (status == 0).all()
    rows = np.concatenate([sample_rows(spx, d) for d in range(2)])
    typical = (spx.h + spx.lo + spx.c) / 3.0
    mu, sigma = vwap_reference(spx, rows, typical, np.ones(spx.n))
    assert_vwap_and_bands(got[rows], mu, sigma, 2.0)
    for name in ("cum_delta", "cum_delta_bvc", "rel_volume", "session_volume", "proxy_ratio"):
        assert np.isnan(col(got, name)).all(), name  # no volume, no pair
    assert (col(got, "delta_method") == 0.0).all()


# --- index VWAP through the proxy -------------------------------------------------------------------


@dataclass
class PairReference:
    vwap: np.ndarray
    std: np.ndarray
    ratio: np.ndarray
    orl: dict[str, np.ndarray]
    fresh: np.ndarray  # the latest ratio sample is of the current session


def pair_reference(spx: Seconds, spy: Seconds, ev: EventArrays, n_ratio: int = 5) -> PairReference:
    """Replays the documented sampling rule: after each event, when index and proxy have both closed
    the same minute (and it is newer than the last sampled one) push close_idx/close_proxy into a
    ring of ``n_ratio``; VWAP = the proxy's session VWAP through that minute × the ring's median."""
    series = (spx, spy)
    closes = [dict(zip(resample(x, 60)["start"], resample(x, 60)["close"], strict=True)) for x in series]
    spy_price = engine_price(spy)
    open_s = spy.opens // NS
    spy_or = {}
    for d in range(spy.opens.size):
        rows = spy.day_rows(d)
        el = spy.elapsed[rows]
        for w in OR_MINUTES:
            win = rows[el < w * 60]
            spy_or[d, w] = (spy.h[win].max(), spy.lo[win].min())
    cur = [-1, -1]  # the open minute per symbol
    last_closed = [-1, -1]
    pair_minute = -1
    ring: list[float] = []
    mapped = (math.nan, math.nan)
    mapped_or = {w: (math.nan, math.nan) for w in OR_MINUTES}
    sample_day = -1
    n = len(ev)
    out = PairReference(*(np.full(n, np.nan) for _ in range(3)), {}, np.zeros(n, dtype=bool))
    out.orl = {f"or{w}_{side}": np.full(n, np.nan) for w in OR_MINUTES for side in ("high", "low")}
    for j in range(n):
        sym = int(ev.symbol[j])
        t = int(ev.ts[j]) // NS
        minute = t - t % 60
        if cur[sym] >= 0 and cur[sym] != minute:
            last_closed[sym] = cur[sym]
        cur[sym] = minute
        if t % 60 == 59:
            last_closed[sym], cur[sym] = minute, -1
        m = last_closed[0]
        if m >= 0 and m == last_closed[1] and m > pair_minute:
            pair_minute = m
            ring = [*ring, closes[0][m] / closes[1][m]][-n_ratio:]
            ratio = float(np.median(ring))
            d = int(np.searchsorted(open_s, m, side="right")) - 1
            start = spy.day_rows(d)[0]
            stop = int(np.searchsorted(spy.t, m + 60))
            mu, sigma = two_pass(spy_price[start:stop], spy.v[start:stop])
            mapped = (mu * ratio, sigma * ratio)
            for w in OR_MINUTES:
                done = m + 60 - open_s[d] >= w * 60
                mapped_or[w] = (spy_or[d, w][0] * ratio, spy_or[d, w][1] * ratio) if done else (math.nan, math.nan)
            sample_day = d
        if sym == 0 and ring:
            out.vwap[j], out.std[j] = mapped
            out.ratio[j] = float(np.median(ring))
            d_now = int(np.searchsorted(open_s, t, side="right")) - 1
            out.fresh[j] = sample_day == d_now
            for w in OR_MINUTES:
                if t - open_s[d_now] + 1 >= w * 60:
                    out.orl[f"or{w}_high"][j], out.orl[f"or{w}_low"][j] = mapped_or[w]
    return out


Paired = tuple[Seconds, Seconds, EventArrays, np.ndarray, PairReference]


@pytest.fixture(scope="module")
def paired(market: dict[str, Seconds]) -> Paired:
    spx, spy = market["I:SPX"].first(2), market["SPY"].first(2)
    ev = EventArrays.merge(spx.events(0), spy.events(1))
    engine = FeatureEngine(("I:SPX", "SPY"))
    status, rows = engine.replay(ev, keep=True)
    assert (status == 0).all()
    return spx, spy, ev, rows, pair_reference(spx, spy, ev)


def test_paired_index_vwap_is_the_proxy_vwap_times_the_median_ratio(paired: Paired) -> None:
    _, _, ev, rows, ref = paired
    idx = np.flatnonzero((ev.symbol == 0) & ref.fresh)
    got = rows[idx]
    assert idx.size > 40_000
    assert (col(got, "vwap_mode") == 3.0).all()
    assert_same(col(got, "proxy_ratio"), ref.ratio[idx], "proxy_ratio")
    assert_same(col(got, "vwap"), ref.vwap[idx], "vwap")
    assert_same(col(got, "vwap_std"), ref.std[idx], "vwap_std", atol=1e-9)
    for k in (1, 2):
        assert_same(col(got, f"vwap_upper_{k}"), ref.vwap[idx] + k * ref.std[idx], f"vwap_upper_{k}")
    for name, values in ref.orl.items():
        assert_same(col(got, name), values[idx], name)


def test_paired_index_has_no_vwap_before_its_first_ratio_sample(paired: Paired) -> None:
    spx, _, ev, rows, ref = paired
    first_day = (ev.symbol == 0) & (ev.ts < spx.opens[1])
    before = first_day & np.isnan(ref.ratio)
    assert before.any()
    assert np.isnan(col(rows[before], "vwap")).all() and np.isnan(col(rows[before], "proxy_ratio")).all()


def test_paired_index_vwap_is_not_yesterdays_in_the_first_minute(paired: Paired) -> None:
    _, _, ev, rows, ref = paired
    stale = (ev.symbol == 0) & ~ref.fresh & ~np.isnan(ref.ratio)
    assert stale.any()
    assert np.isnan(col(rows[stale], "vwap")).all()


# --- 2. EMA, slope, ATR per timeframe -----------------------------------------------------------------


def timeframe_reference(s: Seconds, width_s: int | None) -> dict[str, np.ndarray]:
    """Per-event EMA, ATR and normalised slope (TA-Lib on the bars, held between closes)."""
    if width_s is None:  # one-second bars: every event closes one
        h, lo, c, ev = s.h, s.lo, s.c, np.arange(s.n)
        n_ema, k = 60, 10
    else:
        bars, ev = close_events(s, width_s)
        h, lo, c = (bars[x].to_numpy() for x in ("high", "low", "close"))
        n_ema, k = 20, 3
    ema = talib.EMA(c, n_ema)
    atr = talib.ATR(h, lo, c, 14)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(atr > 0, (ema - shifted(ema, k)) / (k * atr), np.nan)
    return {
        "ema": step_series(s.n, ev, ema),
        "atr": step_series(s.n, ev, atr),
        "slope": step_series(s.n, ev, slope),
    }


@pytest.fixture(scope="module")
def tf_refs(spy: Seconds) -> dict[str, dict[str, np.ndarray]]:
    return {"1s": timeframe_reference(spy, None)} | {tf: timeframe_reference(spy, w) for tf, w in TIMEFRAMES.items()}


@pytest.mark.parametrize("tf", ["1s", "1m", "5m", "15m"])
def test_ema_atr_and_slope_equal_talib_on_the_timeframes_bars(
    tf: str, spy_rows: np.ndarray, tf_refs: dict[str, dict[str, np.ndarray]]
) -> None:
    ref = tf_refs[tf]
    assert_same(col(spy_rows, f"ema_{tf}"), ref["ema"], f"ema_{tf}")
    assert_same(col(spy_rows, f"atr_{tf}"), ref["atr"], f"atr_{tf}")
    # the slope is a difference of EMAs (cancellation at ~580): an absolute floor in ATR units
    assert_same(col(spy_rows, f"slope_{tf}"), ref["slope"], f"slope_{tf}", atol=1e-8)


def test_the_15m_series_carries_across_sessions(spy: Seconds, spy_rows: np.ndarray) -> None:
    """26 fifteen-minute bars a day: EMA(20)+3 is first ready on day 1, and its slope from day 2 on
    uses the EMA of the day before (no reset at the open)."""
    ema = col(spy_rows, "ema_15m")
    first_ready = int(np.flatnonzero(~np.isnan(ema))[0])
    assert spy.day[first_ready] == 0
    day1 = spy.day_rows(1)[0]
    assert not np.isnan(col(spy_rows, "slope_15m")[day1])


def test_aligned_follows_the_signs_of_the_four_reference_slopes(
    spy_rows: np.ndarray, tf_refs: dict[str, dict[str, np.ndarray]]
) -> None:
    slopes = np.column_stack([tf_refs[tf]["slope"] for tf in ("1s", "1m", "5m", "15m")])
    with np.errstate(invalid="ignore"):
        signs = np.sign(slopes).sum(axis=1)
        ref = np.where(np.isnan(signs), np.nan, np.where(signs == 4, 1.0, np.where(signs == -4, -1.0, 0.0)))
        clear = np.isnan(slopes).any(axis=1) | (np.abs(slopes) > 1e-6).all(axis=1)  # no sign near a tie
    got = col(spy_rows, "aligned")
    assert_same(got[clear], ref[clear], "aligned")
    assert (got == 1.0).any() and (got == -1.0).any() and (got == 0.0).any()


# --- 3. minute indicators ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minute_refs(spy: Seconds) -> dict[str, np.ndarray]:
    bars, ev = close_events(spy, 60)
    h, lo, c = (bars[x].to_numpy() for x in ("high", "low", "close"))
    path = pd.Series(np.abs(np.diff(c, prepend=np.nan))).rolling(10).sum().to_numpy()
    move = np.abs(c - shifted(c, 10))
    with np.errstate(invalid="ignore", divide="ignore"):
        er = np.where(path > 0, np.minimum(1.0, move / path), np.where(path == 0, 0.0, np.nan))
    upper, mid, lower = talib.BBANDS(c, 20, 2.0, 2.0, matype=0)
    kc_mid, atr20 = talib.EMA(c, 20), talib.ATR(h, lo, c, 20)
    kc_upper, kc_lower = kc_mid + 1.5 * atr20, kc_mid - 1.5 * atr20
    with np.errstate(invalid="ignore"):
        squeeze = np.where(
            np.isnan(upper) | np.isnan(kc_upper), np.nan, ((upper < kc_upper) & (lower > kc_lower)).astype(float)
        )
        ratio = talib.ATR(h, lo, c, 5) / atr20
    values = {
        "adx_1m": talib.ADX(h, lo, c, 14),
        "plus_di_1m": talib.PLUS_DI(h, lo, c, 14),
        "minus_di_1m": talib.MINUS_DI(h, lo, c, 14),
        "er_1m": er,
        "bb_mid": mid,
        "bb_upper": upper,
        "bb_lower": lower,
        "kc_mid": kc_mid,
        "kc_upper": kc_upper,
        "kc_lower": kc_lower,
        "squeeze": squeeze,
        "atr_ratio": ratio,
        "_gap": np.minimum(np.abs(upper - kc_upper), np.abs(lower - kc_lower)),
    }
    return {name: step_series(spy.n, ev, x) for name, x in values.items()}


MINUTE_INDICATORS = (
    *("adx_1m", "plus_di_1m", "minus_di_1m", "er_1m", "atr_ratio"),
    *("bb_mid", "bb_upper", "bb_lower", "kc_mid", "kc_upper", "kc_lower"),
)


@pytest.mark.parametrize("name", MINUTE_INDICATORS)
def test_minute_indicator_equals_its_batch_reference(
    name: str, spy_rows: np.ndarray, minute_refs: dict[str, np.ndarray]
) -> None:
    # DI/ADX/ER are in [0, 100]/[0, 1]: an absolute floor for values near 0
    assert_same(col(spy_rows, name), minute_refs[name], name, atol=1e-9)


def test_squeeze_is_bollinger_inside_keltner(spy_rows: np.ndarray, minute_refs: dict[str, np.ndarray]) -> None:
    with np.errstate(invalid="ignore"):
        clear = np.isnan(minute_refs["_gap"]) | (minute_refs["_gap"] > 1e-9)
    got = col(spy_rows, "squeeze")
    assert_same(got[clear], minute_refs["squeeze"][clear], "squeeze")
    assert (got == 1.0).any() and (got == 0.0).any()


# --- 4. day levels, opening ranges, prior day, anchored VWAPs, pivots ------------------------------------


def test_opening_ranges_day_levels_and_prior_day(spy: Seconds, spy_rows: np.ndarray) -> None:
    ref = {name: np.full(spy.n, np.nan) for name in ("day_open", "day_high", "day_low")}
    ref |= {name: np.full(spy.n, np.nan) for name in ("prior_high", "prior_low", "prior_close")}
    ref |= {f"or{w}_{side}": np.full(spy.n, np.nan) for w in OR_MINUTES for side in ("high", "low")}
    for d in range(N_DAYS):
        rows = spy.day_rows(d)
        ref["day_open"][rows] = spy.o[rows[0]]
        ref["day_high"][rows] = np.maximum.accumulate(spy.h[rows])
        ref["day_low"][rows] = np.minimum.accumulate(spy.lo[rows])
        if d > 0:
            prev = spy.day_rows(d - 1)
            ref["prior_high"][rows] = spy.h[prev].max()
            ref["prior_low"][rows] = spy.lo[prev].min()
            ref["prior_close"][rows] = spy.c[prev[-1]]
        el = spy.elapsed[rows]
        for w in OR_MINUTES:
            window = rows[el < w * 60]
            done = rows[el + 1 >= w * 60]
            ref[f"or{w}_high"][done] = spy.h[window].max()
            ref[f"or{w}_low"][done] = spy.lo[window].min()
    for name, values in ref.items():
        got = col(spy_rows, name)
        assert_same(got, values, name)
        np.testing.assert_array_equal(got, values, err_msg=name)  # selections, no arithmetic: exact
    assert np.isnan(col(spy_rows, "prior_close")[spy.day == 0]).all()


def test_prior_day_values_are_nan_when_the_previous_session_has_no_data(market: dict[str, Seconds]) -> None:
    spy = market["SPY"].first(3)
    keep = np.flatnonzero(spy.day != 1)  # session 1 is in the calendar but has no events
    ev = spy.events(0).take(keep)
    status, rows = FeatureEngine(("SPY",)).replay(ev, keep=True)
    assert (status == 0).all()
    day2 = spy.day[keep] == 2
    assert day2.any()
    for name in ("prior_high", "prior_low", "prior_close", "avwap_prior_high", "avwap_prior_low"):
        assert np.isnan(col(rows[day2], name)).all(), name
    assert not np.isnan(col(rows[day2], "vwap")).any()


@pytest.mark.parametrize("side", ["high", "low"])
def test_prior_day_anchored_vwap_runs_from_the_second_of_the_prior_extreme(
    side: str, spy: Seconds, spy_rows: np.ndarray
) -> None:
    price = engine_price(spy)
    checked = 0
    for d in (1, 2, 3):
        prev = spy.day_rows(d - 1)
        anchor = prev[np.argmax(spy.h[prev])] if side == "high" else prev[np.argmin(spy.lo[prev])]
        rows = sample_rows(spy, d, 25)
        ref = np.array([two_pass(price[anchor : i + 1], spy.v[anchor : i + 1])[0] for i in rows])
        assert_same(col(spy_rows[rows], f"avwap_prior_{side}"), ref, f"avwap_prior_{side}")
        checked += rows.size
    assert np.isnan(col(spy_rows, f"avwap_prior_{side}")[spy.day == 0]).all()
    assert checked > 0


def pivot_reference(s: Seconds, n: int = 5) -> dict[str, np.ndarray]:
    """Pivots per session on the built minute bars and their anchored VWAPs over minute bars.

    A minute is a pivot high when its high is strictly above the n minutes before it and not below
    the n after it (ties go to the earlier minute); it is known when the n-th later minute closes.
    """
    bars, ev = close_events(s, 60)
    out = {name: np.full(len(bars), np.nan) for name in ("pivot_high", "pivot_low", "avwap_high", "avwap_low")}
    h, lo = bars["high"].to_numpy(), bars["low"].to_numpy()
    pw, w, day = bars["pw"].to_numpy(), bars["w"].to_numpy(), bars["day"].to_numpy()
    price = pw / w
    for d in np.unique(day):
        idx = np.flatnonzero(day == d)
        anchors: dict[str, int | None] = {"high": None, "low": None}
        for q, i in enumerate(idx):
            if q >= 2 * n:
                cand = idx[q - n]
                before, after = idx[q - 2 * n : q - n], idx[q - n + 1 : q + 1]
                if (h[cand] > h[before]).all() and (h[cand] >= h[after]).all():
                    anchors["high"] = cand
                    out["pivot_high"][i] = h[cand]
                if (lo[cand] < lo[before]).all() and (lo[cand] <= lo[after]).all():
                    anchors["low"] = cand
                    out["pivot_low"][i] = lo[cand]
            for side in ("high", "low"):
                a = anchors[side]
                if a is not None:
                    out[f"pivot_{side}"][i] = h[a] if side == "high" else lo[a]
                    out[f"avwap_{side}"][i] = two_pass(price[a : i + 1], w[a : i + 1])[0]
    # the values hold between minute closes, and a session starts over at its first event: nan until
    # its first minute closes (the previous session's last minute may close at that same event)
    result = {name: step_series(s.n, ev, x) for name, x in out.items()}
    for d in np.unique(s.day)[1:]:
        first_close = ev[(day == d) & (ev >= 0)]
        stop = int(first_close[0]) if first_close.size else s.n
        for values in result.values():
            values[s.day_rows(d)[0] : stop] = np.nan
    return result


def test_pivots_and_pivot_anchored_vwaps_match_the_minute_reference(spy: Seconds, spy_rows: np.ndarray) -> None:
    sub = spy.first(3)
    rows = spy_rows[: sub.n]
    ref = pivot_reference(sub)
    for side in ("high", "low"):
        assert_same(col(rows, f"pivot_{side}"), ref[f"pivot_{side}"], f"pivot_{side}")
        got = col(rows, f"avwap_pivot_{side}")
        known = ~np.isnan(ref[f"avwap_{side}"])
        assert known.sum() > 1000
        np.testing.assert_allclose(got[known], ref[f"avwap_{side}"][known], rtol=RTOL)


def test_pivot_anchored_vwaps_do_not_exist_before_the_pivot(spy: Seconds, spy_rows: np.ndarray) -> None:
    for side in ("high", "low"):
        no_pivot = np.isnan(col(spy_rows, f"pivot_{side}"))
        assert no_pivot.any()
        assert np.isnan(col(spy_rows, f"avwap_pivot_{side}")[no_pivot]).all()


# --- 5. realised volatility and bulk volume classification ---------------------------------------------


def test_realised_volatility_of_the_session(spy: Seconds, spy_rows: np.ndarray) -> None:
    ref = np.full(spy.n, np.nan)
    for d in range(N_DAYS):
        rows = spy.day_rows(d)
        r2 = np.concatenate([[0.0], np.diff(np.log(spy.c[rows])) ** 2]).astype(np.longdouble)
        ref[rows] = np.sqrt(np.cumsum(r2)).astype(float)
    assert_same(col(spy_rows, "rv_session"), ref, "rv_session", atol=1e-15)


def rv_window_reference(s: Seconds, within_session: bool, n: int = 300) -> np.ndarray:
    ref = np.full(s.n, np.nan)
    groups = [s.day_rows(d) for d in np.unique(s.day)]
    r2_all = [np.diff(np.log(s.c[rows])) ** 2 for rows in groups]
    if within_session:
        for rows, r2 in zip(groups, r2_all, strict=True):
            if r2.size >= n:
                sums = np.lib.stride_tricks.sliding_window_view(r2.astype(np.longdouble), n).sum(axis=1)
                ref[rows[n:]] = np.sqrt(sums).astype(float)
        return ref
    r2 = np.concatenate(r2_all).astype(np.longdouble)
    at = np.concatenate([rows[1:] for rows in groups])
    sums = np.lib.stride_tricks.sliding_window_view(r2, n).sum(axis=1)
    ref[at[n - 1 :]] = np.sqrt(sums).astype(float)
    ref = step_series(s.n, at[n - 1 :], ref[at[n - 1 :]])
    return ref


def test_realised_volatility_over_the_last_300_returns(spy: Seconds, spy_rows: np.ndarray) -> None:
    """On the first session, the window and its warm-up (nan until 300 returns)."""
    rows = spy.day_rows(0)
    ref = rv_window_reference(spy, within_session=True)
    assert_same(col(spy_rows, "rv_window")[rows], ref[rows], "rv_window", atol=1e-15)


def test_realised_volatility_window_starts_over_each_session(spy: Seconds, spy_rows: np.ndarray) -> None:
    ref = rv_window_reference(spy, within_session=True)
    assert_same(col(spy_rows, "rv_window"), ref, "rv_window", atol=1e-15)


def bvc_reference(s: Seconds, n: int = 60) -> np.ndarray:
    """Per second V·(2Φ(ΔP/σ)−1), σ² = SMA-seeded EMA(n) of ΔP² *before* the current change (the
    EMA carries across sessions, the cumulative delta and the previous close do not); nan until the
    EMA is seeded."""
    alpha = 2.0 / (n + 1)
    count, seed, var = 0, 0.0, math.nan
    out = np.full(s.n, np.nan)
    for d in np.unique(s.day):
        prev, cum = math.nan, 0.0
        for i in s.day_rows(d):
            c, v = float(s.c[i]), float(s.v[i])
            if prev == prev:
                change = c - prev
                if count >= n and change != 0.0:
                    sigma = math.sqrt(var)
                    if sigma > 0.0:
                        cum += v * (2.0 * 0.5 * math.erfc(-change / sigma / math.sqrt(2.0)) - 1.0)
                    else:  # no recent movement: the whole second goes to the side of the change
                        cum += v if change > 0.0 else -v
                if count >= n:
                    var = var + alpha * (change * change - var)
                else:
                    count += 1
                    seed += change * change
                    if count == n:
                        var = seed / n
            prev = c
            out[i] = cum if count >= n else math.nan
    return out


def test_bulk_volume_classification_delta(spy: Seconds, spy_rows: np.ndarray) -> None:
    ref = bvc_reference(spy)
    # a running sum of ~23k signed terms that crosses zero: the floor is relative to the volume traded
    floor = 1e-9 * np.nansum(spy.v[spy.day == 0])
    assert_same(col(spy_rows, "cum_delta_bvc"), ref, "cum_delta_bvc", atol=floor)
    assert_same(col(spy_rows, "cum_delta"), ref, "cum_delta", atol=floor)
    method = col(spy_rows, "delta_method")
    np.testing.assert_array_equal(method, np.where(np.isnan(ref), 0.0, 1.0))
    assert np.isnan(col(spy_rows, "cum_delta_lee_ready")).all()


# --- 6. relative volume ---------------------------------------------------------------------------------


def test_relative_volume_against_the_average_cumulative_curve(spy: Seconds, spy_rows: np.ndarray) -> None:
    curves = []
    ref = np.full(spy.n, np.nan)
    for d in range(N_DAYS):
        rows = spy.day_rows(d)
        el = spy.elapsed[rows]
        cum = np.cumsum(spy.v[rows])
        m = el // 60
        if len(curves) >= 5:
            mean = np.mean(curves[-20:], axis=0)
            end = mean[m]
            before = np.where(m > 0, mean[np.maximum(m - 1, 0)], 0.0)
            expected = before + (end - before) * ((el - 60 * m + 1) / 60.0)
            ref[rows] = cum / expected
        np.testing.assert_allclose(col(spy_rows[rows], "session_volume"), cum, rtol=1e-12)
        curve = pd.Series(np.nan, index=np.arange(390))
        curve[np.unique(m)] = pd.Series(cum).groupby(m).last().to_numpy()
        curves.append(curve.ffill().fillna(0.0).to_numpy())
    assert np.isnan(col(spy_rows, "rel_volume")[spy.day < 5]).all()
    got = col(spy_rows, "rel_volume")
    assert_same(got, ref, "rel_volume")
    assert (~np.isnan(got[spy.day == 5])).all() and (~np.isnan(got[spy.day == 6])).all()
