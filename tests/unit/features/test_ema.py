"""EMA and EMA slope against pandas' ``ewm(adjust=False)`` seeded with the SMA of the first n inputs."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import ConfigError, InvariantError
from scalper.features.ema import Ema, EmaSlope, normalised_slope

values = st.lists(st.floats(min_value=3000.0, max_value=8000.0, allow_nan=False), min_size=1, max_size=120)
periods = st.integers(min_value=1, max_value=30)
lags = st.integers(min_value=1, max_value=10)

REL = 1e-9


def pandas_ema(x: list[float], n: int) -> np.ndarray:
    """Reference: NaN for the first n−1 inputs; then pandas ewm(alpha=2/(n+1), adjust=False) over
    [mean(x[:n]), x[n], x[n+1], ...] — the SMA-seeded EMA."""
    out = np.full(len(x), math.nan)
    if len(x) < n:
        return out
    seeded = pd.Series([float(np.mean(np.array(x[:n], dtype=np.longdouble))), *x[n:]])
    out[n - 1 :] = seeded.ewm(alpha=2.0 / (n + 1), adjust=False).mean().to_numpy()
    return out


def run_ema(x: list[float], n: int) -> np.ndarray:
    ema = Ema(n)
    return np.array([ema.update(v) for v in x])


def run_slope(x: list[float], n: int, k: int) -> np.ndarray:
    slope = EmaSlope(n, k)
    return np.array([slope.update(v) for v in x])


@settings(max_examples=200, deadline=None)
@given(values, periods)
def test_incremental_ema_equals_pandas_ewm_with_sma_seed(x: list[float], n: int) -> None:
    got, want = run_ema(x, n), pandas_ema(x, n)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=REL)


@settings(max_examples=200, deadline=None)
@given(values, periods, lags)
def test_slope_equals_batch_difference_of_ema_over_k(x: list[float], n: int, k: int) -> None:
    ema = pandas_ema(x, n)
    want = np.full(len(x), math.nan)
    first = n - 1 + k  # the first index with both EMA_t and EMA_{t−k}
    if len(x) > first:
        want[first:] = (ema[first:] - ema[first - k : len(x) - k]) / k
    got = run_slope(x, n, k)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    # A difference of two ~5000-level EMAs: relative, with an absolute floor of 1e-9 price units per bar.
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=REL, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(values, values, periods, lags)
def test_appending_inputs_never_changes_values_already_emitted(
    head: list[float], tail: list[float], n: int, k: int
) -> None:
    assert np.array_equal(run_ema(head, n), run_ema(head + tail, n)[: len(head)], equal_nan=True)
    assert np.array_equal(run_slope(head, n, k), run_slope(head + tail, n, k)[: len(head)], equal_nan=True)


def test_ema_is_not_ready_before_n_inputs_and_then_seeds_with_their_mean() -> None:
    ema = Ema(3)
    warming = [ema.update(10.0), ema.update(11.0)]
    readiness = [ema.ready]
    assert ema.update(15.0) == 12.0
    readiness.append(ema.ready)
    assert all(math.isnan(v) for v in warming) and readiness == [False, True]
    assert ema.update(20.0) == 12.0 + 0.5 * (20.0 - 12.0)  # α = 2/(3+1) = 0.5


def test_ema_of_period_one_is_the_input() -> None:
    ema = Ema(1)
    assert [ema.update(v) for v in (5.0, 7.0, 3.5)] == [5.0, 7.0, 3.5]


def test_constant_input_gives_constant_ema_and_zero_slope() -> None:
    slope = EmaSlope(5, 3)
    out = [slope.update(4321.5) for _ in range(20)]
    assert slope.ema_value == 4321.5
    assert all(math.isnan(v) for v in out[:7]) and all(v == 0.0 for v in out[7:])
    assert slope.ready


def test_slope_becomes_ready_after_n_plus_k_inputs() -> None:
    slope = EmaSlope(4, 2)
    for _ in range(5):
        slope.update(100.0)
    assert not slope.ready
    slope.update(100.0)
    assert slope.ready


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_input_is_refused_naming_the_value(bad: float) -> None:
    ema = Ema(3)
    with pytest.raises(InvariantError, match=f"ema input: expected a finite number, was {bad}"):
        ema.update(bad)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_period_is_a_config_error(bad: int) -> None:
    with pytest.raises(ConfigError, match="ema period"):
        Ema(bad)
    with pytest.raises(ConfigError, match="ema slope lag"):
        EmaSlope(3, bad)


def test_normalised_slope_divides_by_atr_and_is_nan_without_atr() -> None:
    assert normalised_slope(0.5, 2.0) == 0.25
    assert math.isnan(normalised_slope(0.5, 0.0)) and math.isnan(normalised_slope(0.5, math.nan))
