"""The compiled rules of the built-in plays: one step of a play over flat arrays.

The rules of :class:`~scalper.plays.trend_burst.TrendBurst` and
:class:`~scalper.plays.balanced_break.BalancedBreak` (their module docstrings are the rules) are
numba kernels over flat arrays, so the live path (one call per snapshot, from Python) and a
compiled replay loop (many calls, from compiled code) run the very same machine code.

Arrays of one play instance:

* ``fs`` (float64, :data:`N_FS` slots): the position (−1, 0, +1), prices, ranges and 0/1 flags;
  ``nan`` stands for *none* (no range, no delta);
* ``its`` (int64, :data:`N_ITS` slots): every nanosecond time (last time seen, cooldown end,
  holding start, first/last compressed time); :data:`NO_TIME` stands for *none*;
* ``params`` (float64, :data:`N_PARAMS` slots): the thresholds of the play's config; booleans
  are 0/1, ``opening_range`` is 5/15/30, ``stop_at`` is :data:`STOP_AT_RANGE` or
  :data:`STOP_AT_VWAP`, ``exit_reentry_fraction`` is ``nan`` when not set, durations are whole
  seconds.

Inputs of a step: the time ``ts`` (ns), the index and proxy snapshot rows (float64, laid out as
:data:`scalper.features.snapshot.FIELDS`; any non-finite value means *not ready*) and the policy
``level`` (0 off, 1 reduced, 2 normal, 3 aggressive: the position in
:data:`scalper.plays.base.LEVELS`).

Output: the step fills ``out`` (float64, :data:`N_OUT` slots, ``nan`` where not set) with the
outcome (:data:`SKIP`, :data:`ENTER`, :data:`EXIT`, or :data:`TIME_BACKWARDS` /
:data:`INVALID_ENTRY`, which the Python side turns into an
:class:`~scalper.core.errors.InvariantError`), the skip or exit code (:data:`CODES` names them),
the entry's direction, price, stop, target and ratio, and every number the texts of the skip,
exit and entry reasons show.

Entry points: :func:`step_play` (one snapshot), :func:`play_position_closed` (the position
ended outside the play) and :func:`play_reset` (the initial state), each dispatching on the play
kind (:data:`TREND_BURST`, :data:`BALANCED_BREAK`), so a compiled loop holding several plays
drives them by kind.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from scalper.features._jit import kernel
from scalper.features.snapshot import FIELDS

# --- play kinds --------------------------------------------------------------------------------

TREND_BURST: Final = 1
BALANCED_BREAK: Final = 2

# --- outcomes (out[O_OUTCOME]) -----------------------------------------------------------------

SKIP: Final = 0
ENTER: Final = 1
EXIT: Final = 2
TIME_BACKWARDS: Final = 3  # ts before the last time seen: nothing changed but nothing else either
INVALID_ENTRY: Final = 4  # the entry's numbers break an EnterIntent invariant: nothing changed

# --- skip and exit codes (out[O_CODE]); CODES[code] is the name ---------------------------------

NOT_READY: Final = 1
POLICY_OFF: Final = 2
COOLDOWN: Final = 3
NOT_ALIGNED: Final = 4
NO_BREAKOUT: Final = 5
ALREADY_TRADED: Final = 6
INSIDE_BANDS: Final = 7
HOLDING: Final = 8
BAD_STOP: Final = 9
RATIO_NOT_READY: Final = 10
BAD_TARGET: Final = 11
IN_POSITION: Final = 12
NO_RANGE: Final = 13
NO_VOLUME: Final = 14
NO_DELTA: Final = 15
VWAP_TRAIL: Final = 16
FAILED_RELEASE: Final = 17
CODES: Final = (
    "",
    "NOT_READY",
    "POLICY_OFF",
    "COOLDOWN",
    "NOT_ALIGNED",
    "NO_BREAKOUT",
    "ALREADY_TRADED",
    "INSIDE_BANDS",
    "HOLDING",
    "BAD_STOP",
    "RATIO_NOT_READY",
    "BAD_TARGET",
    "IN_POSITION",
    "NO_RANGE",
    "NO_VOLUME",
    "NO_DELTA",
    "VWAP_TRAIL",
    "FAILED_RELEASE",
)

# --- out slots ---------------------------------------------------------------------------------

O_OUTCOME: Final = 0
O_CODE: Final = 1
O_LEVEL: Final = 2  # the level of the step (0 … 3)
O_DIRECTION: Final = 3  # the trade's direction, or the position's for IN_POSITION / exits
O_PRICE: Final = 4  # entry price (index points)
O_STOP: Final = 5
O_TARGET: Final = 6
O_RATIO: Final = 7  # proxy_ratio of the entry
O_CLOSE: Final = 8
O_VWAP: Final = 9
O_BAND: Final = 10  # trend burst: vwap + d·k·σ
O_HIGH: Final = 11  # opening range high (trend burst), compression or traded range high (balanced break)
O_LOW: Final = 12
O_SECONDS: Final = 13  # HOLDING: held; COOLDOWN: left; NO_RANGE and entries: compression length (nan: no range)
O_ALIGNED: Final = 14
O_MISSING: Final = 15  # NOT_READY: bit i set when the play's i-th read field is not ready
O_REL_VOLUME: Final = 16  # nan when not ready
O_MOVED: Final = 17  # cum_delta moved since the last close inside the range
O_DELTA_METHOD: Final = 18  # entry of a balanced break: 1 or 2 when the delta confirmed it, 0 when unknown
O_EDGE: Final = 19  # FAILED_RELEASE: the re-entry edge
O_LAST_TS_HIGH: Final = 20  # TIME_BACKWARDS: the last time seen = high · 2**32 + low
O_LAST_TS_LOW: Final = 21
N_OUT: Final = 22

# --- state slots -------------------------------------------------------------------------------

NO_TIME: Final = -(2**63)  # "no time": no last time, no cooldown, not holding

FS_POSITION: Final = 0
# trend burst
FS_TB_HAS_RANGE: Final = 1  # 1 once an opening range was seen
FS_TB_RANGE_HIGH: Final = 2  # the opening range last seen
FS_TB_RANGE_LOW: Final = 3
FS_TB_ARMED_LONG: Final = 4  # 1 when the long side may trade its breakout
FS_TB_ARMED_SHORT: Final = 5
# balanced break
FS_BB_HIGH: Final = 1  # the compression range, nan when none
FS_BB_LOW: Final = 2
FS_BB_COMPRESSED: Final = 3  # 1 while the last snapshot tracked was compressed
FS_BB_WAIT_FOR_END: Final = 4  # 1 after an entry until compression ends
FS_BB_INSIDE_DELTA: Final = 5  # cum_delta at the last close inside the range, nan when none
FS_BB_TRADE_HIGH: Final = 6  # the range of the open trade, nan when none
FS_BB_TRADE_LOW: Final = 7
N_FS: Final = 8

IT_LAST_TS: Final = 0
IT_COOLDOWN_UNTIL: Final = 1
IT_TB_HOLDING_SINCE: Final = 2  # trend burst: first time of the current run of met conditions
IT_BB_FIRST_NS: Final = 2  # balanced break: first compressed time of the range
IT_BB_LAST_NS: Final = 3  # balanced break: last compressed time
N_ITS: Final = 4

# --- params slots ------------------------------------------------------------------------------

P_REWARD_RISK: Final = 0
P_COOLDOWN_S: Final = 1
# trend burst
P_TB_OPENING_RANGE: Final = 2
P_TB_BAND_K: Final = 3
P_TB_STOP_AT: Final = 4
P_TB_CONFIRM_S: Final = 5
P_TB_EXIT_ON_VWAP: Final = 6
# balanced break
P_BB_ATR_RATIO_MAX: Final = 2
P_BB_MIN_COMPRESSION_S: Final = 3
P_BB_RELEASE_WINDOW_S: Final = 4
P_BB_REL_VOLUME_MIN: Final = 5
P_BB_DELTA_MIN: Final = 6
P_BB_EXIT_REENTRY_FRACTION: Final = 7
N_PARAMS: Final = 8

STOP_AT_RANGE: Final = 1
STOP_AT_VWAP: Final = 2

# --- snapshot fields read ----------------------------------------------------------------------

_CLOSE: Final = FIELDS.index("close")
_VWAP: Final = FIELDS.index("vwap")
_VWAP_STD: Final = FIELDS.index("vwap_std")
_OR5_HIGH: Final = FIELDS.index("or5_high")
_OR5_LOW: Final = FIELDS.index("or5_low")
_OR15_HIGH: Final = FIELDS.index("or15_high")
_OR15_LOW: Final = FIELDS.index("or15_low")
_OR30_HIGH: Final = FIELDS.index("or30_high")
_OR30_LOW: Final = FIELDS.index("or30_low")
_ALIGNED: Final = FIELDS.index("aligned")
_SQUEEZE: Final = FIELDS.index("squeeze")
_ATR_RATIO: Final = FIELDS.index("atr_ratio")
_PROXY_RATIO: Final = FIELDS.index("proxy_ratio")
_REL_VOLUME: Final = FIELDS.index("rel_volume")
_CUM_DELTA: Final = FIELDS.index("cum_delta")
_DELTA_METHOD: Final = FIELDS.index("delta_method")

_NS: Final = 1_000_000_000
_NAN: Final = math.nan

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def new_state(kind: int) -> tuple[F64, I64]:
    """A play's initial state arrays ``(fs, its)``."""
    fs = np.zeros(N_FS, dtype=np.float64)
    its = np.zeros(N_ITS, dtype=np.int64)
    play_reset(kind, fs, its)
    return fs, its


