"""IV rank and percentile against hand-computed windows, warm-up handling, and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.core.errors import DataError
from scalper.gates.ivrank import iv_standing, iv_standing_series


def test_hand_computed_window_of_five() -> None:
    # window 20, 15, 10, 25, 18: min 10, max 25 → rank 100·(18−10)/15; below 18: 15, 10 → 2 of 4
    s = iv_standing([30.0, 20.0, 15.0, 10.0, 25.0, 18.0], window=5)
    assert s.rank == pytest.approx(100 * 8 / 15)
    assert s.percentile == pytest.approx(50.0)
    assert s.reason is None


def test_today_at_the_window_extremes() -> None:
    assert iv_standing([12.0, 14.0, 16.0], window=3).rank == pytest.approx(100.0)
    assert iv_standing([12.0, 14.0, 16.0], window=3).percentile == pytest.approx(100.0)
    low = iv_standing([16.0, 14.0, 12.0], window=3)
    assert (low.rank, low.percentile) == (0.0, 0.0)


def test_ties_do_not_count_as_below() -> None:
    s = iv_standing([15.0, 15.0, 10.0, 15.0], window=4)
    assert s.percentile == pytest.approx(100 * 1 / 3)
    assert s.rank == pytest.approx(100.0)


def test_not_ready_until_the_window_is_full() -> None:
    s = iv_standing([20.0] * 251, window=252)
    assert s.rank is None and s.percentile is None
    assert s.reason == "warming up: 251 of 252 sessions present"


def test_missing_days_count_against_warm_up_unless_allowed() -> None:
    x = [20.0, math.nan, 10.0, 30.0, 25.0]
    assert iv_standing(x, window=5).reason == "warming up: 4 of 5 sessions present"
    s = iv_standing(x, window=5, min_valid=4)
    assert s.rank == pytest.approx(75.0)  # (25 − 10) / (30 − 10)
    assert s.percentile == pytest.approx(100 * 2 / 3)  # 20, 10 below of 20, 10, 30


def test_missing_today_and_flat_window() -> None:
    assert iv_standing([20.0, 21.0, math.nan], window=3, min_valid=2).reason == "today's IV is missing"
    flat = iv_standing([20.0, 20.0, 20.0], window=3)
    assert flat.rank is None and flat.reason == "flat window: max equals min"
    assert flat.percentile == 0.0


@pytest.mark.parametrize("bad", [[20.0, -1.0, 20.0], [20.0, math.inf, 20.0]])
def test_invalid_values_are_named(bad: list[float]) -> None:
    with pytest.raises(DataError, match="at index 1 is invalid"):
        iv_standing(bad, window=3)


iv = st.floats(min_value=0.01, max_value=300.0, allow_nan=False)


@given(st.lists(st.one_of(iv, st.just(math.nan)), min_size=2, max_size=60), st.integers(2, 30))
def test_rank_and_percentile_stay_in_0_100(values: list[float], window: int) -> None:
    s = iv_standing(values, window=window, min_valid=2)
    assert s.rank is None or 0.0 <= s.rank <= 100.0
    assert s.percentile is None or 0.0 <= s.percentile <= 100.0


@given(st.lists(iv, min_size=3, max_size=40), st.integers(2, 10))
def test_series_equals_pointwise(values: list[float], window: int) -> None:
    rank, pct = iv_standing_series(values, window=window)
    for i in range(len(values)):
        s = iv_standing(values[: i + 1], window=window)
        assert (np.isnan(rank[i]) and s.rank is None) or rank[i] == s.rank
        assert (np.isnan(pct[i]) and s.percentile is None) or pct[i] == s.percentile


@given(st.lists(iv, min_size=3, max_size=40))
def test_rank_matches_an_independent_loop(values: list[float]) -> None:
    window = len(values)
    today, lo, hi = values[-1], min(values), max(values)
    s = iv_standing(values, window=window)
    if hi == lo:
        assert s.rank is None
    else:
        assert s.rank == pytest.approx(100 * (today - lo) / (hi - lo))
    below = sum(1 for v in values[:-1] if v < today)
    assert s.percentile == pytest.approx(100 * below / (window - 1))
