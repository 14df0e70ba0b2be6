"""Kaufman efficiency ratio against a per-window numpy batch computation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import ConfigError, InvariantError
from scalper.features.efficiency import EfficiencyRatio

steps = st.one_of(st.just(0.0), st.floats(min_value=-5.0, max_value=5.0))
periods = st.integers(min_value=1, max_value=15)


@st.composite
def closes(draw: st.DrawFn) -> list[float]:
    """A random walk at SPX levels, long enough to cross many rebuilds of the running sum; some flat runs."""
    start = draw(st.floats(min_value=3000.0, max_value=8000.0))
    return list(start + np.cumsum([0.0, *draw(st.lists(steps, max_size=200))]))


def batch_er(c: list[float], n: int) -> np.ndarray:
    """ER_t = |C_t − C_{t−n}| / Σ|ΔC| over the window, recomputed from scratch per window; 0 on a flat window."""
    x = np.array(c)
    out = np.full(len(x), math.nan)
    for t in range(n, len(x)):
        path = np.abs(np.diff(x[t - n : t + 1])).sum()
        out[t] = abs(x[t] - x[t - n]) / path if path > 0 else 0.0
    return out


def run(c: list[float], n: int) -> np.ndarray:
    er = EfficiencyRatio(n)
    return np.array([er.update(v) for v in c])


@settings(max_examples=200, deadline=None)
@given(closes(), periods)
def test_incremental_er_equals_the_per_window_batch(c: list[float], n: int) -> None:
    got, want = run(c, n), batch_er(c, n)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    # The running path sum carries rounding from up to n add/remove pairs: relative 1e-9, absolute 1e-9.
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-9, atol=1e-9)
    assert np.all((got[~np.isnan(got)] >= 0.0) & (got[~np.isnan(got)] <= 1.0))


@settings(max_examples=200, deadline=None)
@given(closes(), closes(), periods)
def test_appending_closes_never_changes_values_already_emitted(head: list[float], tail: list[float], n: int) -> None:
    assert np.array_equal(run(head, n), run(head + tail, n)[: len(head)], equal_nan=True)


def test_straight_move_is_fully_efficient_and_a_round_trip_is_not() -> None:
    er = EfficiencyRatio(4)
    assert [er.update(v) for v in (100.0, 101.0, 102.0, 103.0, 104.0)][-1] == 1.0
    er = EfficiencyRatio(4)
    assert [er.update(v) for v in (100.0, 102.0, 104.0, 102.0, 100.0)][-1] == 0.0


def test_not_ready_until_n_plus_one_closes() -> None:
    er = EfficiencyRatio(3)
    out = [er.update(v) for v in (10.0, 11.0, 12.0)]
    assert all(math.isnan(v) for v in out) and not er.ready
    assert er.update(11.0) == pytest.approx(1.0 / 3.0) and er.ready  # |11 − 10| / (1 + 1 + 1)


def test_flat_window_reads_zero() -> None:
    er = EfficiencyRatio(5)
    for _ in range(12):
        er.update(5000.0)
    assert er.value == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -1.0])
def test_bad_close_is_refused_naming_the_value(bad: float) -> None:
    with pytest.raises(InvariantError, match=f"efficiency ratio close: expected a finite positive price, was {bad}"):
        EfficiencyRatio(3).update(bad)


def test_bad_period_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="efficiency ratio period"):
        EfficiencyRatio(0)