def new_out() -> F64:
    """An ``out`` array for :func:`step_play`."""
    return np.full(N_OUT, math.nan, dtype=np.float64)


# --- common rules ------------------------------------------------------------------------------


@kernel
def play_reset(kind: int, fs: F64, its: I64) -> None:
    """Set the state of a new play of ``kind``: flat, no time seen, no cooldown."""
    fs[:] = 0.0
    its[:] = 0
    its[IT_LAST_TS] = NO_TIME
    its[IT_COOLDOWN_UNTIL] = NO_TIME
    if kind == TREND_BURST:
        fs[FS_TB_RANGE_HIGH] = _NAN
        fs[FS_TB_RANGE_LOW] = _NAN
        fs[FS_TB_ARMED_LONG] = 1.0
        fs[FS_TB_ARMED_SHORT] = 1.0
        its[IT_TB_HOLDING_SINCE] = NO_TIME
    elif kind == BALANCED_BREAK:
        fs[FS_BB_HIGH] = _NAN
        fs[FS_BB_LOW] = _NAN
        fs[FS_BB_INSIDE_DELTA] = _NAN
        fs[FS_BB_TRADE_HIGH] = _NAN
        fs[FS_BB_TRADE_LOW] = _NAN
    else:
        raise ValueError("play_reset: unknown play kind")


