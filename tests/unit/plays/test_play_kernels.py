"""The compiled plays against their pure-Python oracle, and a compiled loop driving the kernels.

Random sessions (prices around 5000 so that breakouts, ranges, compressions and bands happen;
not-ready values as missing keys, ``None``, ``nan`` and ``inf``; equal times, long gaps, levels
including ``off``, ``position_closed`` and resumed positions, times going backwards, odd data
that makes entries invalid) are fed to a kernel-based play and to the verbatim pure-Python
implementation (:mod:`oracle_plays`); every step must give the same intent or skip (code and
text), the same exception, position, cooldown and range. Explicit sessions (a "tour" of each
rule, and odd data) come first; each test then checks that its run reached every skip code, exit,
entry and text variant of the play, so no branch goes untested. Then a compiled (numba) loop runs
the kernels over whole sessions and :meth:`~scalper.plays.compiled.CompiledPlay.apply_output`
turns its outputs into the same intents and skips as ``on_snapshot`` one step at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from oracle_plays import OracleBalancedBreak, OracleTrendBurst

from scalper.core.errors import InvariantError
from scalper.features.snapshot import FIELDS, INDEX, SnapshotView
from scalper.plays import EnterIntent, ExitIntent, Play
from scalper.plays import kernels as K
from scalper.plays.balanced_break import BalancedBreak, BalancedBreakConfig
from scalper.plays.base import LEVELS, Skip
from scalper.plays.compiled import CompiledPlay
from scalper.plays.trend_burst import TrendBurst, TrendBurstConfig

S = 1_000_000_000
T0 = 1_764_081_000 * S
COMMON: dict[str, Any] = {"index": "I:SPX", "proxy": "SPY"}
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- generated sessions ------------------------------------------------------------------------

MISSING = object()  # the key is left out of the snapshot


@dataclass(frozen=True)
class Mood:
    """How a session's snapshots look: per 100 values, how many are not ready and how many odd."""

    not_ready: int
    odd: int


MOODS = st.builds(Mood, not_ready=st.sampled_from([0, 2, 6]), odd=st.sampled_from([0, 0, 2, 15]))


def value(draw: st.DrawFn, mood: Mood, usual: list[float], odd: list[float] | None = None) -> Any:
    """A snapshot value: mostly one of ``usual``, sometimes not ready (absent, None, nan, inf),
    sometimes one of ``odd``."""
    r = draw(st.integers(0, 99))
    if r < mood.not_ready:
        return draw(st.sampled_from([MISSING, None, math.nan, math.inf]))
    if odd and r < mood.not_ready + mood.odd:
        return draw(st.sampled_from(odd))
    return draw(st.sampled_from(usual))


LEVEL = st.sampled_from(["off", "reduced", "normal", "normal", "aggressive", "aggressive"])
DT_S = st.sampled_from([0, 1, 1, 1, 1, 2, 2, 3, 5, 10, 30, 61, 200, 3600])
DT_NS = st.sampled_from([0, 0, 0, 0, 1, 499_999_999])


@dataclass(frozen=True)
class Step:
    """One action of a session: ``snap`` (feed a snapshot), ``closed`` (position_closed),
    ``resume`` (set the position), ``back`` (a snapshot 1 ns before the current time)."""

    action: str
    dt_ns: int
    index: dict[str, Any]
    proxy: dict[str, Any]
    level: str
    view: bool  # feed the snapshots as SnapshotView rows instead of dicts
    direction: int = 0


Snapshots = tuple[dict[str, Any], dict[str, Any]]


@st.composite
def sessions(draw: st.DrawFn, snapshot: Any, *, odd_actions: bool = True) -> list[Step]:
    """A session: its mood, then steps; ``snapshot(draw, mood, context)`` makes each step's
    snapshots, ``context`` being a dict it may keep things in from step to step."""
    mood = draw(MOODS)
    context: dict[str, Any] = {}
    actions = ["snap"] * 40 + (["closed", "closed", "resume", "back"] if odd_actions else [])
    out = []
    for _ in range(draw(st.integers(1, 80))):
        index, proxy = snapshot(draw, mood, context)
        out.append(
            Step(
                action=draw(st.sampled_from(actions)),
                dt_ns=draw(DT_S) * S + draw(DT_NS),
                index=index,
                proxy=proxy,
                level=draw(LEVEL),
                view=draw(st.booleans()),
                direction=draw(st.sampled_from([1, -1])),
            )
        )
    return out


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not MISSING}


