"""Input checks shared by the feature kernels: fail fast, name the value ("expected X, was Y")."""

from __future__ import annotations

import math

from scalper.core.errors import ConfigError, InvariantError


def require_price(name: str, value: float) -> None:
    """Raise :class:`InvariantError` unless ``value`` is a finite positive price."""
    if not (math.isfinite(value) and value > 0.0):
        raise InvariantError(f"{name}: expected a finite positive price, was {value!r}")


def require_weight(name: str, value: float) -> None:
    """Raise :class:`InvariantError` unless ``value`` is a finite weight >= 0."""
    if not (math.isfinite(value) and value >= 0.0):
        raise InvariantError(f"{name}: expected a finite number >= 0, was {value!r}")


def require_finite(name: str, value: float) -> None:
    """Raise :class:`InvariantError` unless ``value`` is finite."""
    if not math.isfinite(value):
        raise InvariantError(f"{name}: expected a finite number, was {value!r}")


def require_period(name: str, value: int) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer period >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected an integer >= 1, was {value!r}")
