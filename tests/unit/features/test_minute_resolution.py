"""The feature engine at minute resolution: minute bars drive the features (each stepped as the last
second of its minute, so the minute closes on it); at second resolution they are only checked."""

from __future__ import annotations

import numpy as np
import pytest

from scalper.core.errors import ConfigError
from scalper.features.engine import MINUTE_STAMP_NS, FeatureEngine
from scalper.features.snapshot import INDEX

NS = 1_000_000_000
OPEN = 1_709_562_600 * NS  # 2024-03-04 09:30 New York
SESSIONS = np.array([[OPEN, OPEN + 390 * 60 * NS]], dtype=np.int64)


def minutes(n: int, seed: int = 5) -> list[tuple[int, float, float, float, float, float]]:
    rng = np.random.default_rng(seed)
    out, price = [], 500.0
    for m in range(n):
        o = price
        c = round(o + rng.normal(0.0, 0.3), 2)
        h, lo = max(o, c) + 0.1, min(o, c) - 0.1
        out.append((OPEN + m * 60 * NS, o, h, lo, c, float(rng.integers(1_000, 5_000))))
        price = c
    return out


def test_minute_bars_drive_an_engine_at_minute_resolution_as_their_last_seconds_would() -> None:
    by_minute = FeatureEngine(("SPY",), sessions=SESSIONS, resolution="minute")
    by_second = FeatureEngine(("SPY",), sessions=SESSIONS)
    for ts, o, h, lo, c, v in minutes(60):
        assert by_minute.on_minute("SPY", ts, o, h, lo, c, v) == 0
        assert by_second.on_second("SPY", ts + MINUTE_STAMP_NS, o, h, lo, c, v, None) == 0
        np.testing.assert_array_equal(by_minute.latest("SPY"), by_second.latest("SPY"))
    row = by_minute.latest("SPY")
    for name in ("close", "vwap", "or30_high", "ema_1m", "atr_1m"):
        assert np.isfinite(row[INDEX[name]]), name  # minute-level features are built from minute bars
    assert row[INDEX["close"]] == minutes(60)[-1][4]


def test_at_second_resolution_minute_bars_are_only_checked_against_the_built_minutes() -> None:
    engine = FeatureEngine(("SPY",), sessions=SESSIONS)
    before = engine.states.copy()
    ts, o, h, lo, c, v = minutes(1)[0]
    assert engine.on_minute("SPY", ts, o, h, lo, c, v) == 0
    np.testing.assert_array_equal(engine.states, before)  # nothing built from it
    assert np.isnan(engine.latest("SPY")[INDEX["close"]])


def test_an_unknown_resolution_is_refused() -> None:
    with pytest.raises(ConfigError, match="resolution"):
        FeatureEngine(("SPY",), resolution="hour")  # type: ignore[arg-type]