@kernel
def _flat(kind: int, fs: F64, its: I64, params: F64, ts: int) -> None:
    """The position ended at ``ts``: flat, cooldown started, the traded range forgotten."""
    fs[FS_POSITION] = 0.0
    its[IT_COOLDOWN_UNTIL] = ts + np.int64(params[P_COOLDOWN_S]) * _NS
    if kind == BALANCED_BREAK:
        fs[FS_BB_TRADE_HIGH] = _NAN
        fs[FS_BB_TRADE_LOW] = _NAN


@kernel
def play_position_closed(kind: int, fs: F64, its: I64, params: F64, ts: int) -> None:
    """The position ended outside the play (stop/target filled, entry refused): start the cooldown."""
    _flat(kind, fs, its, params, ts)


@kernel
def _skip(out: F64, code: int) -> None:
    out[O_OUTCOME] = SKIP
    out[O_CODE] = code


@kernel
def _exit(kind: int, fs: F64, its: I64, params: F64, ts: int, code: int, out: F64) -> None:
    _flat(kind, fs, its, params, ts)
    out[O_OUTCOME] = EXIT
    out[O_CODE] = code


@kernel
def _entry_gate(its: I64, ts: int, level: int, out: F64) -> bool:
    """Fill the skip and return True when the level is off or a cooldown runs."""
    if level == 0:
        _skip(out, POLICY_OFF)
        return True
    if ts < its[IT_COOLDOWN_UNTIL]:
        _skip(out, COOLDOWN)
        out[O_SECONDS] = (its[IT_COOLDOWN_UNTIL] - ts) / _NS
        return True
    return False


