"""Bracket plans: both sides, tick rounding in the conservative direction, validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scalper.core.errors import InvariantError
from scalper.risk.brackets import BracketPlan, Direction, plan_bracket, round_to_tick


@pytest.mark.parametrize(
    ("direction", "entry", "distance", "rr", "expected"),
    [
        # stop 500.12 − 0.333 = 499.787 → down to 499.78 (risk 0.34); target 500.12 + 0.68
        ("long", 500.123, 0.333, 2.0, (500.12, 499.78, 500.80)),
        # stop 500.13 + 0.333 = 500.463 → up to 500.47 (risk 0.34); target 500.13 − 0.68
        ("short", 500.127, 0.333, 2.0, (500.13, 500.47, 499.45)),
        # target 400.00 + 1.5 × 0.25 = 400.375 → toward the entry: 400.37
        ("long", 400.0, 0.25, 1.5, (400.00, 399.75, 400.37)),
        # target 400.00 − 0.375 = 399.625 → toward the entry: 399.63
        ("short", 400.0, 0.25, 1.5, (400.00, 400.25, 399.63)),
    ],
)
def test_reward_risk_brackets_round_stop_away_and_target_toward_the_entry(
    direction: Direction, entry: float, distance: float, rr: float, expected: tuple[float, float, float]
) -> None:
    plan = plan_bracket(direction=direction, entry=entry, stop_distance=distance, reward_risk=rr)
    assert (plan.entry, plan.stop, plan.target) == expected
    assert plan.risk_per_share >= distance
    assert plan.reward_risk <= rr + 1e-9


@pytest.mark.parametrize(
    ("direction", "target", "expected"),
    [("long", 101.237, 101.23), ("short", 98.763, 98.77)],
)
def test_explicit_target_is_rounded_toward_the_entry(direction: Direction, target: float, expected: float) -> None:
    plan = plan_bracket(direction=direction, entry=100.0, stop_distance=0.5, target=target)
    assert plan.target == expected


def test_prices_on_the_grid_stay_put() -> None:
    plan = plan_bracket(direction="long", entry=100.07, stop_distance=0.07, target=100.21)
    assert (plan.entry, plan.stop, plan.target) == (100.07, 100.00, 100.21)


def test_r_multiple_measures_open_profit_in_initial_risk() -> None:
    plan = plan_bracket(direction="short", entry=50.0, stop_distance=0.2, reward_risk=2.0)
    assert plan.r_multiple(49.8) == pytest.approx(1.0)
    assert plan.r_multiple(50.1) == pytest.approx(-0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "long", "target": 99.0}, "target: expected above the entry 100.0 for a long, was 99.0"),
        ({"direction": "short", "target": 100.5}, "target: expected below the entry 100.0 for a short, was 100.5"),
        ({"direction": "long", "reward_risk": 0.001}, "rounds onto the entry"),
        ({"direction": "long", "reward_risk": 2.0, "target": 101.0}, "exactly one of reward_risk or target"),
        ({"direction": "long"}, "exactly one of reward_risk or target"),
        ({"direction": "up", "reward_risk": 2.0}, "direction: expected 'long' or 'short', was 'up'"),
        (
            {"direction": "long", "reward_risk": 2.0, "stop_distance": 0.0},
            "stop distance: expected a finite number > 0",
        ),
        ({"direction": "long", "reward_risk": 2.0, "entry": math.nan}, "entry: expected a finite number > 0, was nan"),
        ({"direction": "long", "reward_risk": 2.0, "stop_distance": 100.0}, "stop: expected above 0"),
        ({"direction": "long", "reward_risk": -1.0}, "reward_risk: expected a finite number > 0"),
        ({"direction": "short", "reward_risk": 250.0}, "target: expected above 0"),
    ],
)
def test_bad_brackets_are_refused_by_name(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"entry": 100.0, "stop_distance": 0.5, **kwargs}
    with pytest.raises(InvariantError, match=message):
        plan_bracket(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("direction", "stop", "target", "message"),
    [
        ("long", 100.5, 101.0, "stop: expected below the entry 100.0 for a long, was 100.5"),
        ("short", 99.5, 99.0, "stop: expected above the entry 100.0 for a short, was 99.5"),
        ("long", 99.5, 100.0, "target: expected above the entry"),
        ("long", 99.505, 101.0, "stop: expected a multiple of tick 0.01, was 99.505"),
    ],
)
def test_a_plan_checks_its_sides(direction: Direction, stop: float, target: float, message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        BracketPlan(direction=direction, entry=100.0, stop=stop, target=target, tick=0.01)


@pytest.mark.parametrize(("mode", "expected"), [("down", 12.34), ("up", 12.35), ("nearest", 12.35)])
def test_round_to_tick_modes(mode: str, expected: float) -> None:
    assert round_to_tick(12.3462, 0.01, mode) == expected  # type: ignore[arg-type]


@given(
    direction=st.sampled_from(["long", "short"]),
    entry=st.floats(min_value=10.0, max_value=2000.0),
    distance=st.floats(min_value=0.001, max_value=5.0),
    rr=st.floats(min_value=1.0, max_value=5.0),  # below 1, a one-tick risk can round the target onto the entry
)
def test_rounding_is_conservative_on_every_bracket(
    direction: Direction, entry: float, distance: float, rr: float
) -> None:
    assume(direction == "long" or entry > rr * (distance + 0.02))  # a short's target stays above 0
    plan = plan_bracket(direction=direction, entry=entry, stop_distance=distance, reward_risk=rr)
    s = 1 if direction == "long" else -1
    assert abs(plan.entry - entry) <= 0.005 + 1e-9
    assert distance - 1e-9 <= plan.risk_per_share < distance + 0.01 + 1e-9  # never tighter, < 1 tick wider
    wanted = rr * plan.risk_per_share
    assert wanted - 0.01 - 1e-9 < plan.reward_per_share <= wanted + 1e-9  # never farther, < 1 tick closer
    assert s * (plan.entry - plan.stop) > 0 and s * (plan.target - plan.entry) > 0
    for price in (plan.entry, plan.stop, plan.target):
        assert abs(price * 100 - round(price * 100)) < 1e-6
