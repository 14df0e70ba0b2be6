"""``scalper bench features``: every feature over one-second data, in replay and live.

Data: ``sessions`` synthetic sessions of I:SPX, SPY, I:NDX and QQQ one-second aggregates (the
indices' VWAPs mapped from their proxies), generated before timing. The kernels are compiled (or
loaded from the on-disk cache) on a small slice first; that time is reported as ``compile_s``.

* ``events_per_s``: :meth:`FeatureEngine.replay` over all the events on one thread, a snapshot
  computed after every event; the best of ``repeats`` runs, each on a fresh engine.
* ``live_p50_us`` / ``live_p99_us`` / ``live_max_us``: one :meth:`FeatureEngine.on_second` call per
  event, as the live path makes it (symbol lookup, argument boxing, the compiled step, the
  snapshot), timed call by call over the first ``live_events`` events.
* ``state_bytes_per_symbol``: the fixed size of one symbol's state (rings at capacity): memory per
  symbol does not grow with the data.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np

from scalper.features import layout
from scalper.features.engine import EventArrays, FeatureEngine
from scalper.features.snapshot import N_FIELDS
from scalper.synthetic.feature_events import market_events
from scalper.synthetic.market import generate_market_days

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")


def run(*, sessions: int = 10, repeats: int = 3, live_events: int = 200_000, seed: int = 3) -> dict[str, Any]:
    """Generate the data, time replay and live updates, and return the figures."""
    days = generate_market_days(dt.date(2025, 3, 3), sessions, seed)
    events = market_events(days, SYMBOLS)
    started = time.perf_counter()
    FeatureEngine(SYMBOLS).replay(events.take(slice(0, 5000)))
    compile_s = time.perf_counter() - started

    best = float("inf")
    for _ in range(repeats):
        engine = FeatureEngine(SYMBOLS)
        started = time.perf_counter()
        status, _ = engine.replay(events)
        best = min(best, time.perf_counter() - started)
        if (status != 0).any():
            raise RuntimeError(f"bench features: {int((status != 0).sum())} events refused: {dict(engine.refused)}")

    latencies = _live(events, min(live_events, len(events)))
    return {
        "name": "features",
        "events": len(events),
        "symbols": len(SYMBOLS),
        "sessions": sessions,
        "events_per_s": round(len(events) / best),
        "live_events": latencies.size,
        "live_p50_us": round(float(np.percentile(latencies, 50)) / 1000, 2),
        "live_p99_us": round(float(np.percentile(latencies, 99)) / 1000, 2),
        "live_max_us": round(float(latencies.max()) / 1000, 1),
        "state_bytes_per_symbol": layout.STATE_SIZE * 8 + N_FIELDS * 8,
        "compile_s": round(compile_s, 2),
    }


def _live(events: EventArrays, n: int) -> np.ndarray:
    engine = FeatureEngine(SYMBOLS)
    rows = [
        (
            SYMBOLS[s],
            int(ts),
            float(o),
            float(h),
            float(lo),
            float(c),
            None if v != v else float(v),
            None if w != w else float(w),
        )
        for s, ts, o, h, lo, c, v, w in zip(
            events.symbol[:n],
            events.ts[:n],
            events.a[:n],
            events.b[:n],
            events.c[:n],
            events.d[:n],
            events.e[:n],
            events.f[:n],
            strict=True,
        )
    ]
    out = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    on_second = engine.on_second
    for i, row in enumerate(rows):
        started = clock()
        on_second(*row)
        out[i] = clock() - started
    return out
