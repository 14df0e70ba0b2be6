"""The feature engine on hand-built events: pivot confirmation, the overnight session, Lee–Ready
delta, refusals, AM-bar reconciliation, and hypothesis properties (no look-ahead; the incremental
values equal batch references) on random streams of seconds.

Sessions are a hand-made table: an early close (210 minutes) and two full sessions (390 minutes).
References are computed here with numpy / TA-Lib, never with the engine's primitives.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.features import kernel as K
from scalper.features.engine import EventArrays, FeatureEngine
from scalper.features.params import FeatureParams
from scalper.features.snapshot import INDEX

NS = 1_000_000_000
OPEN0 = 1_709_562_600  # 2024-03-04 14:30 UTC (09:30 New York), whole seconds
DAY = 86_400
SESSIONS_S = np.array(
    [[OPEN0, OPEN0 + 210 * 60], [OPEN0 + DAY, OPEN0 + DAY + 390 * 60], [OPEN0 + 2 * DAY, OPEN0 + 2 * DAY + 390 * 60]],
    dtype=np.int64,
)
SESSIONS = SESSIONS_S * NS
RTOL = 1e-9


def get(row: np.ndarray, name: str) -> float:
    return float(row[INDEX[name]])


def col(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, INDEX[name]]


def two_pass(x: np.ndarray, w: np.ndarray) -> float:
    """Σwx/Σw in long double (nan without weight)."""
    xl, wl = np.asarray(x, dtype=np.longdouble), np.asarray(w, dtype=np.longdouble)
    total = wl.sum()
    return float((wl * xl).sum() / total) if total > 0 else math.nan


def seconds_events(symbol: int, t: np.ndarray, o, h, lo, c, v, vw) -> EventArrays:  # type: ignore[no-untyped-def]
    return EventArrays.seconds(np.full(t.size, symbol), np.asarray(t, dtype=np.int64) * NS, o, h, lo, c, v, vw)


def random_walk(rng: np.random.Generator, n: int, level: float, volume: bool) -> tuple[np.ndarray, ...]:
    c = level + np.cumsum(rng.normal(0.0, 0.05, n))
    o = np.concatenate([[level], c[:-1]])
    h = np.maximum(o, c) + rng.uniform(0.0, 0.05, n)
    lo = np.minimum(o, c) - rng.uniform(0.0, 0.05, n)
    if not volume:
        return o, h, lo, c, np.full(n, np.nan), np.full(n, np.nan)
    v = rng.integers(0, 1000, n).astype(float) * (rng.random(n) > 0.1)  # some seconds trade nothing
    vw = lo + (h - lo) * rng.random(n)
    return o, h, lo, c, v, vw


# --- pivots: the confirmation time ---------------------------------------------------------------------

HIGHS = np.array([10, 11, 12, 13, 14, 20, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6], dtype=float)


def pivot_engine(last_second: int) -> tuple[np.ndarray, np.ndarray]:
    """One SPY second per minute at ``hh:mm:last_second``; returns (rows, minute index per row)."""
    t = OPEN0 + 60 * np.arange(HIGHS.size) + last_second
    h = HIGHS + 100.0
    lo, c = h - 1.0, h - 0.5
    v, vw = np.full(h.size, 100.0) + np.arange(h.size), h - 0.25
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    status, rows = engine.replay(seconds_events(0, t, c, h, lo, c, v, vw), keep=True)
    assert (status == 0).all()
    return rows, vw


def test_a_pivot_high_is_known_when_the_fifth_later_minute_closes_on_its_last_second() -> None:
    rows, vw = pivot_engine(59)  # every second closes its minute
    pivot = col(rows, "pivot_high")
    assert np.isnan(pivot[:10]).all()  # minute 5 is confirmed by minute 10, not before
    assert (pivot[10:] == 120.0).all()
    assert np.isnan(col(rows, "pivot_low")).all()  # highs and lows only fall after minute 5
    weights = np.full(HIGHS.size, 100.0) + np.arange(HIGHS.size)
    for i in range(10, HIGHS.size):  # VWAP of the minute bars from the pivot minute through the newest
        assert get(rows[i], "avwap_pivot_high") == pytest.approx(two_pass(vw[5 : i + 1], weights[5 : i + 1]), rel=RTOL)


def test_a_minute_without_its_last_second_confirms_the_pivot_only_when_a_later_event_closes_it() -> None:
    rows, _ = pivot_engine(30)  # minute k closes with minute k+1's second
    pivot = col(rows, "pivot_high")
    assert np.isnan(pivot[:11]).all()
    assert (pivot[11:] == 120.0).all()


def test_an_equal_high_later_does_not_prevent_the_pivot_but_an_equal_high_before_does() -> None:
    for before, expected in ((False, 120.0), (True, math.nan)):
        highs = HIGHS.copy()
        highs[8] = 20.0  # a tie after the candidate: the earlier bar keeps the pivot
        if before:
            highs[3] = 20.0  # a tie before it: not strictly above the earlier bars
        t = OPEN0 + 60 * np.arange(highs.size) + 59
        h = highs + 100.0
        engine = FeatureEngine(("SPY",), sessions=SESSIONS)
        _, rows = engine.replay(
            seconds_events(0, t, h - 0.5, h, h - 1, h - 0.5, np.full(h.size, 1.0), h - 0.5), keep=True
        )
        assert np.array_equal(col(rows, "pivot_high")[10:11], [expected], equal_nan=True)


# --- overnight --------------------------------------------------------------------------------------------


def overnight_streams(with_premarket: bool) -> tuple[EventArrays, np.ndarray, np.ndarray, FeatureEngine]:
    rng = np.random.default_rng(3)
    pre_t = OPEN0 - 900 + 7 * np.arange(120)  # pre-market, every 7 s up to the open
    reg_t = OPEN0 + np.arange(300)
    pre = random_walk(rng, pre_t.size, 500.0, True)
    reg = random_walk(rng, reg_t.size, 501.0, True)
    idx_pre = random_walk(rng, pre_t.size, 5000.0, False)
    idx_reg = random_walk(rng, reg_t.size, 5010.0, False)
    t = np.concatenate([pre_t, reg_t]) if with_premarket else reg_t
    spy = [np.concatenate([a, b]) if with_premarket else b for a, b in zip(pre, reg, strict=True)]
    spx = [np.concatenate([a, b]) if with_premarket else b for a, b in zip(idx_pre, idx_reg, strict=True)]
    events = EventArrays.merge(seconds_events(0, t, *spy), seconds_events(1, t, *spx))
    engine = FeatureEngine(("SPY", "I:SPX"), pairs={}, sessions=SESSIONS)
    return events, np.column_stack(spy), t, engine


def test_overnight_high_low_and_their_anchored_vwaps() -> None:
    events, spy, t, engine = overnight_streams(with_premarket=True)
    status, rows = engine.replay(events, keep=True)
    assert (status == 0).all()
    mine = events.symbol == 0
    got = rows[mine]
    _, h, lo, _, v, vw = spy.T
    pre = t < OPEN0
    assert pre.sum() == 120
    for i in range(t.size):
        seen = np.arange(min(i, int(pre.sum()) - 1) + 1)  # the pre-market seconds seen so far
        hi_at, lo_at = int(np.argmax(h[seen])), int(np.argmin(lo[seen]))
        assert get(got[i], "overnight_high") == h[seen].max()
        assert get(got[i], "overnight_low") == lo[seen].min()
        ref_high = two_pass(vw[hi_at : i + 1], v[hi_at : i + 1])  # through now, regular hours included
        ref_low = two_pass(vw[lo_at : i + 1], v[lo_at : i + 1])
        assert np.allclose(get(got[i], "avwap_overnight_high"), ref_high, rtol=RTOL, equal_nan=True), i
        assert np.allclose(get(got[i], "avwap_overnight_low"), ref_low, rtol=RTOL, equal_nan=True), i
    # before the open nothing of the session exists
    for name in ("vwap", "vwap_std", "day_open", "close", "ema_1s", "atr_1s", "rv_session", "session_volume"):
        assert np.isnan(col(got[pre], name)).all(), name
    # an index has no overnight values
    index_rows = rows[events.symbol == 1]
    for name in ("overnight_high", "overnight_low", "avwap_overnight_high", "avwap_overnight_low"):
        assert np.isnan(col(index_rows, name)).all(), name


def test_the_overnight_session_does_not_touch_regular_hours_features() -> None:
    events, spy, t, engine = overnight_streams(with_premarket=True)
    _, rows = engine.replay(events, keep=True)
    alone_events, _, _, alone = overnight_streams(with_premarket=False)
    _, alone_rows = alone.replay(alone_events, keep=True)
    regular = rows[(events.ts >= OPEN0 * NS)]
    assert regular.shape == alone_rows.shape
    overnight = {"overnight_high", "overnight_low", "avwap_overnight_high", "avwap_overnight_low"}
    keep = [i for name, i in INDEX.items() if name not in overnight]
    assert np.array_equal(regular[:, keep], alone_rows[:, keep], equal_nan=True)
    # and the regular-hours values are the references on the regular seconds only
    c, v, vw = spy[t >= OPEN0].T[3:]
    spy_rows = regular[events.symbol[events.ts >= OPEN0 * NS] == 0]
    ema = talib.EMA(c, 60)
    assert np.array_equal(np.isnan(col(spy_rows, "ema_1s")), np.isnan(ema))
    np.testing.assert_allclose(col(spy_rows, "ema_1s")[59:], ema[59:], rtol=RTOL)
    assert get(spy_rows[-1], "vwap") == pytest.approx(two_pass(vw, v), rel=RTOL)


# --- Lee–Ready ------------------------------------------------------------------------------------------

# (kind, price or bid, size or ask, expected cumulative Lee–Ready delta after the event); prices on a
# quarter grid so that every midpoint is exact in binary floating point
TAPE = [
    ("trade", 100.25, 100, 0.0),  # no quote, no previous trade: unknown side
    ("quote", 100.00, 100.50, 0.0),
    ("trade", 100.50, 200, 200.0),  # above the mid: buy
    ("trade", 100.00, 50, 150.0),  # below: sell
    ("trade", 100.25, 30, 180.0),  # at the mid, up-tick from 100.00: buy
    ("trade", 100.25, 20, 200.0),  # at the mid, zero tick: the last direction (up)
    ("quote", 100.50, 101.00, 200.0),
    ("trade", 100.75, 10, 210.0),  # at the mid, up from 100.25
    ("trade", 100.50, 40, 170.0),  # below the mid: sell (and a down-tick)
    ("quote", 100.25, 100.75, 170.0),
    ("trade", 100.50, 5, 165.0),  # at the mid, zero tick after a down-tick: sell
    ("trade", 100.25, 6, 159.0),  # below: sell
    ("quote", 100.00, 101.00, 159.0),
    ("trade", 100.50, 7, 166.0),  # at the mid, up-tick from 100.25: buy
]


def lee_ready_reference(tape: list[tuple[str, float, float, float]]) -> list[float]:
    bid = ask = last = math.nan
    direction, cum, out = 0.0, 0.0, []
    for kind, a, b, _ in tape:
        if kind == "quote":
            bid, ask = a, b
        else:
            mid = 0.5 * (bid + ask)
            if a != mid and mid == mid:
                side = 1.0 if a > mid else -1.0
            elif last == last and a != last:
                side = 1.0 if a > last else -1.0
            else:
                side = direction
            if last == last and a != last:
                direction = 1.0 if a > last else -1.0
            last = a
            cum += side * b
        out.append(cum)
    return out


@pytest.mark.parametrize("with_seconds", [False, True])
def test_lee_ready_delta_from_trades_and_quotes(with_seconds: bool) -> None:
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    rng = np.random.default_rng(5)
    if with_seconds:  # BVC gets ready (61 seconds); Lee–Ready still takes precedence once trades arrive
        t = OPEN0 + np.arange(80)
        status, _ = engine.replay(seconds_events(0, t, *random_walk(rng, t.size, 100.0, True)))
        assert (status == 0).all()
        assert engine.latest_dict("SPY")["delta_method"] == 1.0
    assert [x[3] for x in TAPE] == lee_ready_reference(TAPE)
    ts = (OPEN0 + 100) * NS
    for step, (kind, a, b, expected) in enumerate(TAPE):
        ts += 1000
        code = engine.on_quote("SPY", ts, a, b) if kind == "quote" else engine.on_trade("SPY", ts, a, b)
        assert code == 0
        snap = engine.latest_dict("SPY")
        assert snap["cum_delta_lee_ready"] == pytest.approx(expected, abs=1e-9), step
        assert snap["cum_delta"] == snap["cum_delta_lee_ready"] and snap["delta_method"] == 2.0, step
    assert (engine.latest_dict("SPY")["cum_delta_bvc"] is not None) == with_seconds


def test_trades_before_the_open_do_not_count() -> None:
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    engine.on_quote("SPY", (OPEN0 - 60) * NS, 100.0, 100.02)
    assert engine.on_trade("SPY", (OPEN0 - 30) * NS, 100.02, 500) == 0
    snap = engine.latest_dict("SPY")
    assert snap["cum_delta_lee_ready"] is None and snap["delta_method"] == 0.0


# --- refusals -------------------------------------------------------------------------------------------


@pytest.fixture
def warm_engine() -> FeatureEngine:
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    t = OPEN0 + np.arange(200)
    status, _ = engine.replay(seconds_events(0, t, *random_walk(np.random.default_rng(9), t.size, 500.0, True)))
    assert (status == 0).all() and not engine.refused
    return engine


LAST = OPEN0 + 199


@pytest.mark.parametrize(
    ("event", "code", "reason"),
    [
        (("second", LAST + 1, 500.0, 499.0, 501.0, 500.0, 10.0, 500.0), K.BAD_INPUT, "bad_input"),  # high < low
        (("second", LAST + 1, 500.0, 501.0, 499.0, 500.0, -1.0, 500.0), K.BAD_INPUT, "bad_input"),  # volume < 0
        (("second", LAST + 1, 500.0, 501.0, 499.0, 502.0, 1.0, 500.0), K.BAD_INPUT, "bad_input"),  # close > high
        (("second", LAST, 500.0, 501.0, 499.0, 500.0, 1.0, 500.0), K.STALE, "stale"),  # repeated
        (("second", LAST - 50, 500.0, 501.0, 499.0, 500.0, 1.0, 500.0), K.STALE, "stale"),  # earlier
        (("trade", LAST + 1, 0.0, 10.0), K.BAD_INPUT, "bad_input"),
        (("trade", LAST + 1, 500.0, -5.0), K.BAD_INPUT, "bad_input"),
        (("quote", LAST + 1, 500.02, 500.0), K.BAD_INPUT, "bad_input"),  # crossed
    ],
)
def test_a_refused_event_is_counted_and_changes_nothing(
    warm_engine: FeatureEngine, event: tuple, code: int, reason: str
) -> None:
    engine = warm_engine
    before, state = engine.latest("SPY").copy(), engine.states.copy()
    kind, t, *args = event
    ts = int(t) * NS
    if kind == "second":
        got = engine.on_second("SPY", ts, *args)
    elif kind == "trade":
        got = engine.on_trade("SPY", ts, *args)
    else:
        got = engine.on_quote("SPY", ts, *args)
    assert got == code
    assert engine.refused == {reason: 1}
    assert np.array_equal(engine.latest("SPY"), before, equal_nan=True)
    assert engine.states.tobytes() == state.tobytes()


def test_a_second_beyond_the_sessions_table_is_refused(warm_engine: FeatureEngine) -> None:
    beyond = int(SESSIONS[-1, 1]) + 10 * NS
    assert warm_engine.on_second("SPY", beyond, 500.0, 501.0, 499.0, 500.0, 1.0, 500.0) == K.OUTSIDE_CALENDAR
    assert warm_engine.refused == {"outside_calendar": 1}
    # in a replay, that event and everything after it are counted
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    t = np.array([OPEN0, OPEN0 + 1, SESSIONS_S[-1, 1] + 5, SESSIONS_S[-1, 1] + 6])
    ones = np.ones(4)
    status, _ = engine.replay(seconds_events(0, t, 500 * ones, 501 * ones, 499 * ones, 500 * ones, ones, 500 * ones))
    assert status.tolist() == [0, 0, K.OUTSIDE_CALENDAR, K.OUTSIDE_CALENDAR]
    assert engine.refused == {"outside_calendar": 2}


def test_a_second_beyond_the_sessions_table_changes_nothing(warm_engine: FeatureEngine) -> None:
    before, state = warm_engine.latest("SPY").copy(), warm_engine.states.copy()
    beyond = int(SESSIONS[-1, 1]) + 10 * NS
    assert warm_engine.on_second("SPY", beyond, 500.0, 501.0, 499.0, 500.0, 1.0, 500.0) == K.OUTSIDE_CALENDAR
    assert np.array_equal(warm_engine.latest("SPY"), before, equal_nan=True)
    assert warm_engine.states.tobytes() == state.tobytes()


# --- AM bars ---------------------------------------------------------------------------------------------


def test_am_bars_equal_to_the_built_minute_are_not_mismatches() -> None:
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    rng = np.random.default_rng(11)
    t = OPEN0 + np.arange(180)  # three whole minutes, each closed by its hh:mm:59 second
    o, h, lo, c, v, vw = random_walk(rng, t.size, 500.0, True)
    engine.replay(seconds_events(0, t, o, h, lo, c, v, vw))
    for m, (delta, expected) in enumerate([(0.0, 0.0), (0.01, 1.0), (0.0, 1.0)]):
        s = slice(60 * m, 60 * m + 60)
        bar = (float(o[s][0]), float(h[s].max()), float(lo[s].min()), float(c[s][-1]) + delta, float(v[s].sum()))
        before = engine.latest("SPY").copy()
        assert engine.on_minute("SPY", int(t[60 * m]) * NS, *bar) == 0
        after = engine.latest("SPY")
        assert get(after, "am_mismatches") == expected, m
        others = [i for name, i in INDEX.items() if name != "am_mismatches"]
        assert np.array_equal(after[others], before[others], equal_nan=True)  # AM bars never drive features
    # a volume that differs is a mismatch too
    s = slice(0, 60)
    engine.on_minute("SPY", int(t[0]) * NS, float(o[0]), float(h[s].max()), float(lo[s].min()), float(c[59]), 1.0)
    assert engine.latest_dict("SPY")["am_mismatches"] == 2.0


# --- hypothesis: no look-ahead, and equal to batch references ---------------------------------------------


def random_stream(seed: int, n: int, max_gap: int, symbol: int, volume: bool) -> EventArrays:
    """Seconds from inside the first session, with gaps (and so missing seconds, overnight seconds
    between sessions, the early close); a random walk OHLCV."""
    rng = np.random.default_rng(seed)
    gaps = rng.integers(1, max_gap + 1, n)
    gaps[rng.random(n) < 0.01] += 3 * 3600  # sometimes jump hours ahead (into the night)
    t = OPEN0 + int(rng.integers(0, 600)) + np.cumsum(gaps) - gaps[0]
    t = t[t < SESSIONS_S[-1, 1]]
    return seconds_events(symbol, t, *random_walk(rng, t.size, 5000.0 if symbol else 500.0, volume))


streams = st.tuples(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=1, max_value=600),
    st.sampled_from([1, 3, 20, 90]),
)
SMALL = FeatureParams(ema_periods=(10, 4, 3, 2), slope_lags=(3, 2, 2, 1), bb_period=5, atr_fast=2, rv_window_s=20)


@settings(max_examples=40, deadline=None)
@given(streams, st.data())
def test_appending_later_events_never_changes_an_emitted_snapshot(
    stream: tuple[int, int, int], data: st.DataObject
) -> None:
    seed, n, max_gap = stream
    events = EventArrays.merge(
        random_stream(seed, n, max_gap, 0, True), random_stream(seed + 1, n, max_gap, 1, False)
    )  # SPY and I:SPX, paired: the ratio sampling runs too
    _, full = FeatureEngine(("SPY", "I:SPX"), SMALL, sessions=SESSIONS).replay(events, keep=True)
    k = data.draw(st.integers(min_value=0, max_value=len(events) - 1))
    status, prefix = FeatureEngine(("SPY", "I:SPX"), SMALL, sessions=SESSIONS).replay(
        events.take(slice(0, k + 1)), keep=True
    )
    assert (status == 0).all()
    assert np.array_equal(prefix, full[: k + 1], equal_nan=True)


def batch_references(events: EventArrays, ema_n: int) -> tuple[np.ndarray, np.ndarray]:
    """(session VWAP, 1m EMA) per event from the raw columns."""
    t = events.ts // NS
    session = np.searchsorted(SESSIONS_S[:, 0], t, side="right") - 1
    regular = (session >= 0) & (t < SESSIONS_S[np.maximum(session, 0), 1])
    vwap = np.full(t.size, np.nan)
    for i in np.flatnonzero(regular):
        same = regular[: i + 1] & (session[: i + 1] == session[i])
        vwap[i] = two_pass(events.f[: i + 1][same], events.e[: i + 1][same])
    # minute bars of the regular seconds; a minute is closed by its hh:mm:59 second or any later event
    minute = np.where(regular, t - t % 60, -1)
    last, closes = [], []
    for m in np.unique(minute[regular]):
        rows = np.flatnonzero(minute == m)
        last.append(rows[-1] if t[rows[-1]] % 60 == 59 else rows[-1] + 1)
        closes.append(events.d[rows[-1]])
    ema = talib.EMA(np.array(closes, dtype=float), ema_n) if len(closes) >= 1 else np.zeros(0)
    ema_col = np.full(t.size, np.nan)
    for value, at in zip(ema, last, strict=True):
        if at < t.size:
            ema_col[at:] = value
    return vwap, ema_col


@settings(max_examples=40, deadline=None)
@given(streams)
def test_session_vwap_and_the_1m_ema_equal_batch_references(stream: tuple[int, int, int]) -> None:
    events = random_stream(*stream, 0, True)
    status, rows = FeatureEngine(("SPY",), SMALL, sessions=SESSIONS).replay(events, keep=True)
    assert (status == 0).all()
    vwap, ema = batch_references(events, SMALL.ema_periods[1])
    for name, ref in (("vwap", vwap), ("ema_1m", ema)):
        got = col(rows, name)
        assert np.array_equal(np.isnan(got), np.isnan(ref)), name
        np.testing.assert_allclose(got[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=RTOL, err_msg=name)
