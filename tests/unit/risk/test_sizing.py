"""Position sizing: each cap binds in turn, factors scale the budget, bad inputs are named."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.core.errors import ConfigError, InvariantError
from scalper.risk.sizing import expectancy_factor, size_position
from scalper.strategy.policy import LEVELS
from scalper.strategy.thresholds import Level, RegimeFactors, SizingThresholds, load_thresholds

P = SizingThresholds(
    risk_per_trade_pct=1.0,
    leverage_cap=4.0,
    vol_target_pct=2.0,
    expectancy_floor_factor=0.25,
    expectancy_full_r=0.10,
    regime_factor=RegimeFactors(off=0.0, reduced=0.5, normal=1.0, aggressive=1.5),
)
# equity 100,000 at price 500: budget 1,000 $, notional cap 800 shares, vol cap 2,000 $ / (500 σ).
BASE = {"equity": 100_000.0, "price": 500.0, "level": "normal", "expectancy_lower_r": 0.2, "thresholds": P}


@pytest.mark.parametrize(
    ("stop_distance", "daily_sigma", "shares", "bound_by"),
    [
        (2.00, 0.004, 500, "risk"),  # risk 500, notional 800, vol 1000
        (1.00, 0.004, 800, "notional"),  # risk 1000, notional 800, vol 1000
        (1.00, 0.010, 400, "volatility"),  # risk 1000, notional 800, vol 400
    ],
)
def test_each_cap_binds_in_turn(stop_distance: float, daily_sigma: float, shares: int, bound_by: str) -> None:
    size = size_position(**BASE, stop_distance=stop_distance, daily_sigma=daily_sigma)  # type: ignore[arg-type]
    assert (size.shares, size.bound_by) == (shares, bound_by)
    assert (size.risk_shares, size.notional_cap) == (round(1000 / stop_distance), 800)
    assert size.volatility_cap == round(2000 / (500 * daily_sigma))
    assert [r.code for r in size.reasons][-1] == "BOUND_BY"


@pytest.mark.parametrize(
    ("level", "stop_distance", "shares", "bound_by"),
    [
        ("off", 2.0, 0, "risk"),
        ("reduced", 2.0, 250, "risk"),  # 1000 × 0.5 / 2
        ("aggressive", 2.0, 750, "risk"),  # 1000 × 1.5 / 2
        ("aggressive", 1.5, 800, "notional"),  # 1500 / 1.5 = 1000 > the cap: the factor never lifts a cap
    ],
)
def test_the_regime_factor_scales_the_budget_not_the_caps(
    level: Level, stop_distance: float, shares: int, bound_by: str
) -> None:
    args = {**BASE, "level": level}
    size = size_position(**args, stop_distance=stop_distance, daily_sigma=0.004)  # type: ignore[arg-type]
    assert (size.shares, size.bound_by) == (shares, bound_by)


@pytest.mark.parametrize(
    ("lower_r", "factor"),
    [(None, 0.25), (-0.3, 0.25), (0.0, 0.25), (0.05, 0.625), (0.10, 1.0), (2.0, 1.0)],
)
def test_expectancy_factor_rises_from_the_floor_to_one(lower_r: float | None, factor: float) -> None:
    assert expectancy_factor(lower_r, P) == pytest.approx(factor)


def test_an_unproven_play_trades_the_probation_size() -> None:
    args = {**BASE, "expectancy_lower_r": -0.1}
    size = size_position(**args, stop_distance=2.0, daily_sigma=0.004)  # type: ignore[arg-type]
    assert size.shares == 125  # 1000 × 0.25 / 2
    no_probation = P.model_copy(update={"expectancy_floor_factor": 0.0})
    args["thresholds"] = no_probation
    assert size_position(**args, stop_distance=2.0, daily_sigma=0.004).shares == 0  # type: ignore[arg-type]


def test_floor_is_exact_on_binary_fractions() -> None:
    size = size_position(
        equity=30.0,
        price=0.1,
        stop_distance=0.1,
        daily_sigma=0.0001,
        level="normal",
        expectancy_lower_r=1.0,
        thresholds=P,
    )
    assert size.risk_shares == 3  # 0.3 / 0.1 is 2.9999999999999996 in binary


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stop_distance", 0.0, "stop distance: expected a finite number > 0, was 0.0"),
        ("stop_distance", -0.5, "stop distance: expected a finite number > 0, was -0.5"),
        ("stop_distance", math.nan, "stop distance: expected a finite number > 0, was nan"),
        ("price", math.nan, "price: expected a finite number > 0, was nan"),
        ("equity", math.inf, "equity: expected a finite number > 0, was inf"),
        ("daily_sigma", 0.0, "daily sigma: expected a finite number > 0"),
        ("expectancy_lower_r", math.nan, r"expectancy lower bound \(R\): expected a finite number"),
        ("level", "max", "policy level: expected one of"),
    ],
)
def test_bad_inputs_are_refused_by_name(field: str, value: object, message: str) -> None:
    args: dict[str, object] = {**BASE, "stop_distance": 1.0, "daily_sigma": 0.01, field: value}
    with pytest.raises(InvariantError, match=message):
        size_position(**args)  # type: ignore[arg-type]


finite_pos = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False)


@given(
    equity=st.floats(min_value=1e3, max_value=1e8),
    price=st.floats(min_value=1.0, max_value=5e3),
    stop=finite_pos,
    sigma=st.floats(min_value=1e-4, max_value=0.2),
    level=st.sampled_from(LEVELS),
    lower_r=st.none() | st.floats(min_value=-1.0, max_value=1.0),
)
def test_size_never_exceeds_any_cap(
    equity: float, price: float, stop: float, sigma: float, level: Level, lower_r: float | None
) -> None:
    size = size_position(
        equity=equity,
        price=price,
        stop_distance=stop,
        daily_sigma=sigma,
        level=level,
        expectancy_lower_r=lower_r,
        thresholds=P,
    )
    tol = 1 + 1e-9
    budget = equity * 0.01 * P.regime_factor.of(level) * expectancy_factor(lower_r, P)
    assert size.shares >= 0
    assert size.shares * stop <= budget * tol + 1e-9
    assert size.shares * price <= equity * P.leverage_cap * tol
    assert size.shares * price * sigma <= equity * P.vol_target_pct / 100 * tol
    assert size.shares == min(size.risk_shares, size.notional_cap, size.volatility_cap)


@given(
    stops=st.tuples(finite_pos, finite_pos).map(sorted),
    sigma=st.floats(min_value=1e-4, max_value=0.2),
    level=st.sampled_from(LEVELS),
)
def test_size_is_non_increasing_in_stop_distance(stops: list[float], sigma: float, level: Level) -> None:
    near, far = (
        size_position(**{**BASE, "level": level}, stop_distance=s, daily_sigma=sigma).shares  # type: ignore[arg-type]
        for s in stops
    )
    assert near >= far


def test_packaged_risk_thresholds_load() -> None:
    risk = load_thresholds().risk
    assert risk.sizing.regime_factor.of("off") == 0.0
    assert risk.brackets.tick == 0.01
    assert risk.limits.max_orders_per_minute >= 1


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("off = 0.0", "off = 0.5", r"risk.sizing.regime_factor.off: value 0.5 is invalid"),
        ("reduced = 0.5", "reduced = 1.0\nextra = 1", r"risk.sizing.regime_factor.extra: unknown key"),
        ("aggressive = 1.5", "aggressive = 0.9", r"risk.sizing.regime_factor: .*off <= reduced <= normal"),
        ("leverage_cap = 2.0", "leverage_cap = -1", r"risk.sizing.leverage_cap: value -1 is invalid"),
        ("max_orders_per_minute = 30", "max_orders_per_minute = 0", r"risk.limits.max_orders_per_minute"),
        ("[risk.brackets]", "[risk.bracket]", r"risk.bracket: unknown key"),
    ],
)
def test_bad_risk_thresholds_name_the_key(tmp_path: Path, replace: str, by: str, message: str) -> None:
    text = resources.files("scalper.strategy").joinpath("thresholds.toml").read_text(encoding="utf-8")
    assert replace in text
    path = tmp_path / "thresholds.toml"
    path.write_text(text.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_thresholds(path)
