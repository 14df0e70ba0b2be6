"""Relative 0DTE volume: minute profiles, completed minutes, hand-computed ratios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.core.errors import DataError
from scalper.gates.relvol import MINUTE_NS, completed_minutes, minute_profile, relative_volume

OPEN = 1_700_000_000 * 1_000_000_000
CLOSE = OPEN + 390 * MINUTE_NS


def test_profile_places_minutes_and_drops_outside_rows() -> None:
    ts = np.array([OPEN - MINUTE_NS, OPEN, OPEN + 2 * MINUTE_NS, OPEN + 2 * MINUTE_NS, CLOSE])
    p = minute_profile(ts, np.array([99, 5, 3, 4, 99]), OPEN, CLOSE)
    assert p.shape == (390,)
    assert p[:4].tolist() == [5.0, 0.0, 7.0, 0.0]
    assert p.sum() == 12.0


def test_completed_minutes_counts_only_finished_minutes() -> None:
    assert completed_minutes(OPEN, OPEN) == 0
    assert completed_minutes(OPEN, OPEN + MINUTE_NS - 1) == 0
    assert completed_minutes(OPEN, OPEN + 30 * MINUTE_NS) == 30  # 10:00:00 → 09:30 … 09:59
    assert completed_minutes(OPEN, OPEN - MINUTE_NS) == 0


def test_hand_computed_ratio() -> None:
    today = np.array([10.0, 20.0, 30.0, 40.0])
    past = [np.array([5.0, 5.0, 5.0, 5.0]), np.array([15.0, 25.0, 0.0, 0.0])]
    r = relative_volume(today, past, 2)
    # today 10 + 20 = 30; past 10 and 40 → mean 25
    assert r.ratio == pytest.approx(30 / 25)
    assert (r.today, r.mean, r.sessions, r.minutes) == (30.0, 25.0, 2, 2)


def test_not_ready_cases() -> None:
    today = np.ones(4)
    assert relative_volume(today, [np.ones(4)], 0).reason == "before the first minute"
    assert relative_volume(today, [np.ones(4)], 2, min_sessions=3).reason == "warming up: 1 of 3 past sessions"
    assert relative_volume(today, [np.zeros(4)], 2).reason == "past volume is 0"


def test_bad_input_is_named() -> None:
    with pytest.raises(DataError, match="as many times as volumes"):
        minute_profile(np.array([OPEN]), np.array([1.0, 2.0]), OPEN, CLOSE)
    with pytest.raises(DataError, match="volumes ≥ 0"):
        minute_profile(np.array([OPEN]), np.array([-1.0]), OPEN, CLOSE)


@given(
    st.lists(st.integers(0, 1000), min_size=5, max_size=5),
    st.lists(st.lists(st.integers(0, 1000), min_size=5, max_size=5), min_size=1, max_size=6),
    st.integers(1, 5),
)
def test_ratio_matches_an_independent_loop(today: list[int], past: list[list[int]], k: int) -> None:
    r = relative_volume(np.array(today, float), [np.array(p, float) for p in past], k)
    cum_today = sum(today[:k])
    mean = sum(sum(p[:k]) for p in past) / len(past)
    if mean == 0:
        assert r.ratio is None
    else:
        assert r.ratio == pytest.approx(cum_today / mean)
        assert r.ratio is not None and r.ratio >= 0
