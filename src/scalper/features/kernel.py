"""The feature engine's compiled step: one event in, one symbol's state updated, O(1).

Events (``kind``): :data:`SECOND` (one-second aggregate: ts = window start, OHLC, volume — ``nan``
for an index — and the second's own VWAP or ``nan``), :data:`TRADE` (ts, price, size),
:data:`QUOTE` (ts, bid, ask) and :data:`MINUTE` (the feed's ``AM`` bar: window start, OHLC,
volume). :func:`step_event` is the only entry point; the live engine calls it once per event and
the replay loop (:func:`run_events`) calls it over arrays, so both run the same machine code.

Time and sessions. ``sessions`` is an ``(n, 2)`` int64 table of regular sessions (open, close) in
UTC nanoseconds from the exchange calendar. A symbol's day runs from the previous session's close
to its own close: seconds before the open are *overnight* (they move the overnight high/low and
their anchored VWAPs only); regular-hours seconds drive everything else. A second stamped at or
before the last second processed is refused (status :data:`STALE`): nothing is ever recomputed.

Bars. Minute bars are built from the seconds and close at the minute's last second (hh:mm:59) or,
when that second is missing, at the first later event; the last minute of a session is closed by
the session's end. Five- and fifteen-minute bars are built from the minute bars the same way,
aligned to the clock (09:30 is on both grids). Second-level features update on every second,
minute-level ones on minute close. The feed's ``AM`` bars are compared with the built bars of the
same minute (``am_mismatches`` counts differences); the built bars drive the features, so a
replay from stored seconds equals the live run.

Index ← proxy. For an index whose VWAP mode is ``proxy``, each minute that both the index and its
proxy have closed adds one index/proxy close ratio to a ring; the ratio is the ring's median, and
the index's VWAP, σ and opening ranges are the proxy's × that ratio. Sampling only minutes both
have closed makes the result independent of which of the two symbols' events arrived first.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.features import layout as L
from scalper.features import snapshot as S
from scalper.features._jit import kernel
from scalper.features.adx import adx_add, adx_reset, adx_values
from scalper.features.atr import atr_add, atr_reset
from scalper.features.delta import METHOD_BVC, METHOD_LEE_READY, METHOD_NONE, bvc_delta, lee_ready_side
from scalper.features.efficiency import er_add, er_reset
from scalper.features.ema import ema_add, ema_reset, slope_add, slope_reset
from scalper.features.rolling import stats_add, stats_mean, stats_std, sum_add, sum_value, window_reset
from scalper.features.vwap import vwap_add, vwap_copy, vwap_mean, vwap_reset, vwap_std

SECOND = 0
TRADE = 1
QUOTE = 2
MINUTE = 3

OK = 0
OUTSIDE_CALENDAR = 1  # later than the last session in the table: extend it and retry
STALE = 2  # at or before the last second processed
BAD_INPUT = 3  # not 0 < low <= open, close <= high < inf, or a negative volume / price

NS = 1_000_000_000
_NAN = math.nan
_INF = math.inf


# --- state initialisation ----------------------------------------------------------------------


@kernel
def _bar_reset(st: NDArray[np.float64], b: int) -> None:
    st[b + L.BAR_START] = -1.0
    st[b + L.BAR_VOLUME] = 0.0
    st[b + L.BAR_PW] = 0.0
    st[b + L.BAR_W] = 0.0


@kernel
def _tf_reset(st: NDArray[np.float64], base: int) -> None:
    _bar_reset(st, base + L.TF_BAR)
    slope_reset(st, base + L.TF_SLOPE)
    atr_reset(st, base + L.TF_ATR)


@kernel
def init_state(st: NDArray[np.float64]) -> None:
    """Put a fresh symbol state in place: nothing seen, everything not ready."""
    st[:] = 0.0
    st[L.CURSOR] = 0.0
    st[L.LAST_S] = -1.0
    for slot in (L.DAY_OPEN, L.DAY_HIGH, L.DAY_LOW, L.DAY_CLOSE, L.PRIOR_HIGH, L.PRIOR_LOW, L.PRIOR_CLOSE):
        st[slot] = _NAN
    st[L.PRIOR_SESSION] = -2.0
    st[L.ON_HIGH] = _NAN
    st[L.ON_LOW] = _NAN
    for i in range(2 * len(L.OR_MINUTES)):
        st[L.OR_LEVELS + i] = _NAN
        st[L.MAPPED_OR + i] = _NAN
    st[L.LAST_CLOSE] = _NAN
    st[L.LAST_PRICE] = _NAN
    for base in (L.TF_1S, L.TF_1M, L.TF_5M, L.TF_15M):
        _tf_reset(st, base)
    adx_reset(st, L.ADX_1M)
    er_reset(st, L.ER_1M)
    window_reset(st, L.BB_1M)
    ema_reset(st, L.KC_EMA)
    atr_reset(st, L.ATR_SLOW)
    atr_reset(st, L.ATR_FAST)
    for i in range(4):
        st[L.LAST_MINUTE + i] = _NAN
    st[L.LAST_MINUTE] = -1.0
    window_reset(st, L.RV_WINDOW)
    ema_reset(st, L.BVC_VAR)
    st[L.QUOTE_BID] = _NAN
    st[L.QUOTE_ASK] = _NAN
    st[L.TRADE_LAST_PRICE] = _NAN
    for slot in (L.PIVOT_HIGH, L.PIVOT_HIGH + 1, L.PIVOT_LOW, L.PIVOT_LOW + 1):
        st[slot] = _NAN
    for i in range(L.SESSION_MINUTES_CAP):
        st[L.RELVOL_TODAY + i] = _NAN
    for i in range(L.RECENT_MINUTES):
        st[L.RECENT + i * L.RECENT_FIELDS] = -1.0
    st[L.RATIO] = _NAN
    st[L.PAIR_MINUTE] = -1.0
    st[L.MAPPED_VWAP] = _NAN
    st[L.MAPPED_VWAP + 1] = _NAN


# --- bars and timeframes -----------------------------------------------------------------------


@kernel
def _bar_add(
    st: NDArray[np.float64],
    b: int,
    start: float,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    pw: float,
    w: float,
) -> None:
    if st[b + L.BAR_START] < 0.0:
        st[b + L.BAR_START] = start
        st[b + L.BAR_OPEN] = o
        st[b + L.BAR_HIGH] = h
        st[b + L.BAR_LOW] = lo
    else:
        if h > st[b + L.BAR_HIGH]:
            st[b + L.BAR_HIGH] = h
        if lo < st[b + L.BAR_LOW]:
            st[b + L.BAR_LOW] = lo
    st[b + L.BAR_CLOSE] = c
    st[b + L.BAR_VOLUME] += v
    st[b + L.BAR_PW] += pw
    st[b + L.BAR_W] += w


@kernel
def _tf_update(
    st: NDArray[np.float64], pr: NDArray[np.float64], base: int, tf: int, h: float, lo: float, c: float
) -> None:
    slope_add(st, base + L.TF_SLOPE, c, int(pr[L.P_EMA_N + tf]), pr[L.P_EMA_ALPHA + tf], int(pr[L.P_SLOPE_K + tf]))
    atr_add(st, base + L.TF_ATR, h, lo, c, int(pr[L.P_ATR_N]))


@kernel
def _close_higher(st: NDArray[np.float64], pr: NDArray[np.float64], base: int, tf: int) -> None:
    b = base + L.TF_BAR
    if st[b + L.BAR_START] >= 0.0:
        _tf_update(st, pr, base, tf, st[b + L.BAR_HIGH], st[b + L.BAR_LOW], st[b + L.BAR_CLOSE])
        _bar_reset(st, b)


@kernel
def _feed_higher(
    st: NDArray[np.float64],
    pr: NDArray[np.float64],
    base: int,
    tf: int,
    width: float,
    m: float,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    pw: float,
    w: float,
) -> None:
    """Add the minute bar starting at ``m`` to the ``width``-second bar; close it on its last minute."""
    b = base + L.TF_BAR
    start = m - m % width
    if st[b + L.BAR_START] >= 0.0 and st[b + L.BAR_START] != start:
        _close_higher(st, pr, base, tf)
    _bar_add(st, b, start, o, h, lo, c, v, pw, w)
    if (m + 60.0) % width == 0.0:
        _close_higher(st, pr, base, tf)


# --- swing pivots --------------------------------------------------------------------------------


@kernel
def _pivot_slot(st: NDArray[np.float64], back: int, size: int) -> int:
    """Offset of the pivot-ring entry ``back`` minutes before the newest (0 = newest)."""
    pos = int(st[L.PIVOT_POS])  # next write position
    i = (pos - 1 - back) % size
    return L.PIVOT_RING + i * L.PIVOT_FIELDS


@kernel
def _pivots(
    st: NDArray[np.float64], pr: NDArray[np.float64], start: float, h: float, lo: float, price: float, w: float
) -> None:
    """Push a closed minute; confirm a swing pivot N minutes back; keep the pivot-anchored VWAPs."""
    n = int(pr[L.P_PIVOT_N])
    size = 2 * n + 1
    if st[L.PIVOT_HIGH] == st[L.PIVOT_HIGH]:  # anchored only once a pivot is confirmed
        vwap_add(st, L.VWAP_PIVOT_HIGH, price, w)
    if st[L.PIVOT_LOW] == st[L.PIVOT_LOW]:
        vwap_add(st, L.VWAP_PIVOT_LOW, price, w)
    pos = int(st[L.PIVOT_POS])
    slot = L.PIVOT_RING + pos * L.PIVOT_FIELDS
    st[slot] = start
    st[slot + 1] = h
    st[slot + 2] = lo
    st[slot + 3] = price
    st[slot + 4] = w
    st[L.PIVOT_POS] = pos + 1 if pos + 1 < size else 0
    st[L.PIVOT_COUNT] += 1.0
    if st[L.PIVOT_COUNT] < size:
        return
    mid = _pivot_slot(st, n, size)
    is_high = True
    is_low = True
    for back in range(size):
        if back == n:
            continue
        other = _pivot_slot(st, back, size)
        if back > n:  # older than the candidate: strictly beyond it
            is_high = is_high and st[mid + 1] > st[other + 1]
            is_low = is_low and st[mid + 2] < st[other + 2]
        else:  # newer: not beyond it (ties go to the earlier bar)
            is_high = is_high and st[mid + 1] >= st[other + 1]
            is_low = is_low and st[mid + 2] <= st[other + 2]
    for acc, level, flag, field in (
        (L.VWAP_PIVOT_HIGH, L.PIVOT_HIGH, is_high, 1),
        (L.VWAP_PIVOT_LOW, L.PIVOT_LOW, is_low, 2),
    ):
        if flag:
            st[level] = st[mid + field]
            st[level + 1] = st[mid]
            vwap_reset(st, acc)
            for back in range(n, -1, -1):  # the pivot minute through the newest, in time order
                entry = _pivot_slot(st, back, size)
                vwap_add(st, acc, st[entry + 3], st[entry + 4])


# --- minute close ----------------------------------------------------------------------------------


@kernel
def _close_minute(st: NDArray[np.float64], pr: NDArray[np.float64]) -> None:
    b = L.TF_1M + L.TF_BAR
    start = st[b + L.BAR_START]
    if start < 0.0:
        return
    o, h, lo, c = st[b + L.BAR_OPEN], st[b + L.BAR_HIGH], st[b + L.BAR_LOW], st[b + L.BAR_CLOSE]
    v, pw, w = st[b + L.BAR_VOLUME], st[b + L.BAR_PW], st[b + L.BAR_W]
    _bar_reset(st, b)
    _tf_update(st, pr, L.TF_1M, 1, h, lo, c)
    adx_add(st, L.ADX_1M, h, lo, c, int(pr[L.P_ADX_N]))
    er_add(st, L.ER_1M, c, int(pr[L.P_ER_N]))
    bb_n = int(pr[L.P_BB_N])
    stats_add(st, L.BB_1M, c, bb_n)
    ema_add(st, L.KC_EMA, c, bb_n, 2.0 / (bb_n + 1))
    atr_add(st, L.ATR_SLOW, h, lo, c, bb_n)
    atr_add(st, L.ATR_FAST, h, lo, c, int(pr[L.P_ATR_FAST]))
    price = pw / w if w > 0.0 else (h + lo + c) / 3.0
    _pivots(st, pr, start, h, lo, price, w)
    st[L.LAST_MINUTE] = start
    st[L.LAST_MINUTE + 1] = c
    st[L.LAST_MINUTE + 2] = vwap_mean(st, L.VWAP_SESSION)
    st[L.LAST_MINUTE + 3] = vwap_std(st, L.VWAP_SESSION)
    st[L.MINUTES_CLOSED] += 1.0
    pos = int(st[L.RECENT_POS])
    r = L.RECENT + pos * L.RECENT_FIELDS
    st[r], st[r + 1], st[r + 2], st[r + 3], st[r + 4], st[r + 5] = start, o, h, lo, c, v
    st[L.RECENT_POS] = pos + 1 if pos + 1 < L.RECENT_MINUTES else 0
    _feed_higher(st, pr, L.TF_5M, 2, 300.0, start, o, h, lo, c, v, pw, w)
    _feed_higher(st, pr, L.TF_15M, 3, 900.0, start, o, h, lo, c, v, pw, w)


# --- sessions ---------------------------------------------------------------------------------------


@kernel
def _end_day(st: NDArray[np.float64], pr: NDArray[np.float64]) -> None:
    """The session is over: close open bars, roll prior-day values and anchors, file the volume curve."""
    _close_minute(st, pr)
    _close_higher(st, pr, L.TF_5M, 2)
    _close_higher(st, pr, L.TF_15M, 3)
    st[L.PRIOR_SESSION] = st[L.CURSOR]
    st[L.PRIOR_HIGH] = st[L.DAY_HIGH]
    st[L.PRIOR_LOW] = st[L.DAY_LOW]
    st[L.PRIOR_CLOSE] = st[L.DAY_CLOSE]
    vwap_copy(st, L.VWAP_RUN_HIGH, L.VWAP_PRIOR_HIGH)
    vwap_copy(st, L.VWAP_RUN_LOW, L.VWAP_PRIOR_LOW)
    if pr[L.P_HAS_VOLUME] > 0.0:
        _file_volume_curve(st, pr)
    st[L.DAY_ACTIVE] = 0.0


@kernel
def _file_volume_curve(st: NDArray[np.float64], pr: NDArray[np.float64]) -> None:
    minutes = int((st[L.CLOSE_S] - st[L.OPEN_S]) // 60.0)
    n = int(pr[L.P_RELVOL_N])
    last = 0.0
    for m in range(minutes):  # carry the cumulative volume through minutes without trades
        value = st[L.RELVOL_TODAY + m]
        if value != value:
            st[L.RELVOL_TODAY + m] = last
        else:
            last = value
    pos = int(st[L.RELVOL_POS])
    row = L.RELVOL_HIST + pos * L.SESSION_MINUTES_CAP
    if st[L.RELVOL_COUNT] >= n:  # the oldest session leaves the window
        for m in range(L.SESSION_MINUTES_CAP):
            old = st[row + m]
            if old == old:
                st[L.RELVOL_SUM + m] -= old
                st[L.RELVOL_N + m] -= 1.0
    else:
        st[L.RELVOL_COUNT] += 1.0
    for m in range(L.SESSION_MINUTES_CAP):
        value = st[L.RELVOL_TODAY + m] if m < minutes else _NAN
        st[row + m] = value
        if value == value:
            st[L.RELVOL_SUM + m] += value
            st[L.RELVOL_N + m] += 1.0
    st[L.RELVOL_POS] = pos + 1 if pos + 1 < n else 0


@kernel
def _start_day(st: NDArray[np.float64], sessions: NDArray[np.int64], cursor: int) -> None:
    """The first regular-hours event of a session: reset everything that is per session."""
    st[L.DAY_ACTIVE] = 1.0
    st[L.OPEN_S] = sessions[cursor, 0] // NS
    st[L.CLOSE_S] = sessions[cursor, 1] // NS
    st[L.DAY_OPEN] = _NAN
    st[L.DAY_HIGH] = -_INF
    st[L.DAY_LOW] = _INF
    st[L.DAY_CLOSE] = _NAN
    for i in range(len(L.OR_MINUTES)):
        st[L.OR_LEVELS + 2 * i] = -_INF
        st[L.OR_LEVELS + 2 * i + 1] = _INF
    st[L.LAST_CLOSE] = _NAN
    st[L.SESSION_VOLUME] = 0.0
    vwap_reset(st, L.VWAP_SESSION)
    vwap_reset(st, L.VWAP_RUN_HIGH)
    vwap_reset(st, L.VWAP_RUN_LOW)
    vwap_reset(st, L.VWAP_PIVOT_HIGH)
    vwap_reset(st, L.VWAP_PIVOT_LOW)
    st[L.PIVOT_COUNT] = 0.0
    st[L.PIVOT_POS] = 0.0
    for slot in (L.PIVOT_HIGH, L.PIVOT_HIGH + 1, L.PIVOT_LOW, L.PIVOT_LOW + 1):
        st[slot] = _NAN
    st[L.RV_SESSION] = 0.0
    window_reset(st, L.RV_WINDOW)
    st[L.MAPPED_VWAP] = _NAN
    st[L.MAPPED_VWAP + 1] = _NAN
    for i in range(2 * len(L.OR_MINUTES)):
        st[L.MAPPED_OR + i] = _NAN
    st[L.CUM_BVC] = 0.0
    st[L.CUM_LEE_READY] = 0.0
    st[L.LEE_READY_TRADES] = 0.0
    st[L.TRADE_LAST_PRICE] = _NAN
    st[L.TRADE_LAST_SIDE] = 0.0
    for i in range(L.SESSION_MINUTES_CAP):
        st[L.RELVOL_TODAY + i] = _NAN


@kernel
def _locate(st: NDArray[np.float64], pr: NDArray[np.float64], sessions: NDArray[np.int64], ts: int) -> int:
    """Advance the session cursor to ``ts``: −1 outside the table, 0 overnight, 1 regular hours."""
    n = sessions.shape[0]
    if n == 0 or ts >= sessions[n - 1, 1]:  # refused before anything changes
        return -1
    cursor = int(st[L.CURSOR])
    while ts >= sessions[cursor, 1]:
        if st[L.DAY_ACTIVE] > 0.0:
            _end_day(st, pr)
        cursor += 1
        st[L.CURSOR] = cursor
        st[L.ON_HIGH] = _NAN
        st[L.ON_LOW] = _NAN
        vwap_reset(st, L.VWAP_ON_HIGH)
        vwap_reset(st, L.VWAP_ON_LOW)
    if ts < sessions[cursor, 0]:
        return 0
    if st[L.DAY_ACTIVE] == 0.0:
        _start_day(st, sessions, cursor)
    return 1


# --- events -------------------------------------------------------------------------------------


@kernel
def _extreme_anchor(st: NDArray[np.float64], acc: int, new_extreme: bool, price: float, w: float) -> None:
    if new_extreme:
        vwap_reset(st, acc)
    vwap_add(st, acc, price, w)


@kernel
def _overnight(st: NDArray[np.float64], h: float, lo: float, price: float, w: float) -> None:
    new_high = not st[L.ON_HIGH] >= h
    new_low = not st[L.ON_LOW] <= lo
    if new_high:
        st[L.ON_HIGH] = h
    if new_low:
        st[L.ON_LOW] = lo
    _extreme_anchor(st, L.VWAP_ON_HIGH, new_high, price, w)
    _extreme_anchor(st, L.VWAP_ON_LOW, new_low, price, w)


@kernel
def _second(
    st: NDArray[np.float64],
    pr: NDArray[np.float64],
    sessions: NDArray[np.int64],
    ts: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    vw: float,
) -> int:
    has_volume = pr[L.P_HAS_VOLUME] > 0.0
    if not (0.0 < lo <= o <= h < _INF and lo <= c <= h):
        return BAD_INPUT
    if has_volume and not (v >= 0.0 and v < _INF):
        return BAD_INPUT
    t = float(ts // NS)
    if t <= st[L.LAST_S]:
        return STALE
    where = _locate(st, pr, sessions, ts)
    if where < 0:
        return OUTSIDE_CALENDAR
    st[L.LAST_S] = t
    if has_volume:
        w = v
        price = vw if 0.0 < vw < _INF else (h + lo + c) / 3.0  # odd lots can put a VWAP outside [low, high]
    else:
        w = 1.0
        price = (h + lo + c) / 3.0
        v = 0.0
    st[L.LAST_PRICE] = price
    if where == 0:
        if has_volume:
            _overnight(st, h, lo, price, w)
        return OK
    # a later second closes a minute whose last second never came
    minute = t - t % 60.0
    mb = L.TF_1M + L.TF_BAR
    if st[mb + L.BAR_START] >= 0.0 and st[mb + L.BAR_START] != minute:
        _close_minute(st, pr)
    # day levels and the anchors that follow them
    if st[L.DAY_OPEN] != st[L.DAY_OPEN]:
        st[L.DAY_OPEN] = o
    new_high = h > st[L.DAY_HIGH]
    new_low = lo < st[L.DAY_LOW]
    if new_high:
        st[L.DAY_HIGH] = h
    if new_low:
        st[L.DAY_LOW] = lo
    st[L.DAY_CLOSE] = c
    vwap_add(st, L.VWAP_SESSION, price, w)
    _extreme_anchor(st, L.VWAP_RUN_HIGH, new_high, price, w)
    _extreme_anchor(st, L.VWAP_RUN_LOW, new_low, price, w)
    vwap_add(st, L.VWAP_PRIOR_HIGH, price, w)
    vwap_add(st, L.VWAP_PRIOR_LOW, price, w)
    if st[L.ON_HIGH] == st[L.ON_HIGH]:  # the overnight anchors exist only after an overnight session
        vwap_add(st, L.VWAP_ON_HIGH, price, w)
        vwap_add(st, L.VWAP_ON_LOW, price, w)
    elapsed = t - st[L.OPEN_S]
    for i in range(len(L.OR_MINUTES)):
        if elapsed < L.OR_MINUTES[i] * 60.0:
            if h > st[L.OR_LEVELS + 2 * i]:
                st[L.OR_LEVELS + 2 * i] = h
            if lo < st[L.OR_LEVELS + 2 * i + 1]:
                st[L.OR_LEVELS + 2 * i + 1] = lo
    # one-second timeframe, realised volatility, bulk volume classification
    _tf_update(st, pr, L.TF_1S, 0, h, lo, c)
    prev = st[L.LAST_CLOSE]
    st[L.LAST_CLOSE] = c
    if prev == prev:
        r = math.log(c / prev)
        sum_add(st, L.RV_WINDOW, r * r, int(pr[L.P_RV_N]))
        st[L.RV_SESSION] += r * r
        if has_volume:
            change = c - prev
            bvc_n = int(pr[L.P_BVC_N])
            if st[L.BVC_VAR] >= bvc_n:
                st[L.CUM_BVC] += bvc_delta(v, change, math.sqrt(st[L.BVC_VAR + 2]))
            ema_add(st, L.BVC_VAR, change * change, bvc_n, 2.0 / (bvc_n + 1))
    if has_volume:
        st[L.SESSION_VOLUME] += v
        m = int(elapsed // 60.0)
        if m < L.SESSION_MINUTES_CAP:
            st[L.RELVOL_TODAY + m] = st[L.SESSION_VOLUME]
    # the minute bar, closed on its last second
    _bar_add(st, mb, minute, o, h, lo, c, v, price * w, w)
    if (t + 1.0) % 60.0 == 0.0:
        _close_minute(st, pr)
    return OK


@kernel
def _trade(
    st: NDArray[np.float64], pr: NDArray[np.float64], sessions: NDArray[np.int64], ts: int, price: float, size: float
) -> int:
    if not (0.0 < price < _INF and 0.0 <= size < _INF):
        return BAD_INPUT
    where = _locate(st, pr, sessions, ts)
    if where < 0:
        return OUTSIDE_CALENDAR
    if where == 0:
        return OK
    side = lee_ready_side(price, st[L.QUOTE_BID], st[L.QUOTE_ASK], st[L.TRADE_LAST_PRICE], st[L.TRADE_LAST_SIDE])
    if price != st[L.TRADE_LAST_PRICE] and st[L.TRADE_LAST_PRICE] == st[L.TRADE_LAST_PRICE]:
        st[L.TRADE_LAST_SIDE] = 1.0 if price > st[L.TRADE_LAST_PRICE] else -1.0
    st[L.TRADE_LAST_PRICE] = price
    st[L.CUM_LEE_READY] += side * size
    st[L.LEE_READY_TRADES] += 1.0
    return OK


@kernel
def _quote(st: NDArray[np.float64], bid: float, ask: float) -> int:
    if not (0.0 < bid <= ask < _INF):
        return BAD_INPUT
    st[L.QUOTE_BID] = bid
    st[L.QUOTE_ASK] = ask
    return OK


@kernel
def _minute_bar(st: NDArray[np.float64], ts: int, o: float, h: float, lo: float, c: float, v: float) -> int:
    """Compare the feed's AM bar with the built minute of the same start (when it is still recent)."""
    start = float(ts // NS)
    for i in range(L.RECENT_MINUTES):
        r = L.RECENT + i * L.RECENT_FIELDS
        if st[r] == start:
            st[L.AM_CHECKED] += 1.0
            same = st[r + 1] == o and st[r + 2] == h and st[r + 3] == lo and st[r + 4] == c
            if v == v and abs(st[r + 5] - v) > 1e-6 * max(1.0, v):
                same = False
            if not same:
                st[L.AM_MISMATCHES] += 1.0
            return OK
    return OK


@kernel
def _median_ratio(st: NDArray[np.float64], count: int) -> float:
    buf = np.empty(count)
    for i in range(count):
        buf[i] = st[L.RATIO_RING + i]
    buf.sort()
    half = count // 2
    return buf[half] if count % 2 == 1 else 0.5 * (buf[half - 1] + buf[half])


@kernel
def pair_update(idx: NDArray[np.float64], proxy: NDArray[np.float64], pr: NDArray[np.float64]) -> None:
    """Sample the index/proxy ratio once per minute both have closed; map the proxy's VWAP and ranges."""
    minute = idx[L.LAST_MINUTE]
    if minute < 0.0 or minute != proxy[L.LAST_MINUTE] or minute <= idx[L.PAIR_MINUTE]:
        return
    idx[L.PAIR_MINUTE] = minute
    n = int(pr[L.P_RATIO_N])
    pos = int(idx[L.RATIO_POS])
    idx[L.RATIO_RING + pos] = idx[L.LAST_MINUTE + 1] / proxy[L.LAST_MINUTE + 1]
    idx[L.RATIO_POS] = pos + 1 if pos + 1 < n else 0
    if idx[L.RATIO_COUNT] < n:
        idx[L.RATIO_COUNT] += 1.0
    ratio = _median_ratio(idx, int(idx[L.RATIO_COUNT]))
    idx[L.RATIO] = ratio
    idx[L.MAPPED_VWAP] = proxy[L.LAST_MINUTE + 2] * ratio
    idx[L.MAPPED_VWAP + 1] = proxy[L.LAST_MINUTE + 3] * ratio
    elapsed = minute + 60.0 - proxy[L.OPEN_S]
    for i in range(len(L.OR_MINUTES)):
        done = elapsed >= L.OR_MINUTES[i] * 60.0 and proxy[L.OPEN_S] == idx[L.OPEN_S]
        idx[L.MAPPED_OR + 2 * i] = proxy[L.OR_LEVELS + 2 * i] * ratio if done else _NAN
        idx[L.MAPPED_OR + 2 * i + 1] = proxy[L.OR_LEVELS + 2 * i + 1] * ratio if done else _NAN


# --- the snapshot ----------------------------------------------------------------------------------


@kernel
def _current(st: NDArray[np.float64], slot: int) -> float:
    """A per-session value, ``nan`` outside the session it belongs to or before it is set."""
    value = st[slot]
    return value if st[L.DAY_ACTIVE] > 0.0 and -_INF < value < _INF else _NAN


@kernel
def _rel_volume(st: NDArray[np.float64], pr: NDArray[np.float64]) -> float:
    if st[L.DAY_ACTIVE] == 0.0 or pr[L.P_HAS_VOLUME] == 0.0:
        return _NAN
    elapsed = st[L.LAST_S] - st[L.OPEN_S]
    if elapsed < 0.0:  # the session started with a trade: no second of it yet
        return _NAN
    m = int(elapsed // 60.0)
    if m >= L.SESSION_MINUTES_CAP or st[L.RELVOL_N + m] < pr[L.P_RELVOL_MIN]:
        return _NAN
    end = st[L.RELVOL_SUM + m] / st[L.RELVOL_N + m]
    before = 0.0
    if m > 0:
        if st[L.RELVOL_N + m - 1] < pr[L.P_RELVOL_MIN]:
            return _NAN
        before = st[L.RELVOL_SUM + m - 1] / st[L.RELVOL_N + m - 1]
    expected = before + (end - before) * ((elapsed - 60.0 * m + 1.0) / 60.0)
    return st[L.SESSION_VOLUME] / expected if expected > 0.0 else _NAN


@kernel
def snapshot(st: NDArray[np.float64], pr: NDArray[np.float64], out: NDArray[np.float64]) -> None:
    """Write the symbol's current feature values into ``out`` (:data:`scalper.features.snapshot.FIELDS`)."""
    active = st[L.DAY_ACTIVE] > 0.0
    mode = pr[L.P_VWAP_MODE]
    out[S.F_CLOSE] = st[L.DAY_CLOSE] if active else _NAN
    if mode == L.VWAP_PROXY:
        mu, sigma = (st[L.MAPPED_VWAP], st[L.MAPPED_VWAP + 1]) if active else (_NAN, _NAN)
    else:
        mu, sigma = vwap_mean(st, L.VWAP_SESSION), vwap_std(st, L.VWAP_SESSION)
        if not active:
            mu, sigma = _NAN, _NAN
    out[S.F_VWAP] = mu
    out[S.F_VWAP_STD] = sigma
    for k in range(3):
        out[S.F_VWAP_BANDS + 2 * k] = mu + (k + 1) * sigma
        out[S.F_VWAP_BANDS + 2 * k + 1] = mu - (k + 1) * sigma
    out[S.F_VWAP_MODE] = mode
    prior_ok = active and st[L.PRIOR_SESSION] == st[L.CURSOR] - 1.0
    out[S.F_AVWAP_PRIOR_HIGH] = vwap_mean(st, L.VWAP_PRIOR_HIGH) if prior_ok else _NAN
    out[S.F_AVWAP_PRIOR_LOW] = vwap_mean(st, L.VWAP_PRIOR_LOW) if prior_ok else _NAN
    out[S.F_AVWAP_ON_HIGH] = vwap_mean(st, L.VWAP_ON_HIGH)
    out[S.F_AVWAP_ON_LOW] = vwap_mean(st, L.VWAP_ON_LOW)
    out[S.F_AVWAP_PIVOT_HIGH] = vwap_mean(st, L.VWAP_PIVOT_HIGH) if active else _NAN
    out[S.F_AVWAP_PIVOT_LOW] = vwap_mean(st, L.VWAP_PIVOT_LOW) if active else _NAN
    out[S.F_DAY_OPEN] = _current(st, L.DAY_OPEN)
    out[S.F_DAY_HIGH] = _current(st, L.DAY_HIGH)
    out[S.F_DAY_LOW] = _current(st, L.DAY_LOW)
    out[S.F_PRIOR_HIGH] = st[L.PRIOR_HIGH] if prior_ok else _NAN
    out[S.F_PRIOR_LOW] = st[L.PRIOR_LOW] if prior_ok else _NAN
    out[S.F_PRIOR_CLOSE] = st[L.PRIOR_CLOSE] if prior_ok else _NAN
    out[S.F_ON_HIGH] = st[L.ON_HIGH]
    out[S.F_ON_LOW] = st[L.ON_LOW]
    out[S.F_PIVOT_HIGH] = _current(st, L.PIVOT_HIGH)
    out[S.F_PIVOT_LOW] = _current(st, L.PIVOT_LOW)
    elapsed = st[L.LAST_S] - st[L.OPEN_S] + 1.0  # seconds of the session seen, the last one included
    for i in range(len(L.OR_MINUTES)):
        done = active and elapsed >= L.OR_MINUTES[i] * 60.0
        if mode == L.VWAP_PROXY:
            out[S.F_OR + 2 * i] = st[L.MAPPED_OR + 2 * i] if done else _NAN
            out[S.F_OR + 2 * i + 1] = st[L.MAPPED_OR + 2 * i + 1] if done else _NAN
        else:
            out[S.F_OR + 2 * i] = _current(st, L.OR_LEVELS + 2 * i) if done else _NAN
            out[S.F_OR + 2 * i + 1] = _current(st, L.OR_LEVELS + 2 * i + 1) if done else _NAN
    bvc_ready = active and pr[L.P_HAS_VOLUME] > 0.0 and st[L.BVC_VAR] >= pr[L.P_BVC_N]
    lr_ready = active and st[L.LEE_READY_TRADES] > 0.0
    out[S.F_CUM_BVC] = st[L.CUM_BVC] if bvc_ready else _NAN
    out[S.F_CUM_LEE_READY] = st[L.CUM_LEE_READY] if lr_ready else _NAN
    if lr_ready:
        out[S.F_CUM_DELTA], out[S.F_DELTA_METHOD] = st[L.CUM_LEE_READY], METHOD_LEE_READY
    elif bvc_ready:
        out[S.F_CUM_DELTA], out[S.F_DELTA_METHOD] = st[L.CUM_BVC], METHOD_BVC
    else:
        out[S.F_CUM_DELTA], out[S.F_DELTA_METHOD] = _NAN, METHOD_NONE
    sign_sum = 0.0
    all_ready = True
    for tf, base in enumerate((L.TF_1S, L.TF_1M, L.TF_5M, L.TF_15M)):
        out[S.F_EMA + tf] = st[base + L.TF_SLOPE + 2]
        atr = st[base + L.TF_ATR + 3]
        out[S.F_ATR + tf] = atr
        slope = st[base + L.TF_SLOPE + 5] / atr if atr > 0.0 else _NAN
        out[S.F_SLOPE + tf] = slope
        if slope == slope:
            sign_sum += 1.0 if slope > 0.0 else (-1.0 if slope < 0.0 else 0.0)
        else:
            all_ready = False
    out[S.F_ALIGNED] = (1.0 if sign_sum == 4.0 else (-1.0 if sign_sum == -4.0 else 0.0)) if all_ready else _NAN
    plus_di, minus_di, adx = adx_values(st, L.ADX_1M)
    out[S.F_ADX], out[S.F_PLUS_DI], out[S.F_MINUS_DI] = adx, plus_di, minus_di
    out[S.F_ER] = st[L.ER_1M + 4]
    rv = sum_value(st, L.RV_WINDOW, int(pr[L.P_RV_N]))
    out[S.F_RV_WINDOW] = math.sqrt(rv) if rv == rv and active else _NAN
    out[S.F_RV_SESSION] = math.sqrt(st[L.RV_SESSION]) if active else _NAN
    bb_n = int(pr[L.P_BB_N])
    mid, sd = stats_mean(st, L.BB_1M, bb_n), stats_std(st, L.BB_1M, bb_n)
    out[S.F_BB_MID] = mid
    out[S.F_BB_UPPER] = mid + pr[L.P_BB_K] * sd
    out[S.F_BB_LOWER] = mid - pr[L.P_BB_K] * sd
    kc_mid, slow = st[L.KC_EMA + 2], st[L.ATR_SLOW + 3]
    out[S.F_KC_MID] = kc_mid
    out[S.F_KC_UPPER] = kc_mid + pr[L.P_KC_MULT] * slow
    out[S.F_KC_LOWER] = kc_mid - pr[L.P_KC_MULT] * slow
    squeeze_known = out[S.F_BB_UPPER] == out[S.F_BB_UPPER] and out[S.F_KC_UPPER] == out[S.F_KC_UPPER]
    inside = out[S.F_BB_UPPER] < out[S.F_KC_UPPER] and out[S.F_BB_LOWER] > out[S.F_KC_LOWER]
    out[S.F_SQUEEZE] = (1.0 if inside else 0.0) if squeeze_known else _NAN
    fast = st[L.ATR_FAST + 3]
    out[S.F_ATR_RATIO] = fast / slow if slow > 0.0 else _NAN
    out[S.F_REL_VOLUME] = _rel_volume(st, pr)
    out[S.F_SESSION_VOLUME] = st[L.SESSION_VOLUME] if active and pr[L.P_HAS_VOLUME] > 0.0 else _NAN
    out[S.F_PROXY_RATIO] = st[L.RATIO]
    out[S.F_AM_MISMATCHES] = st[L.AM_MISMATCHES]


# --- entry points --------------------------------------------------------------------------------


@kernel
def step_event(
    states: NDArray[np.float64],
    params: NDArray[np.float64],
    sessions: NDArray[np.int64],
    partner: NDArray[np.int64],
    symbol: int,
    kind: int,
    ts: int,
    a: float,
    b: float,
    c: float,
    d: float,
    e: float,
    f: float,
    out: NDArray[np.float64],
) -> int:
    """Apply one event of ``symbol`` and write its snapshot into ``out``; returns a status code.

    ``partner[s]`` links an index to its proxy and back (−1: none); after every event the pair's
    ratio sampling runs (it is a no-op unless both have closed a new minute). Argument use by kind:
    SECOND (a..f) = open, high, low, close, volume, vwap; TRADE a, b = price, size; QUOTE a, b =
    bid, ask; MINUTE = open, high, low, close, volume.
    """
    st = states[symbol]
    pr = params[symbol]
    if kind == SECOND:
        status = _second(st, pr, sessions, ts, a, b, c, d, e, f)
    elif kind == TRADE:
        status = _trade(st, pr, sessions, ts, a, b)
    elif kind == QUOTE:
        status = _quote(st, a, b)
    else:
        status = _minute_bar(st, ts, a, b, c, d, e)
    other = partner[symbol]
    if status == OK and other >= 0:
        if pr[L.P_VWAP_MODE] == L.VWAP_PROXY:
            pair_update(st, states[other], pr)
        elif params[other, L.P_VWAP_MODE] == L.VWAP_PROXY:
            pair_update(states[other], st, params[other])
    snapshot(st, pr, out)
    return status


@kernel
def run_events(
    states: NDArray[np.float64],
    params: NDArray[np.float64],
    sessions: NDArray[np.int64],
    partner: NDArray[np.int64],
    symbol: NDArray[np.int64],
    kind: NDArray[np.int64],
    ts: NDArray[np.int64],
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    c: NDArray[np.float64],
    d: NDArray[np.float64],
    e: NDArray[np.float64],
    f: NDArray[np.float64],
    slot: NDArray[np.int64],
    out: NDArray[np.float64],
    status: NDArray[np.int8],
) -> int:
    """The replay loop: :func:`step_event` over event arrays, in order; returns how many were applied.

    Event ``i``'s snapshot goes to row ``slot[i]`` of ``out``, or to its last row (scratch) when
    ``slot[i]`` is −1: the snapshot is computed for every event either way. Stops at the first event
    beyond the sessions table so the caller can extend it and resume.
    """
    n = ts.shape[0]
    scratch = out.shape[0] - 1
    for i in range(n):
        row = out[slot[i]] if slot[i] >= 0 else out[scratch]
        code = step_event(
            states, params, sessions, partner, symbol[i], kind[i], ts[i], a[i], b[i], c[i], d[i], e[i], f[i], row
        )
        status[i] = code
        if code == OUTSIDE_CALENDAR:
            return i
    return n
