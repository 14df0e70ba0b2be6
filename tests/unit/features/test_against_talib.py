"""The kernels against TA-Lib, the named reference library, with its conventions and warm-up."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from scalper.features import Adx, Atr, Ema


def random_bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 5000 + np.cumsum(rng.normal(0, 2, n))
    return close + rng.uniform(0, 3, n), close - rng.uniform(0, 3, n), close


def same(ours: list[float], reference: np.ndarray) -> None:
    got = np.array(ours)
    assert np.array_equal(np.isnan(got), np.isnan(reference))  # the same warm-up
    mask = ~np.isnan(reference)
    assert mask.any()
    np.testing.assert_allclose(got[mask], reference[mask], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("period", [2, 5, 14])
@pytest.mark.parametrize("seed", [1, 2])
def test_ema_atr_and_the_directional_index_equal_talib(period: int, seed: int) -> None:
    high, low, close = random_bars(400, seed)
    atr, adx, ema = Atr(period), Adx(period), Ema(period)
    rows = []
    for h, lo, c in zip(high, low, close, strict=True):
        atr.update(h, lo, c)
        adx.update(h, lo, c)
        ema.update(c)
        rows.append((atr.value, adx.plus_di, adx.minus_di, adx.value, ema.value))
    ours = list(zip(*rows, strict=True))
    same(list(ours[0]), talib.ATR(high, low, close, period))
    same(list(ours[1]), talib.PLUS_DI(high, low, close, period))
    same(list(ours[2]), talib.MINUS_DI(high, low, close, period))
    same(list(ours[3]), talib.ADX(high, low, close, period))
    same(list(ours[4]), talib.EMA(close, period))