@kernel
def _enter(fs: F64, params: F64, index_row: F64, direction: int, price: float, stop: float, out: F64) -> bool:
    """The entry at ``price`` with ``stop`` and the R-multiple target, or the refusal; True when it enters."""
    out[O_DIRECTION] = direction
    out[O_PRICE] = price
    out[O_STOP] = stop
    if direction * (price - stop) <= 0:
        _skip(out, BAD_STOP)
        return False
    ratio = index_row[_PROXY_RATIO]
    if not math.isfinite(ratio) or ratio <= 0:
        _skip(out, RATIO_NOT_READY)
        return False
    target = price + direction * params[P_REWARD_RISK] * abs(price - stop)
    out[O_TARGET] = target
    if target <= 0:
        _skip(out, BAD_TARGET)
        return False
    out[O_RATIO] = ratio
    if not (price > 0 and stop > 0 and math.isfinite(target) and direction * (target - price) > 0):
        out[O_OUTCOME] = INVALID_ENTRY
        return False
    out[O_OUTCOME] = ENTER
    fs[FS_POSITION] = direction
    return True


@kernel
def step_play(
    kind: int,
    fs: F64,
    its: I64,
    params: F64,
    ts: int,
    index_row: F64,
    proxy_row: F64,
    level: int,
    out: F64,
) -> int:
    """One snapshot at ``ts`` for the play of ``kind``: ``out`` filled, the outcome returned."""
    out[:] = _NAN
    out[O_CODE] = 0
    out[O_LEVEL] = level
    last = its[IT_LAST_TS]
    if ts < last:
        out[O_OUTCOME] = TIME_BACKWARDS
        out[O_LAST_TS_HIGH] = last >> 32
        out[O_LAST_TS_LOW] = last & 0xFFFFFFFF
        return TIME_BACKWARDS
    its[IT_LAST_TS] = ts
    if kind == TREND_BURST:
        _trend_burst(fs, its, params, ts, index_row, level, out)
    elif kind == BALANCED_BREAK:
        _balanced_break(fs, its, params, ts, index_row, proxy_row, level, out)
    else:
        raise ValueError("step_play: unknown play kind")
    return int(out[O_OUTCOME])


# --- trend burst -------------------------------------------------------------------------------


@kernel
def _or_fields(minutes: float) -> tuple[int, int]:
    """The snapshot fields of the opening range high and low of ``minutes``."""
    if minutes == 5.0:
        return _OR5_HIGH, _OR5_LOW
    if minutes == 15.0:
        return _OR15_HIGH, _OR15_LOW
    return _OR30_HIGH, _OR30_LOW


@kernel
def _tb_conditions(
    fs: F64, params: F64, close: float, vwap: float, std: float, hi: float, lo: float, aligned: float, out: F64
) -> bool:
    """Fill the skip and return True when alignment, breakout, arming or the band fails."""
    if aligned != 1.0 and aligned != -1.0:
        _skip(out, NOT_ALIGNED)
        return True
    d = int(aligned)
    out[O_DIRECTION] = d
    if d > 0 and not close > hi:
        _skip(out, NO_BREAKOUT)
        return True
    if d < 0 and not close < lo:
        _skip(out, NO_BREAKOUT)
        return True
    armed = fs[FS_TB_ARMED_LONG] if d > 0 else fs[FS_TB_ARMED_SHORT]
    if armed == 0.0:
        _skip(out, ALREADY_TRADED)
        return True
    band = vwap + d * params[P_TB_BAND_K] * std
    out[O_BAND] = band
    if d * (close - band) <= 0:
        _skip(out, INSIDE_BANDS)
        return True
    return False