RANGES = [(5010.0, 4990.0), (5005.0, 4995.0), (5011.0, 4991.0), (4990.0, 5010.0), (9000.0, 10.0)]
MOVES = [-2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 2.0]


def trend_snapshot(draw: st.DrawFn, mood: Mood, context: dict[str, Any]) -> Snapshots:
    """I:SPX around 5000: an opening range kept for many steps (mostly [4990, 5010]), a close that
    walks (and sometimes jumps) between 4980 and 5020, vwap about 5000."""
    if "range" not in context or draw(st.integers(0, 29)) == 0:
        context["range"] = draw(st.sampled_from(RANGES[:1] * 6 + RANGES[1:]))
    if "close" not in context or draw(st.integers(0, 19)) == 0:
        context["close"] = draw(st.sampled_from([4985.0 + 0.5 * i for i in range(61)]))
    else:
        context["close"] = min(5020.0, max(4980.0, context["close"] + draw(st.sampled_from(MOVES))))
    hi, lo = context["range"]
    values = {
        "close": value(draw, mood, [context["close"]], [-5.0, 0.0, 9500.0]),
        "vwap": value(draw, mood, [4995.0, 5000.0, 5000.0, 5005.0], [9000.0, 5.0, -5.0, -5.0, 0.0]),
        "vwap_std": value(draw, mood, [0.0, 1.0, 2.5, 5.0], [-3.0]),
        "aligned": value(draw, mood, [1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 0.0, 0.5]),
        "proxy_ratio": value(draw, mood, [10.0], [0.0, -1.0]),
    }
    for n in (5, 15, 30):
        values[f"or{n}_high"] = value(draw, mood, [hi])
        values[f"or{n}_low"] = value(draw, mood, [lo])
    return _present(values), {"close": 500.0}


def balanced_snapshot(draw: st.DrawFn, mood: Mood, context: dict[str, Any]) -> Snapshots:
    """I:SPX compressing around 5000 to 5004; SPY volume and delta (a delta method kept for many steps)."""
    if "method" not in context or draw(st.integers(0, 29)) == 0:
        context["method"] = draw(st.sampled_from([0.0, 1.0, 2.0, 2.0, 3.0]))
    index = {
        "close": value(draw, mood, [4996.0 + 0.5 * i for i in range(25)], [-5.0, 0.0, 9500.0, 1.0]),
        "squeeze": value(draw, mood, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.5]),
        "atr_ratio": value(draw, mood, [0.5, 0.6, 0.7, 0.8, 0.9]),
        "proxy_ratio": value(draw, mood, [10.0], [0.0, -1.0]),
    }
    proxy = {
        "rel_volume": value(draw, mood, [0.5, 1.0, 1.2, 1.3, 2.0]),
        "cum_delta": value(draw, mood, [900.0, 1000.0, 1000.0, 1100.0, 1500.0, 2000.0, -300.0]),
        "delta_method": value(draw, mood, [context["method"]]),
    }
    return _present(index), _present(proxy)


TREND_CONFIG: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    opening_range=st.sampled_from([5, 15, 30]),
    band_k=st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0]),
    stop_at=st.sampled_from(["range", "vwap"]),
    confirm_s=st.sampled_from([0, 0, 1, 3, 10]),
    exit_on_vwap=st.booleans(),
    reward_risk=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    cooldown_s=st.sampled_from([0, 0, 2, 5, 60]),
)
BALANCED_CONFIG: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    atr_ratio_max=st.sampled_from([0.75, 0.8]),
    min_compression_s=st.sampled_from([0, 0, 2, 5, 60]),
    release_window_s=st.sampled_from([0, 3, 10, 60]),
    rel_volume_min=st.sampled_from([0.0, 1.0, 1.2]),
    delta_min=st.sampled_from([0.0, 50.0, 200.0]),
    exit_reentry_fraction=st.sampled_from([None, None, 0.0, 0.5, 1.0, 0.3]),
    reward_risk=st.sampled_from([0.5, 1.0, 1.5, 3.0]),
    cooldown_s=st.sampled_from([0, 0, 2, 5, 60]),
)

