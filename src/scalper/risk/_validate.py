"""Input checks shared by the risk modules: each failure names the input and what was expected."""

from __future__ import annotations

import math

from scalper.core.errors import InvariantError


def positive(name: str, value: float) -> float:
    """``value`` when it is a finite number > 0, else :class:`InvariantError` naming ``name``."""
    if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InvariantError(f"{name}: expected a finite number > 0, was {value!r}")
    return float(value)


def non_negative(name: str, value: float) -> float:
    """``value`` when it is a finite number ≥ 0, else :class:`InvariantError` naming ``name``."""
    if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise InvariantError(f"{name}: expected a finite number >= 0, was {value!r}")
    return float(value)


def finite(name: str, value: float) -> float:
    """``value`` when it is a finite number, else :class:`InvariantError` naming ``name``."""
    if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value)):
        raise InvariantError(f"{name}: expected a finite number, was {value!r}")
    return float(value)


def floor_shares(x: float) -> int:
    """⌊x⌋ for a non-negative share count, tolerant of binary floating point (0.3 / 0.1 → 3, not 2)."""
    return max(0, math.floor(x + 1e-9))