@kernel
def _trend_burst(fs: F64, its: I64, params: F64, ts: int, index_row: F64, level: int, out: F64) -> None:
    hi_i, lo_i = _or_fields(params[P_TB_OPENING_RANGE])
    missing = 0
    if not math.isfinite(index_row[_CLOSE]):
        missing |= 1
    if not math.isfinite(index_row[_VWAP]):
        missing |= 2
    if not math.isfinite(index_row[_VWAP_STD]):
        missing |= 4
    if not math.isfinite(index_row[hi_i]):
        missing |= 8
    if not math.isfinite(index_row[lo_i]):
        missing |= 16
    if not math.isfinite(index_row[_ALIGNED]):
        missing |= 32
    if missing != 0:
        its[IT_TB_HOLDING_SINCE] = NO_TIME
        _skip(out, NOT_READY)
        out[O_MISSING] = missing
        return
    close = index_row[_CLOSE]
    vwap = index_row[_VWAP]
    std = index_row[_VWAP_STD]
    hi = index_row[hi_i]
    lo = index_row[lo_i]
    aligned = index_row[_ALIGNED]
    out[O_CLOSE] = close
    out[O_VWAP] = vwap
    out[O_HIGH] = hi
    out[O_LOW] = lo
    out[O_ALIGNED] = aligned

    if fs[FS_TB_HAS_RANGE] == 0.0 or hi != fs[FS_TB_RANGE_HIGH] or lo != fs[FS_TB_RANGE_LOW]:
        fs[FS_TB_HAS_RANGE] = 1.0  # a new opening range (new session): both sides armed
        fs[FS_TB_RANGE_HIGH] = hi
        fs[FS_TB_RANGE_LOW] = lo
        fs[FS_TB_ARMED_LONG] = 1.0
        fs[FS_TB_ARMED_SHORT] = 1.0
    if close <= hi:
        fs[FS_TB_ARMED_LONG] = 1.0
    if close >= lo:
        fs[FS_TB_ARMED_SHORT] = 1.0

    position = fs[FS_POSITION]
    if position != 0:
        out[O_DIRECTION] = position
        if params[P_TB_EXIT_ON_VWAP] != 0.0 and position * (close - vwap) < 0:
            _exit(TREND_BURST, fs, its, params, ts, VWAP_TRAIL, out)
            return
        _skip(out, IN_POSITION)
        return

    if _entry_gate(its, ts, level, out) or _tb_conditions(fs, params, close, vwap, std, hi, lo, aligned, out):
        its[IT_TB_HOLDING_SINCE] = NO_TIME
        return
    d = int(aligned)
    if its[IT_TB_HOLDING_SINCE] == NO_TIME:
        its[IT_TB_HOLDING_SINCE] = ts
    held_s = (ts - its[IT_TB_HOLDING_SINCE]) / 1e9
    if held_s < params[P_TB_CONFIRM_S]:
        _skip(out, HOLDING)
        out[O_SECONDS] = held_s
        return
    stop = (lo if d > 0 else hi) if params[P_TB_STOP_AT] == STOP_AT_RANGE else vwap
    out[O_BAND] = vwap + d * params[P_TB_BAND_K] * std
    if _enter(fs, params, index_row, d, close, stop, out):
        if d > 0:
            fs[FS_TB_ARMED_LONG] = 0.0
        else:
            fs[FS_TB_ARMED_SHORT] = 0.0
        its[IT_TB_HOLDING_SINCE] = NO_TIME


# --- balanced break ----------------------------------------------------------------------------


@kernel
def _bb_exit_rule(fs: F64, its: I64, params: F64, ts: int, close: float, out: F64) -> None:
    f = params[P_BB_EXIT_REENTRY_FRACTION]
    d = fs[FS_POSITION]
    out[O_DIRECTION] = d
    high = fs[FS_BB_TRADE_HIGH]
    low = fs[FS_BB_TRADE_LOW]
    if not math.isnan(f) and not math.isnan(high):
        edge = high - f * (high - low) if d > 0 else low + f * (high - low)
        if d * (close - edge) < 0:
            out[O_HIGH] = high
            out[O_LOW] = low
            out[O_EDGE] = edge
            _exit(BALANCED_BREAK, fs, its, params, ts, FAILED_RELEASE, out)
            return
    _skip(out, IN_POSITION)


@kernel
def _bb_expire(fs: F64, its: I64, params: F64, ts: int) -> None:
    """Drop the range when compression ended more than ``release_window_s`` ago."""
    expired = ts - its[IT_BB_LAST_NS] > np.int64(params[P_BB_RELEASE_WINDOW_S]) * _NS
    if not math.isnan(fs[FS_BB_HIGH]) and fs[FS_BB_COMPRESSED] == 0.0 and expired:
        fs[FS_BB_HIGH] = _NAN
        fs[FS_BB_LOW] = _NAN


