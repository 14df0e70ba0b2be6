"""Bracket plans: entry, stop and target as one unit, on the instrument's tick grid.

Conventions: prices in the traded instrument's dollars per share (SPY/QQQ: tick $0.01).
Rounding is conservative and stated once here:

* the entry reference is rounded to the nearest tick (the order type decides how it fills);
* the stop is rounded *away* from the entry: a stop is never tighter than asked, so the plan's
  risk per share is at least the requested stop distance (size from ``plan.risk_per_share``);
* the target is rounded *toward* the entry: the plan never promises more reward than asked. A
  reward:risk target is computed from the rounded stop distance.

A plan is valid when the stop is on the losing side (long: below the entry; short: above) and the
target on the winning side, at least one tick away each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from scalper.core.errors import InvariantError
from scalper.risk._validate import positive

Direction = Literal["long", "short"]
Rounding = Literal["down", "up", "nearest"]
#: Price increment of the traded proxies (Reg NMS: $0.01 above $1.00).
TICKS: dict[str, float] = {"SPY": 0.01, "QQQ": 0.01}


def sign(direction: Direction) -> int:
    """+1 for long, −1 for short; anything else is refused."""
    if direction == "long":
        return 1
    if direction == "short":
        return -1
    raise InvariantError(f"direction: expected 'long' or 'short', was {direction!r}")


def round_to_tick(price: float, tick: float, mode: Rounding) -> float:
    """``price`` on the grid of ``tick`` (down, up or nearest), exact to the tick's decimals.

    Prices within 1e-9 tick of a grid point count as on it (so 100.07 stays 100.07 either way).
    """
    price = positive("price", price)
    tick = positive("tick", tick)
    n = price / tick
    steps = math.floor(n + 1e-9) if mode == "down" else math.ceil(n - 1e-9) if mode == "up" else round(n)
    return round(steps * tick, _decimals(tick))


def on_grid(price: float, tick: float) -> bool:
    """Whether ``price`` is a multiple of ``tick`` (within 1e-6 tick)."""
    n = price / tick
    return abs(n - round(n)) < 1e-6


def _decimals(tick: float) -> int:
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


@dataclass(frozen=True, kw_only=True, slots=True)
class BracketPlan:
    """Entry, stop and target of one trade (dollars per share, on the ``tick`` grid)."""

    direction: Direction
    entry: float
    stop: float
    target: float
    tick: float

    def __post_init__(self) -> None:
        s = sign(self.direction)
        for name in ("entry", "stop", "target", "tick"):
            positive(name, getattr(self, name))
        for name in ("entry", "stop", "target"):
            if not on_grid(getattr(self, name), self.tick):
                raise InvariantError(f"{name}: expected a multiple of tick {self.tick}, was {getattr(self, name)}")
        if s * (self.entry - self.stop) < self.tick * (1 - 1e-6):
            side = "below" if s > 0 else "above"
            raise InvariantError(
                f"stop: expected {side} the entry {self.entry} for a {self.direction}, was {self.stop}"
            )
        if s * (self.target - self.entry) < self.tick * (1 - 1e-6):
            side = "above" if s > 0 else "below"
            raise InvariantError(
                f"target: expected {side} the entry {self.entry} for a {self.direction}, was {self.target}"
            )

    @property
    def risk_per_share(self) -> float:
        """|entry − stop|: the distance to size from."""
        return round(abs(self.entry - self.stop), _decimals(self.tick))

    @property
    def reward_per_share(self) -> float:
        return round(abs(self.target - self.entry), _decimals(self.tick))

    @property
    def reward_risk(self) -> float:
        return self.reward_per_share / self.risk_per_share

    def r_multiple(self, price: float) -> float:
        """Open profit at ``price`` in units of the initial risk (R)."""
        return sign(self.direction) * (price - self.entry) / self.risk_per_share


def plan_bracket(
    *,
    direction: Direction,
    entry: float,
    stop_distance: float,
    reward_risk: float | None = None,
    target: float | None = None,
    tick: float = 0.01,
) -> BracketPlan:
    """A bracket around ``entry``: a stop ``stop_distance`` away on the losing side and a target
    either ``reward_risk`` × the stop distance away or at ``target`` (exactly one of the two).

    Raises :class:`~scalper.core.errors.InvariantError` naming the input for a non-finite or
    non-positive price, distance or multiple, a stop at or below zero, and a target on the losing
    side or rounding onto the entry.
    """
    s = sign(direction)
    positive("entry", entry)
    stop_distance = positive("stop distance", stop_distance)
    if (reward_risk is None) == (target is None):
        raise InvariantError(
            f"bracket: expected exactly one of reward_risk or target, was {reward_risk=!r}, {target=!r}"
        )
    ref = round_to_tick(entry, tick, "nearest")
    raw_stop = ref - s * stop_distance
    if raw_stop <= 0:
        raise InvariantError(f"stop: expected above 0, was {raw_stop} (entry {ref} - stop distance {stop_distance})")
    stop = round_to_tick(raw_stop, tick, "down" if s > 0 else "up")
    if reward_risk is not None:
        raw_target = ref + s * positive("reward_risk", reward_risk) * abs(ref - stop)
    else:
        raw_target = positive("target", target) if target is not None else math.nan
        if s * (raw_target - ref) <= 0:
            side = "above" if s > 0 else "below"
            raise InvariantError(f"target: expected {side} the entry {ref} for a {direction}, was {target}")
    if raw_target <= 0:
        raise InvariantError(f"target: expected above 0, was {raw_target} ({reward_risk} x the risk below {ref})")
    rounded = round_to_tick(raw_target, tick, "down" if s > 0 else "up")
    if rounded == ref:
        raise InvariantError(
            f"target: {raw_target} rounds onto the entry {ref} at tick {tick}; expected >= 1 tick away"
        )
    return BracketPlan(direction=direction, entry=ref, stop=stop, target=rounded, tick=tick)
