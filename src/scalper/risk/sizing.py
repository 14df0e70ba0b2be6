"""Position size from risk: shares for one entry, with every cap's value and the one that bound.

Conventions: prices and the stop distance are in the *traded instrument's* dollars per share (a
stop set on the index is mapped to the proxy through the live index/proxy ratio by the caller);
``daily_sigma`` is the standard deviation of the instrument's daily return as a fraction (0.012 =
1.2 %); equity is the account equity in dollars. The rule, with ``[risk.sizing]`` thresholds::

    budget   = equity × risk_per_trade_pct / 100 × regime factor × expectancy factor
    risk     = ⌊budget / stop_distance⌋
    notional = ⌊equity × leverage_cap / price⌋
    vol      = ⌊equity × vol_target_pct / 100 / (price × daily_sigma)⌋
    shares   = min(risk, notional, vol)

The regime and expectancy factors scale the risk budget; the notional and volatility caps are
hard limits applied last, so a factor above 1 (``aggressive``) never lifts a size over a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scalper.core.errors import InvariantError
from scalper.risk._validate import finite, floor_shares, positive
from scalper.strategy.policy import LEVELS, Reason
from scalper.strategy.thresholds import Level, SizingThresholds

Bound = Literal["risk", "notional", "volatility"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Size:
    """The size of one entry and how it was reached.

    ``risk_shares``, ``notional_cap`` and ``volatility_cap`` are the three candidates;
    ``shares`` is their minimum and ``bound_by`` the first of (risk, notional, volatility) equal to
    it. ``risk_budget`` is in dollars, after the regime and expectancy factors. ``reasons`` explains
    each factor and cap (codes: RISK_BUDGET, REGIME_FACTOR, EXPECTANCY_FACTOR, NOTIONAL_CAP,
    VOLATILITY_CAP, BOUND_BY).
    """

    shares: int
    bound_by: Bound
    risk_budget: float
    regime_factor: float
    expectancy_factor: float
    risk_shares: int
    notional_cap: int
    volatility_cap: int
    reasons: tuple[Reason, ...]


def expectancy_factor(lower_r: float | None, p: SizingThresholds) -> float:
    """Size factor from the lower bound of the play's expectancy CI, in R per trade.

    ``None`` (not measured yet) or ≤ 0 → ``expectancy_floor_factor``; above 0 it rises linearly to 1
    at ``expectancy_full_r`` and stays there.
    """
    if lower_r is None:
        return p.expectancy_floor_factor
    lower = finite("expectancy lower bound (R)", lower_r)
    if lower <= 0:
        return p.expectancy_floor_factor
    share = min(1.0, lower / p.expectancy_full_r)
    return p.expectancy_floor_factor + (1.0 - p.expectancy_floor_factor) * share


def size_position(
    *,
    equity: float,
    price: float,
    stop_distance: float,
    daily_sigma: float,
    level: Level,
    expectancy_lower_r: float | None,
    thresholds: SizingThresholds,
) -> Size:
    """Shares to buy or sell short for one entry (always ≥ 0; 0 means do not enter).

    Raises :class:`~scalper.core.errors.InvariantError` naming the input when equity, price, stop
    distance or sigma is not a finite number > 0, or the expectancy bound is not finite.
    """
    equity = positive("equity", equity)
    price = positive("price", price)
    stop_distance = positive("stop distance", stop_distance)
    daily_sigma = positive("daily sigma", daily_sigma)
    if level not in LEVELS:
        raise InvariantError(f"policy level: expected one of {LEVELS}, was {level!r}")
    p = thresholds
    regime = p.regime_factor.of(level)
    expectancy = expectancy_factor(expectancy_lower_r, p)
    base_budget = equity * p.risk_per_trade_pct / 100.0
    budget = base_budget * regime * expectancy
    candidates: dict[Bound, int] = {
        "risk": floor_shares(budget / stop_distance),
        "notional": floor_shares(equity * p.leverage_cap / price),
        "volatility": floor_shares(equity * p.vol_target_pct / 100.0 / (price * daily_sigma)),
    }
    shares = min(candidates.values())
    bound = next(name for name, value in candidates.items() if value == shares)
    reasons = _reasons(p, equity, price, stop_distance, daily_sigma, level, expectancy_lower_r, candidates)
    return Size(
        shares=shares,
        bound_by=bound,
        risk_budget=budget,
        regime_factor=regime,
        expectancy_factor=expectancy,
        risk_shares=candidates["risk"],
        notional_cap=candidates["notional"],
        volatility_cap=candidates["volatility"],
        reasons=reasons,
    )


def _reasons(
    p: SizingThresholds,
    equity: float,
    price: float,
    stop_distance: float,
    daily_sigma: float,
    level: Level,
    expectancy_lower_r: float | None,
    candidates: dict[Bound, int],
) -> tuple[Reason, ...]:
    shares = min(candidates.values())
    bound = next(name for name, value in candidates.items() if value == shares)
    expectancy = expectancy_factor(expectancy_lower_r, p)
    return (
        Reason(
            code="RISK_BUDGET",
            text=f"{p.risk_per_trade_pct:g}% of equity {equity:,.2f} = {equity * p.risk_per_trade_pct / 100:,.2f}",
            effect=f"{candidates['risk']} shares at stop distance {stop_distance:.4f} after the factors",
        ),
        Reason(code="REGIME_FACTOR", text=f"policy level {level}", effect=f"x{p.regime_factor.of(level):g}"),
        Reason(code="EXPECTANCY_FACTOR", text=_expectancy_text(expectancy_lower_r), effect=f"x{expectancy:.3g}"),
        Reason(
            code="NOTIONAL_CAP",
            text=f"equity x leverage cap {p.leverage_cap:g} / price {price:.2f}",
            effect=f"cap {candidates['notional']}",
        ),
        Reason(
            code="VOLATILITY_CAP",
            text=f"daily $ volatility <= {p.vol_target_pct:g}% of equity at daily sigma {daily_sigma:.4g}",
            effect=f"cap {candidates['volatility']}",
        ),
        Reason(code="BOUND_BY", text=f"{bound} sets the size", effect=f"{shares} shares"),
    )


def _expectancy_text(lower_r: float | None) -> str:
    if lower_r is None:
        return "expectancy not measured yet: floor factor"
    return f"expectancy CI lower bound {lower_r:+.3f} R"
