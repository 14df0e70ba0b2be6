"""Trailing stops that only ever move in the trade's favour.

A :class:`TrailingStop` starts from a :class:`~scalper.risk.brackets.BracketPlan` and is updated
with each new price (optionally the bar's high and low, the ATR, and a level such as the VWAP or a
band). Each update proposes candidates and keeps the tightest of them and the current stop:

* the rule's candidate: :class:`FixedDistance` (best price − distance), :class:`AtrMultiple`
  (best price − multiple × ATR) or :class:`AlongLevel` (level − offset), mirrored for shorts.
  The ATR and level rules propose nothing on an update without an ATR / level;
* the breakeven step: once the best price is ``breakeven_after_r`` × the initial risk (R) in the
  trade's favour, the stop goes to at least entry + ``breakeven_offset`` (sticky).

Conventions: prices in the traded instrument's dollars; the best price is the highest high (long) or
lowest low (short) since the start; candidates are rounded to the tick *away* from the price (never
tighter than the rule asked). The stop never loosens: long stops never go down, short stops never up.
A stop at or through the current price is kept and reported as ``triggered`` (exit now): that is
how "trail along VWAP" exits when price crosses the VWAP.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scalper.core.errors import InvariantError
from scalper.risk._validate import non_negative, positive
from scalper.risk.brackets import BracketPlan, Direction, round_to_tick, sign
from scalper.strategy.thresholds import TrailingThresholds


@dataclass(frozen=True, kw_only=True, slots=True)
class FixedDistance:
    """Trail ``distance`` dollars behind the best price."""

    distance: float

    def __post_init__(self) -> None:
        positive("trail distance", self.distance)

    def candidate(self, s: int, best: float, atr: float | None, level: float | None) -> float | None:
        return best - s * self.distance


@dataclass(frozen=True, kw_only=True, slots=True)
class AtrMultiple:
    """Trail ``multiple`` × ATR behind the best price (ATR supplied on each update, in dollars)."""

    multiple: float

    def __post_init__(self) -> None:
        positive("ATR multiple", self.multiple)

    def candidate(self, s: int, best: float, atr: float | None, level: float | None) -> float | None:
        return None if atr is None else best - s * self.multiple * atr


@dataclass(frozen=True, kw_only=True, slots=True)
class AlongLevel:
    """Trail ``offset`` dollars beyond a level supplied on each update (the VWAP, a σ band)."""

    offset: float = 0.0

    def __post_init__(self) -> None:
        non_negative("level offset", self.offset)

    def candidate(self, s: int, best: float, atr: float | None, level: float | None) -> float | None:
        return None if level is None else level - s * self.offset


TrailRule = FixedDistance | AtrMultiple | AlongLevel


@dataclass(frozen=True, kw_only=True, slots=True)
class TrailingStop:
    """The state of one trade's trailing stop (immutable; :meth:`update` returns the next state)."""

    direction: Direction
    entry: float
    initial_stop: float
    stop: float
    best: float
    tick: float
    rule: TrailRule
    breakeven_after_r: float
    breakeven_offset: float
    at_breakeven: bool = False

    @classmethod
    def start(cls, plan: BracketPlan, rule: TrailRule, thresholds: TrailingThresholds) -> TrailingStop:
        """The trailing stop of a new trade: the plan's stop, best price = entry."""
        return cls(
            direction=plan.direction,
            entry=plan.entry,
            initial_stop=plan.stop,
            stop=plan.stop,
            best=plan.entry,
            tick=plan.tick,
            rule=rule,
            breakeven_after_r=thresholds.breakeven_after_r,
            breakeven_offset=thresholds.breakeven_offset,
        )

    @property
    def initial_risk(self) -> float:
        """R: the distance from the entry to the initial stop."""
        return abs(self.entry - self.initial_stop)

    def update(
        self,
        *,
        price: float,
        high: float | None = None,
        low: float | None = None,
        atr: float | None = None,
        level: float | None = None,
    ) -> TrailStep:
        """The next state after ``price`` (and the bar's ``high``/``low`` when given)."""
        s = sign(self.direction)
        price, high, low = _bar(price, high, low)
        if atr is not None:
            positive("ATR", atr)
        if level is not None:
            positive("level", level)
        best = max(self.best, high) if s > 0 else min(self.best, low)
        stop, code, at_breakeven = self.stop, "", self.at_breakeven
        if s * (best - self.entry) >= self.breakeven_after_r * self.initial_risk * (1 - 1e-9):
            at_breakeven = True
            stop, code = self._tighter(stop, code, self.entry + s * self.breakeven_offset, "BREAKEVEN")
        proposed = self.rule.candidate(s, best, atr, level)
        if proposed is not None:
            stop, code = self._tighter(stop, code, proposed, "TRAIL")
        state = replace(self, stop=stop, best=best, at_breakeven=at_breakeven)
        return TrailStep(state=state, moved=code or None, triggered=s * (price - stop) <= 0)

    def _tighter(self, stop: float, code: str, candidate: float, name: str) -> tuple[float, str]:
        s = sign(self.direction)
        if candidate <= 0:
            return stop, code
        rounded = round_to_tick(candidate, self.tick, "down" if s > 0 else "up")
        if s * (rounded - stop) > 0:
            return rounded, name
        return stop, code


@dataclass(frozen=True, kw_only=True, slots=True)
class TrailStep:
    """One update's result: the new state, which candidate moved the stop (``BREAKEVEN``,
    ``TRAIL`` or ``None``), and whether the stop is at or through the price (exit now)."""

    state: TrailingStop
    moved: str | None
    triggered: bool


def _bar(price: float, high: float | None, low: float | None) -> tuple[float, float, float]:
    price = positive("price", price)
    high = price if high is None else positive("high", high)
    low = price if low is None else positive("low", low)
    if not low <= price <= high:
        raise InvariantError(f"bar: expected low <= price <= high, was low {low}, price {price}, high {high}")
    return price, high, low