# --- running a session on both ----------------------------------------------------------------


def _row(values: dict[str, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    row = np.full(len(FIELDS), math.nan)
    for k, v in values.items():
        if k in INDEX:
            row[INDEX[k]] = math.nan if v is None else float(v)
    return row


def _call(play: Play[Any], step: Step, ts: int) -> tuple[str, Any]:
    """What one step gives: ("ok", intent or None) or ("error", type and message)."""
    try:
        if step.action == "closed":
            play.position_closed(ts)
            return "ok", None
        if step.action == "resume":
            play.position = step.direction
            return "ok", None
        index: Any = SnapshotView(_row(step.index)) if step.view else step.index
        proxy: Any = SnapshotView(_row(step.proxy)) if step.view else step.proxy
        return "ok", play.on_snapshot(ts, index, proxy, step.level)  # type: ignore[arg-type]
    except InvariantError as exc:
        return "error", (type(exc).__name__, str(exc))


def _state(play: Play[Any]) -> tuple[Any, ...]:
    return (play.position, play.last_skip, play._last_ts, play._cooldown_until, getattr(play, "range", None))


VARIANTS = {
    "NO_BREAKOUT": ("above", "below", "inside"),
    "IN_POSITION": ("long", "short"),
    "NO_RANGE": ("lasted", "no compression"),
    "NO_VOLUME": ("not ready", "rel_volume"),
}


def _label(prefix: str, result: tuple[str, Any], skip: Skip | None) -> str:
    """The outcome a step reached, with its text variant, for the coverage check."""
    status, value = result
    if status == "error":
        return f"{prefix}:error:{'time' if 'backwards' in value[1] else 'entry'}"
    if isinstance(value, EnterIntent):
        return f"{prefix}:enter:{value.direction:+d}:{value.reasons[-2][0]}"
    if isinstance(value, ExitIntent):
        return f"{prefix}:exit:{value.reason[0]}"
    if skip is None:
        return f"{prefix}:none"
    words = [w for w in VARIANTS.get(skip.code, ()) if w in skip.text]
    return ":".join([prefix, skip.code, *words[:1]])


def run_both(prefix: str, compiled: Play[Any], oracle: Play[Any], session: list[Step], seen: set[str]) -> None:
    ts = T0
    for i, step in enumerate(session):
        if step.action != "back":
            ts += step.dt_ns
        at = ts - 1 if step.action == "back" else ts
        got, want = _call(compiled, step, at), _call(oracle, step, at)
        assert got == want, f"step {i} ({step}): {got} != {want}"
        assert _state(compiled) == _state(oracle), f"step {i} ({step})"
        if step.action in ("snap", "back"):
            seen.add(_label(prefix, want, oracle.last_skip))


TREND_SEEN: set[str] = set()
BALANCED_SEEN: set[str] = set()


def snap(
    dt_s: int, index: dict[str, Any], proxy: dict[str, Any] | None = None, action: str = "snap", level: str = "normal"
) -> Step:
    """A step of an explicit session (dict snapshots)."""
    return Step(action=action, dt_ns=dt_s * S, index=index, proxy=proxy or {}, level=level, view=False)


def trend(close: float, **over: float | None) -> dict[str, Any]:
    return {
        "close": close,
        "vwap": 5000.0,
        "vwap_std": 1.0,
        "or30_high": 5010.0,
        "or30_low": 4990.0,
        "aligned": 1.0,
        "proxy_ratio": 10.0,
        **over,
    }


TREND_BASE = {
    "opening_range": 30,
    "band_k": 1.0,
    "confirm_s": 0,
    "exit_on_vwap": True,
    "reward_risk": 2.0,
    "cooldown_s": 0,
}


#: every skip, exit and entry of the rule in one session (confirm 2 s, cooldown 5 s, stop at the range)
TREND_TOUR = [
    snap(0, trend(5012.0, vwap_std=None)),  # NOT_READY
    snap(1, trend(5012.0), level="off"),  # POLICY_OFF
    snap(1, trend(5012.0, aligned=0.0)),  # NOT_ALIGNED
    snap(1, trend(5005.0)),  # NO_BREAKOUT above
    snap(1, trend(4995.0, aligned=-1.0)),  # NO_BREAKOUT below
    snap(1, trend(5012.0, vwap=5012.0)),  # INSIDE_BANDS
    snap(1, trend(5012.0)),  # HOLDING 0 s
    snap(1, trend(5012.0)),  # HOLDING 1 s
    snap(1, trend(5012.0)),  # long
    snap(1, trend(5011.0)),  # IN_POSITION long
    snap(1, trend(4999.0)),  # VWAP_TRAIL, cooldown 5 s
    snap(1, trend(5012.0)),  # COOLDOWN
    snap(5, trend(5012.0)),  # HOLDING
    snap(1, trend(5012.0)),
    snap(1, trend(5012.0)),  # long
    snap(0, trend(5012.0), action="closed"),
    snap(6, trend(5012.0)),  # ALREADY_TRADED
    snap(1, trend(4985.0, aligned=-1.0)),  # HOLDING
    snap(1, trend(4985.0, aligned=-1.0)),
    snap(1, trend(4985.0, aligned=-1.0)),  # short
    snap(1, trend(4986.0, aligned=-1.0)),  # IN_POSITION short
    snap(1, trend(5001.0, aligned=-1.0)),  # VWAP_TRAIL
]


@SETTINGS
@given(config=TREND_CONFIG, session=sessions(trend_snapshot))
@example(config={**TREND_BASE, "stop_at": "range", "confirm_s": 2, "cooldown_s": 5}, session=TREND_TOUR)
# the stop on the winning side: an inverted opening range (stop at range low 5010 above the close)
@example(
    config={**TREND_BASE, "stop_at": "range"},
    session=[snap(0, trend(5000.0, vwap=4990.0, or30_high=4990.0, or30_low=5010.0))],
)
# a target below zero: short with the stop at a vwap far above
@example(
    config={**TREND_BASE, "stop_at": "vwap"}, session=[snap(0, trend(4980.0, vwap=9000.0, vwap_std=0.0, aligned=-1.0))]
)
# an entry EnterIntent refuses (stop at a negative vwap), then the same with the ratio not ready, then time backwards
@example(
    config={**TREND_BASE, "stop_at": "vwap"},
    session=[
        snap(0, trend(5012.0, vwap=-5.0)),
        snap(1, trend(5012.0, proxy_ratio=math.nan)),
        snap(1, trend(5012.0), action="back"),
        snap(1, trend(5012.0)),
    ],
)
def _trend_sessions(config: dict[str, Any], session: list[Step]) -> None:
    c = TrendBurstConfig.model_validate({**COMMON, **config})
    run_both("TB", TrendBurst(c), OracleTrendBurst(c), session, TREND_SEEN)


def balanced(close: float, squeeze: float = 1.0) -> dict[str, Any]:
    return {"close": close, "squeeze": squeeze, "atr_ratio": 0.5, "proxy_ratio": 10.0}


BALANCED_BASE = {
    "atr_ratio_max": 0.8,
    "min_compression_s": 0,
    "release_window_s": 60,
    "rel_volume_min": 1.0,
    "delta_min": 0.0,
    "exit_reentry_fraction": 0.5,
    "reward_risk": 1.5,
    "cooldown_s": 0,
}
NO_METHOD = {"rel_volume": 1.3, "cum_delta": 1000.0, "delta_method": 0.0}
LEE_READY = {"rel_volume": 1.3, "cum_delta": 1000.0, "delta_method": 2.0}
#: every skip, exit and entry of the rule in one session (min compression 60 s, window 30 s, cooldown 120 s)
BALANCED_TOUR = [
    snap(0, {**balanced(5002.0), "close": None}, LEE_READY),  # NOT_READY
    snap(1, balanced(5002.0, squeeze=0.0), LEE_READY),  # NO_RANGE: never compressed
    snap(1, balanced(5002.0), LEE_READY),  # NO_RANGE, the range starts at 2 s
    snap(30, balanced(5004.0), LEE_READY),  # NO_RANGE: lasted 0 s
    snap(30, balanced(5000.0), LEE_READY),  # NO_RANGE: lasted 30 s; range [5000, 5004] until 62 s
    snap(8, balanced(5003.0), LEE_READY),  # NO_BREAKOUT (lasted 60 s: tradable)
    snap(1, balanced(5006.0, squeeze=0.0), LEE_READY, level="off"),  # POLICY_OFF
    snap(1, balanced(5006.0, squeeze=0.0), {**LEE_READY, "rel_volume": None}),  # NO_VOLUME not ready
    snap(1, balanced(5006.0, squeeze=0.0), {**LEE_READY, "rel_volume": 0.5}),  # NO_VOLUME
    snap(1, balanced(5006.0, squeeze=0.0), {**LEE_READY, "cum_delta": 900.0}),  # NO_DELTA
    snap(1, {**balanced(5006.0, squeeze=0.0), "proxy_ratio": None}, {**LEE_READY, "cum_delta": 1500.0}),  # no ratio
    snap(1, balanced(5006.0, squeeze=0.0), {**LEE_READY, "cum_delta": 1500.0}),  # long, DELTA
    snap(1, balanced(5005.0, squeeze=0.0), LEE_READY),  # IN_POSITION long (edge 5002)
    snap(1, balanced(5001.5, squeeze=0.0), LEE_READY),  # FAILED_RELEASE, cooldown until 198 s
    snap(2, balanced(5001.0), LEE_READY),  # NO_RANGE; a new range from 80 s
    snap(20, balanced(5003.0), LEE_READY),  # NO_RANGE
    snap(41, balanced(5002.0), LEE_READY),  # NO_RANGE: lasted 20 s of 60
    snap(4, balanced(4999.0, squeeze=0.0), LEE_READY),  # COOLDOWN
    snap(5, balanced(5002.0), LEE_READY),  # NO_BREAKOUT, compression goes on
    snap(30, balanced(5002.0), LEE_READY),
    snap(30, balanced(5002.0), LEE_READY),
    snap(1, balanced(4999.0, squeeze=0.0), {**LEE_READY, "delta_method": 0.0}),  # short, DELTA_UNKNOWN
    snap(1, balanced(5000.0, squeeze=0.0), LEE_READY),  # IN_POSITION short (edge 5002)
]


@SETTINGS
@given(config=BALANCED_CONFIG, session=sessions(balanced_snapshot))
@example(
    config={**BALANCED_BASE, "min_compression_s": 60, "release_window_s": 30, "cooldown_s": 120},
    session=BALANCED_TOUR,
)
# a target below zero: a range [5000, 9500] released downwards
@example(config=BALANCED_BASE, session=[snap(0, balanced(9500.0), NO_METHOD), snap(1, balanced(5000.0), NO_METHOD)])
# an entry EnterIntent refuses (stop at range low -5), after one without volume, then time backwards
@example(
    config=BALANCED_BASE,
    session=[
        snap(0, balanced(-5.0), NO_METHOD),
        snap(1, balanced(1.0, squeeze=0.0), {**NO_METHOD, "rel_volume": None}),
        snap(1, balanced(1.0, squeeze=0.0), NO_METHOD),
        snap(1, balanced(1.0, squeeze=0.0), NO_METHOD, action="back"),
    ],
)
def _balanced_sessions(config: dict[str, Any], session: list[Step]) -> None:
    c = BalancedBreakConfig.model_validate({**COMMON, **config})
    run_both("BB", BalancedBreak(c), OracleBalancedBreak(c), session, BALANCED_SEEN)


TREND_CODES = {
    "TB:NOT_READY",
    "TB:POLICY_OFF",
    "TB:COOLDOWN",
    "TB:NOT_ALIGNED",
    "TB:NO_BREAKOUT:above",
    "TB:NO_BREAKOUT:below",
    "TB:ALREADY_TRADED",
    "TB:INSIDE_BANDS",
    "TB:HOLDING",
    "TB:BAD_STOP",
    "TB:RATIO_NOT_READY",
    "TB:BAD_TARGET",
    "TB:IN_POSITION:long",
    "TB:IN_POSITION:short",
    "TB:exit:VWAP_TRAIL",
    "TB:enter:+1:BEYOND_BAND",
    "TB:enter:-1:BEYOND_BAND",
    "TB:error:time",
    "TB:error:entry",
}
BALANCED_CODES = {
    "BB:NOT_READY",
    "BB:NO_RANGE:no compression",
    "BB:NO_RANGE:lasted",
    "BB:NO_BREAKOUT:inside",
    "BB:POLICY_OFF",
    "BB:COOLDOWN",
    "BB:NO_VOLUME:not ready",
    "BB:NO_VOLUME:rel_volume",
    "BB:NO_DELTA",
    "BB:RATIO_NOT_READY",
    "BB:BAD_TARGET",
    "BB:IN_POSITION:long",
    "BB:IN_POSITION:short",
    "BB:exit:FAILED_RELEASE",
    "BB:enter:+1:DELTA",
    "BB:enter:-1:DELTA",
    "BB:enter:+1:DELTA_UNKNOWN",
    "BB:enter:-1:DELTA_UNKNOWN",
    "BB:error:time",
    "BB:error:entry",
}


def test_trend_burst_equals_the_pure_python_rule_on_random_sessions() -> None:
    TREND_SEEN.clear()
    _trend_sessions()
    assert set() == TREND_CODES - TREND_SEEN


def test_balanced_break_equals_the_pure_python_rule_on_random_sessions() -> None:
    BALANCED_SEEN.clear()
    _balanced_sessions()
    assert set() == BALANCED_CODES - BALANCED_SEEN


# --- a compiled loop drives the plays ----------------------------------------------------------


@numba.njit
def replay(
    kind: int,
    fs: Any,
    its: Any,
    params: Any,
    ts: Any,
    closed: Any,
    index_rows: Any,
    proxy_rows: Any,
    levels: Any,
    outs: Any,
) -> None:
    """A compiled loop over a batch: position_closed where ``closed``, then one step per row."""
    for i in range(ts.shape[0]):
        if closed[i]:
            K.play_position_closed(kind, fs, its, params, ts[i])
        K.step_play(kind, fs, its, params, ts[i], index_rows[i], proxy_rows[i], levels[i], outs[i])


def run_batch(compiled_loop: Play[Any], one_by_one: Play[Any], session: list[Step]) -> None:
    """The same session through :func:`replay` and through ``on_snapshot``: equal intents and skips."""
    ts, closed, index_rows, proxy_rows, levels = [], [], [], [], []
    t, pending_close = T0, False
    for step in session:
        t += step.dt_ns
        if step.action == "closed":
            pending_close = True
            continue
        ts.append(t)
        closed.append(pending_close)
        index_rows.append(_row(step.index))
        proxy_rows.append(_row(step.proxy))
        levels.append(LEVELS.index(step.level))
        pending_close = False
    outs = np.full((len(ts), K.N_OUT), np.nan)
    assert isinstance(compiled_loop, CompiledPlay)
    fs, its = compiled_loop.kernel_state
    replay(
        compiled_loop.kernel_kind,
        fs,
        its,
        compiled_loop.kernel_params,
        np.array(ts, dtype=np.int64),
        np.array(closed),
        np.array(index_rows),
        np.array(proxy_rows),
        np.array(levels, dtype=np.int64),
        outs,
    )
    for i, t in enumerate(ts):
        if closed[i]:
            one_by_one.position_closed(t)
        want: tuple[str, Any]
        got: tuple[str, Any]
        try:
            want = (
                "ok",
                one_by_one.on_snapshot(
                    t, _snapshot_dict(index_rows[i]), _snapshot_dict(proxy_rows[i]), LEVELS[levels[i]]
                ),
            )
        except InvariantError as exc:
            want = ("error", str(exc))
        try:
            got = ("ok", compiled_loop.apply_output(t, outs[i]))
        except InvariantError as exc:
            got = ("error", str(exc))
        assert got == want, f"row {i}"
        assert compiled_loop.last_skip == one_by_one.last_skip, f"row {i}"
    assert compiled_loop.position == one_by_one.position
    assert np.array_equal(fs, one_by_one.kernel_state[0], equal_nan=True)  # type: ignore[attr-defined]
    assert np.array_equal(its, one_by_one.kernel_state[1])  # type: ignore[attr-defined]


def _snapshot_dict(row: Any) -> dict[str, float | None]:
    return {f: (None if math.isnan(v) else float(v)) for f, v in zip(FIELDS, row, strict=True)}


@settings(SETTINGS, max_examples=60)
@given(config=TREND_CONFIG, session=sessions(trend_snapshot, odd_actions=False))
def test_a_compiled_loop_drives_trend_burst_as_on_snapshot_does(config: dict[str, Any], session: list[Step]) -> None:
    c = TrendBurstConfig.model_validate({**COMMON, **config})
    run_batch(TrendBurst(c), TrendBurst(c), session)


@settings(SETTINGS, max_examples=60)
@given(config=BALANCED_CONFIG, session=sessions(balanced_snapshot, odd_actions=False))
def test_a_compiled_loop_drives_balanced_break_as_on_snapshot_does(config: dict[str, Any], session: list[Step]) -> None:
    c = BalancedBreakConfig.model_validate({**COMMON, **config})
    run_batch(BalancedBreak(c), BalancedBreak(c), session)


def test_the_tours_through_a_compiled_loop() -> None:
    tb = TrendBurstConfig.model_validate({**COMMON, **TREND_BASE, "stop_at": "range", "confirm_s": 2, "cooldown_s": 5})
    run_batch(TrendBurst(tb), TrendBurst(tb), TREND_TOUR)
    bb = BalancedBreakConfig.model_validate(
        {**COMMON, **BALANCED_BASE, "min_compression_s": 60, "release_window_s": 30, "cooldown_s": 120}
    )
    run_batch(BalancedBreak(bb), BalancedBreak(bb), BALANCED_TOUR)


# --- the play's kernel API ---------------------------------------------------------------------


def test_the_position_is_the_kernels_state_and_can_be_set() -> None:
    p = TrendBurst(TrendBurstConfig.model_validate({**COMMON, **TREND_BASE, "stop_at": "vwap"}))
    fs, its = p.kernel_state
    assert (p.kernel_kind, p.position, p._last_ts, p._cooldown_until) == (K.TREND_BURST, 0, None, None)
    p.position = -1  # a resumed short position
    assert fs[K.FS_POSITION] == -1.0
    p.on_snapshot(T0, trend(5001.0), {}, "normal")  # close above vwap: the short exits
    assert p.position == 0 and fs[K.FS_POSITION] == 0.0
    assert (p._last_ts, p._cooldown_until) == (T0, T0) and its[K.IT_LAST_TS] == T0
    p.position = 1
    p.position_closed(T0 + S)
    assert p.position == 0 and p._cooldown_until == T0 + S


def test_kernel_params_come_from_the_config() -> None:
    tb = TrendBurst(TrendBurstConfig.model_validate({**COMMON, **TREND_BASE, "stop_at": "range", "opening_range": 15}))
    p = tb.kernel_params
    assert (p[K.P_TB_OPENING_RANGE], p[K.P_TB_STOP_AT], p[K.P_TB_EXIT_ON_VWAP]) == (15.0, K.STOP_AT_RANGE, 1.0)
    bb = BalancedBreak(BalancedBreakConfig.model_validate({**COMMON, **BALANCED_BASE, "exit_reentry_fraction": None}))
    assert bb.kernel_kind == K.BALANCED_BREAK and math.isnan(bb.kernel_params[K.P_BB_EXIT_REENTRY_FRACTION])


def test_a_snapshot_view_feeds_the_kernel_its_row() -> None:
    p = TrendBurst(TrendBurstConfig.model_validate({**COMMON, **TREND_BASE, "stop_at": "vwap"}))
    intent = p.on_snapshot(T0, SnapshotView(_row(trend(5012.0))), SnapshotView(_row({})), "aggressive")
    assert isinstance(intent, EnterIntent)
    assert (intent.level, intent.price, intent.stop, intent.target) == ("aggressive", 5012.0, 5000.0, 5036.0)


def test_an_unknown_kind_is_refused_by_the_kernel() -> None:
    fs, its = K.new_state(K.TREND_BURST)
    with pytest.raises(ValueError, match="unknown play kind"):
        K.step_play(7, fs, its, np.zeros(K.N_PARAMS), T0, np.zeros(len(FIELDS)), np.zeros(len(FIELDS)), 2, K.new_out())
