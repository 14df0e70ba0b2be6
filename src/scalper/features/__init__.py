"""Incremental feature kernels: O(1) per update, flat state, explicit warm-up, no I/O.

Each kernel takes one observation per ``update`` and exposes read-only values that are ``nan``
(with ``ready`` False) until enough data has been seen. The same kernel serves live trading and
replay. Bad input (nan, infinite, non-positive prices, negative volume) raises
:class:`scalper.core.errors.InvariantError` naming the value.
"""

from scalper.features.adx import Adx
from scalper.features.atr import Atr, Wilder
from scalper.features.efficiency import EfficiencyRatio
from scalper.features.ema import Ema, EmaSlope, normalised_slope
from scalper.features.vwap import AnchoredVwap, Vwap, bar_price

__all__ = [
    "Adx",
    "AnchoredVwap",
    "Atr",
    "EfficiencyRatio",
    "Ema",
    "EmaSlope",
    "Vwap",
    "Wilder",
    "bar_price",
    "normalised_slope",
]
