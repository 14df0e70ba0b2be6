"""Trailing stops: fixed, ATR and level trails, the breakeven step, and never loosening."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.core.errors import InvariantError
from scalper.risk.brackets import Direction, plan_bracket
from scalper.risk.trailing import AlongLevel, AtrMultiple, FixedDistance, TrailingStop, TrailRule
from scalper.strategy.thresholds import TrailingThresholds

TH = TrailingThresholds(rule="atr", breakeven_after_r=1.0, breakeven_offset=0.02, atr_multiple=2.0, level_offset=0.0)


def start(direction: Direction, rule: TrailRule, entry: float = 100.0, risk: float = 1.0) -> TrailingStop:
    plan = plan_bracket(direction=direction, entry=entry, stop_distance=risk, reward_risk=3.0)
    return TrailingStop.start(plan, rule, TH)


def test_fixed_trail_follows_the_best_price_of_a_long() -> None:
    trail = start("long", FixedDistance(distance=0.5))
    stops = []
    for price in (100.3, 100.6, 100.4, 100.9):
        trail = trail.update(price=price).state
        stops.append(trail.stop)
    # initial 99.00 → 99.80 (best 100.3) → 100.10 (best 100.6) → kept on the dip → 100.40 (best 100.9)
    assert stops == [99.8, 100.1, 100.1, 100.4]


def test_fixed_trail_of_a_short_mirrors() -> None:
    trail = start("short", FixedDistance(distance=0.5))
    for price in (99.7, 99.2, 99.6):
        trail = trail.update(price=price).state
    assert trail.stop == 99.7  # best 99.2 + 0.5; the bounce to 99.6 does not lift it
    assert trail.best == 99.2


def test_the_bar_high_sets_the_best_price_and_the_close_triggers() -> None:
    trail = start("long", FixedDistance(distance=0.5))
    step = trail.update(price=100.2, high=100.9, low=100.1)
    assert step.state.stop == 100.4
    assert step.triggered  # closed below the stop the high set: exit now


def test_atr_trail_needs_an_atr() -> None:
    trail = start("long", AtrMultiple(multiple=2.0))
    assert trail.update(price=100.8).state.stop == 99.0  # no ATR: the rule proposes nothing
    step = trail.update(price=100.8, atr=0.3)
    assert (step.state.stop, step.moved) == (100.2, "TRAIL")  # 100.8 − 2 × 0.3


def test_level_trail_follows_the_vwap_and_triggers_when_price_crosses_it() -> None:
    trail = start("long", AlongLevel(offset=0.05))
    trail = trail.update(price=100.5, level=99.6).state
    assert trail.stop == 99.55
    step = trail.update(price=100.2, level=100.3)  # price fell below the VWAP
    assert step.state.stop == 100.25
    assert step.triggered


def test_level_trail_of_a_short_rounds_away_from_the_price() -> None:
    trail = start("short", AlongLevel(offset=0.0))
    step = trail.update(price=99.5, level=100.333)
    assert step.state.stop == 100.34  # up to the tick: never tighter than the level


def test_breakeven_step_after_one_r() -> None:
    trail = start("long", AtrMultiple(multiple=2.0))  # entry 100, stop 99: R = 1
    before = trail.update(price=100.99)
    assert (before.state.stop, before.state.at_breakeven) == (99.0, False)
    after = before.state.update(price=101.0)
    assert (after.state.stop, after.moved, after.state.at_breakeven) == (100.02, "BREAKEVEN", True)


def test_breakeven_of_a_short() -> None:
    trail = start("short", AtrMultiple(multiple=2.0), risk=0.5)
    step = trail.update(price=99.5)
    assert step.state.stop == 99.98


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"price": math.nan}, "price: expected a finite number > 0, was nan"),
        ({"price": 100.0, "atr": -0.1}, "ATR: expected a finite number > 0"),
        ({"price": 100.0, "level": math.inf}, "level: expected a finite number > 0, was inf"),
        ({"price": 100.0, "high": 99.0}, "bar: expected low <= price <= high"),
    ],
)
def test_bad_updates_are_refused_by_name(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        start("long", FixedDistance(distance=0.5)).update(**kwargs)


def test_bad_rules_are_refused_by_name() -> None:
    with pytest.raises(InvariantError, match="trail distance: expected a finite number > 0, was 0"):
        FixedDistance(distance=0)
    with pytest.raises(InvariantError, match="ATR multiple"):
        AtrMultiple(multiple=math.nan)


rules = st.one_of(
    st.builds(FixedDistance, distance=st.floats(min_value=0.01, max_value=3.0)),
    st.builds(AtrMultiple, multiple=st.floats(min_value=0.1, max_value=5.0)),
    st.builds(AlongLevel, offset=st.floats(min_value=0.0, max_value=1.0)),
)
steps = st.tuples(
    st.floats(min_value=-0.02, max_value=0.02),  # log return of the step
    st.floats(min_value=0.0, max_value=0.01),  # bar range around the close, as a fraction
    st.none() | st.floats(min_value=0.01, max_value=3.0),  # ATR
    st.none() | st.floats(min_value=-0.03, max_value=0.03),  # level, as a log offset from the price
)


@given(direction=st.sampled_from(["long", "short"]), rule=rules, path=st.lists(steps, min_size=1, max_size=60))
def test_an_update_never_loosens_the_stop(
    direction: Direction, rule: TrailRule, path: list[tuple[float, float, float | None, float | None]]
) -> None:
    s = 1 if direction == "long" else -1
    trail = start(direction, rule, entry=100.0, risk=0.5)
    price = 100.0
    for ret, spread, atr, level in path:
        price *= math.exp(ret)
        high, low = price * (1 + spread), price * (1 - spread)
        step = trail.update(
            price=price, high=high, low=low, atr=atr, level=None if level is None else price * math.exp(level)
        )
        assert s * (step.state.stop - trail.stop) >= 0
        assert step.triggered == (s * (price - step.state.stop) <= 0)
        assert s * (step.state.best - trail.best) >= 0
        trail = step.state