@kernel
def _bb_entry_rule(
    fs: F64,
    its: I64,
    params: F64,
    ts: int,
    index_row: F64,
    proxy_row: F64,
    level: int,
    close: float,
    delta: float,
    out: F64,
) -> bool:
    """Fill the entry or the skip; True when it enters."""
    if math.isnan(fs[FS_BB_HIGH]):
        _skip(out, NO_RANGE)
        return False
    lasted = (its[IT_BB_LAST_NS] - its[IT_BB_FIRST_NS]) / _NS
    out[O_SECONDS] = lasted
    if lasted < params[P_BB_MIN_COMPRESSION_S]:
        _skip(out, NO_RANGE)
        return False
    high = fs[FS_BB_HIGH]
    low = fs[FS_BB_LOW]
    out[O_HIGH] = high
    out[O_LOW] = low
    if close > high:
        d = 1
    elif close < low:
        d = -1
    else:
        _skip(out, NO_BREAKOUT)
        return False
    out[O_DIRECTION] = d
    if _entry_gate(its, ts, level, out):
        return False
    rel = proxy_row[_REL_VOLUME]
    if not math.isfinite(rel):
        _skip(out, NO_VOLUME)
        return False
    out[O_REL_VOLUME] = rel
    if rel < params[P_BB_REL_VOLUME_MIN]:
        _skip(out, NO_VOLUME)
        return False
    method = proxy_row[_DELTA_METHOD]
    inside = fs[FS_BB_INSIDE_DELTA]
    if (method == 1.0 or method == 2.0) and not math.isnan(delta) and not math.isnan(inside):
        moved = delta - inside
        out[O_MOVED] = moved
        if d * moved <= params[P_BB_DELTA_MIN]:
            _skip(out, NO_DELTA)
            return False
        out[O_DELTA_METHOD] = method
    else:
        out[O_DELTA_METHOD] = 0.0
    return _enter(fs, params, index_row, d, close, low if d > 0 else high, out)


@kernel
def _bb_track(fs: F64, its: I64, ts: int, close: float, compressed: bool, delta: float) -> None:
    """Extend or start the compression range; remember the delta of a close inside it."""
    if not compressed:
        fs[FS_BB_WAIT_FOR_END] = 0.0
        fs[FS_BB_COMPRESSED] = 0.0
    elif fs[FS_BB_WAIT_FOR_END] == 0.0:
        if math.isnan(fs[FS_BB_HIGH]):
            fs[FS_BB_HIGH] = close
            fs[FS_BB_LOW] = close
            its[IT_BB_FIRST_NS] = ts
        else:
            if close > fs[FS_BB_HIGH]:
                fs[FS_BB_HIGH] = close
            if close < fs[FS_BB_LOW]:
                fs[FS_BB_LOW] = close
        its[IT_BB_LAST_NS] = ts
        fs[FS_BB_COMPRESSED] = 1.0
    high = fs[FS_BB_HIGH]
    if not math.isnan(high) and fs[FS_BB_LOW] <= close <= high:
        fs[FS_BB_INSIDE_DELTA] = delta


@kernel
def _balanced_break(
    fs: F64, its: I64, params: F64, ts: int, index_row: F64, proxy_row: F64, level: int, out: F64
) -> None:
    missing = 0
    if not math.isfinite(index_row[_CLOSE]):
        missing |= 1
    if not math.isfinite(index_row[_SQUEEZE]):
        missing |= 2
    if not math.isfinite(index_row[_ATR_RATIO]):
        missing |= 4
    if missing != 0:
        _skip(out, NOT_READY)
        out[O_MISSING] = missing
        return
    close = index_row[_CLOSE]
    out[O_CLOSE] = close
    compressed = index_row[_SQUEEZE] == 1.0 and index_row[_ATR_RATIO] < params[P_BB_ATR_RATIO_MAX]
    delta = proxy_row[_CUM_DELTA]
    if not math.isfinite(delta):
        delta = _NAN

    if fs[FS_POSITION] != 0:
        _bb_exit_rule(fs, its, params, ts, close, out)
    else:
        _bb_expire(fs, its, params, ts)
        if _bb_entry_rule(fs, its, params, ts, index_row, proxy_row, level, close, delta, out):
            fs[FS_BB_TRADE_HIGH] = fs[FS_BB_HIGH]  # the range is consumed by the entry
            fs[FS_BB_TRADE_LOW] = fs[FS_BB_LOW]
            fs[FS_BB_HIGH] = _NAN
            fs[FS_BB_LOW] = _NAN
            fs[FS_BB_WAIT_FOR_END] = 1.0
            return
        if out[O_OUTCOME] == INVALID_ENTRY:
            return
    _bb_track(fs, its, ts, close, compressed, delta)
