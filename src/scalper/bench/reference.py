"""``scalper bench reference``: the reference workload in scalper's engine beside backtrader.

The workload (:mod:`scalper.bench.reference_bars`): ``days`` sessions of one-second bars and the
EMA(30)/EMA(120) cross with next-open fills, no costs. scalper runs it through
:func:`~scalper.engine.target_strategy.run_target_strategy`: the strategy as a compiled scan
(:func:`ema_cross_scan`), each decision a market order in the order book, filled by the
simulated broker (zero latency: the next bar's open; no spread, slippage, commission or fees).
backtrader (a development dependency) replays the same bars in the same process, data preloaded,
no observers; its rate is bars / time from the strategy's start to its stop, as published.

Keys: ``name``, ``bars``, ``events_per_s`` (scalper: bars / time of the run, kernels compiled
beforehand), ``fills``, ``units``, ``position``, ``pnl``, ``backtrader_events_per_s``,
``backtrader_fills``, ``backtrader_pnl``, ``ratio`` (scalper's rate / backtrader's), ``agree``
(both engines: the same fills, units, final position and PnL to the cent), ``compile_s``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scalper.brokers.sim import FeeSchedule, SimConfig, TafSchedule
from scalper.core.errors import ConfigError
from scalper.engine.target_strategy import TargetRun, run_target_strategy
from scalper.features._jit import kernel

SYMBOL = "REF"
FAST_SPAN = 30
SLOW_SPAN = 120
WARMUP_BARS = 120

# ema_cross_scan state slots
FAST = 0
SLOW = 1
ALPHA_FAST = 2
ALPHA_SLOW = 3
WARMUP = 4
STATE_SIZE = 5

_NO_FEES = "no fees (reference workload)"
#: the simulator without costs: zero latency (next bar's open), no spread, no slippage, no fees
NO_COSTS = SimConfig(
    latency_ns=0,
    half_spread=0.0,
    slippage=0.0,
    commission_per_share=0.0,
    sec_fee=FeeSchedule(name=_NO_FEES, entries=((dt.date(1970, 1, 1), 0.0),)),
    finra_taf=TafSchedule(name=_NO_FEES, entries=((dt.date(1970, 1, 1), 0.0, 0.0),)),
    id_prefix="ref",
)


def ema_cross_state(fast: int = FAST_SPAN, slow: int = SLOW_SPAN, warmup: int = WARMUP_BARS) -> NDArray[np.float64]:
    """A fresh state for :func:`ema_cross_scan`: ``alpha = 2 / (span + 1)``, the first signal at
    bar ``warmup``."""
    state = np.zeros(STATE_SIZE, dtype=np.float64)
    state[ALPHA_FAST] = 2.0 / (fast + 1.0)
    state[ALPHA_SLOW] = 2.0 / (slow + 1.0)
    state[WARMUP] = warmup
    return state


@kernel
def ema_cross_scan(
    opens: NDArray[np.float64],
    highs: NDArray[np.float64],
    lows: NDArray[np.float64],
    closes: NDArray[np.float64],
    volumes: NDArray[np.float64],
    state: NDArray[np.float64],
    start: int,
    stop: int,
    position: float,
    out: NDArray[np.float64],
) -> int:
    """The EMA cross as a target strategy (:data:`~scalper.engine.target_strategy.Scan`): both EMAs
    seeded with bar 0's close and updated on every bar; from bar ``warmup`` on, the target is +1
    when fast > slow, −1 when fast < slow, else the position."""
    a_fast, a_slow = state[ALPHA_FAST], state[ALPHA_SLOW]
    warmup = int(state[WARMUP])
    fast, slow = state[FAST], state[SLOW]
    for i in range(start, stop):
        c = closes[i]
        if i == 0:
            fast = c
            slow = c
        else:
            fast = a_fast * c + (1.0 - a_fast) * fast
            slow = a_slow * c + (1.0 - a_slow) * slow
        if i >= warmup:
            target = position
            if fast > slow:
                target = 1.0
            elif fast < slow:
                target = -1.0
            if target != position:
                state[FAST] = fast
                state[SLOW] = slow
                out[0] = target
                return i
    state[FAST] = fast
    state[SLOW] = slow
    return stop


def run_engine(bars: Mapping[str, NDArray[np.generic]]) -> TargetRun:
    """The reference strategy over ``bars`` in scalper's engine."""
    return run_target_strategy(bars, ema_cross_scan, ema_cross_state(), symbol=SYMBOL, config=NO_COSTS)


def run_backtrader(bars: Mapping[str, NDArray[np.generic]]) -> dict[str, Any]:
    """The reference strategy in backtrader: ``fills`` (time, signed size, price), ``units``,
    ``position``, ``pnl``, ``seconds`` (strategy start to stop)."""
    if importlib.util.find_spec("backtrader") is None:
        raise ConfigError(
            "bench reference: backtrader is not installed; install the development extras: pip install -e '.[dev]'"
        )
    from scalper.bench.reference_peer import run as run_peer

    return run_peer(bars)


def run(days: int = 43) -> dict[str, Any]:
    """The benchmark over ``days`` sessions (43: the published 1,006,200 bars)."""
    from scalper.bench.reference_bars import make_bars

    bars = make_bars(days)
    started = time.perf_counter()
    run_engine({k: v[: 2 * WARMUP_BARS] for k, v in bars.items()})  # compiles or loads the kernel
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = run_engine(bars)
    seconds = time.perf_counter() - started
    peer = run_backtrader(bars)
    n = len(bars["ts_ns"])
    rate = n / seconds
    peer_rate = n / peer["seconds"]
    pnl = round(ours.pnl, 2)
    agree = (
        [(f.ts, f.signed_qty, f.price) for f in ours.fills] == peer["fills"]
        and ours.position.qty == peer["position"]
        and pnl == round(peer["pnl"], 2)
    )
    return {
        "name": "reference",
        "bars": n,
        "events_per_s": round(rate),
        "fills": len(ours.fills),
        "units": round(ours.units),
        "position": round(ours.position.qty),
        "pnl": pnl,
        "backtrader_events_per_s": round(peer_rate),
        "backtrader_fills": len(peer["fills"]),
        "backtrader_pnl": round(peer["pnl"], 2),
        "ratio": round(rate / peer_rate, 1),
        "agree": agree,
        "compile_s": round(compile_s, 2),
    }
