"""Volume-weighted average price with a volume-weighted σ and the ±1/2/3σ bands.

Formulas (DOMAIN.md, "VWAP and σ bands"): for each observation ``x`` with weight ``w`` > 0, the
weighted West/Welford update::

    W += w;  δ = x − μ;  μ += (w / W)·δ;  S += w·δ·(x − μ)

VWAP = μ, variance σ² = S / W (the population variance of price under the volume weights, not a
sample variance), bands = VWAP ± k·σ. Zero-weight observations change nothing and are skipped, so
a kernel that has seen no volume is *not ready*: its values are ``nan`` and ``ready`` is False.
The naive Σwx²/Σw − μ² is not used: it loses about six digits at SPX price levels.

The price to feed for a bar is the bar's own VWAP when the feed gives one, else (H+L+C)/3
(:func:`bar_price`). For a series without volume (the indices), a weight of 1.0 per bar gives the
equal-weight TWAP fallback — a choice the caller makes explicitly.

:class:`AnchoredVwap` is the same kernel started at an anchor time (session open, prior-day
high/low, a confirmed pivot); it ignores everything before the anchor.
"""

from __future__ import annotations

import math

from scalper.core.events import MinuteAgg, SecondAgg
from scalper.features._checks import require_price, require_weight

_NAN = math.nan


def bar_price(bar: SecondAgg | MinuteAgg) -> float:
    """The price a bar contributes to a VWAP: its own VWAP when present, else (H+L+C)/3."""
    if bar.vwap is not None:
        return bar.vwap
    return (bar.high + bar.low + bar.close) / 3.0


class Vwap:
    """Running volume-weighted mean and variance of price (weighted West/Welford update)."""

    __slots__ = ("_mean", "_s", "_w")

    def __init__(self) -> None:
        self._w = 0.0
        self._mean = 0.0
        self._s = 0.0

    def reset(self) -> None:
        """Forget everything: the next positive-volume update starts a new VWAP."""
        self._w = 0.0
        self._mean = 0.0
        self._s = 0.0

    def update(self, price: float, volume: float) -> None:
        """Add one observation; ``price`` finite and > 0, ``volume`` finite and >= 0."""
        if not (price > 0.0 and volume >= 0.0 and price < math.inf and volume < math.inf):
            require_price("vwap price", price)
            require_weight("vwap volume", volume)
        if volume == 0.0:
            return
        self._w += volume
        delta = price - self._mean
        self._mean += (volume / self._w) * delta
        self._s += volume * delta * (price - self._mean)

    @property
    def ready(self) -> bool:
        """True once some volume has been seen."""
        return self._w > 0.0

    @property
    def total_volume(self) -> float:
        """Σw since the last reset."""
        return self._w

    @property
    def value(self) -> float:
        """The VWAP μ, or ``nan`` when not ready."""
        return self._mean if self._w > 0.0 else _NAN

    @property
    def variance(self) -> float:
        """σ² = S / W (volume-weighted population variance), or ``nan`` when not ready."""
        return self._s / self._w if self._w > 0.0 else _NAN

    @property
    def std(self) -> float:
        """σ, or ``nan`` when not ready."""
        return math.sqrt(self._s / self._w) if self._w > 0.0 else _NAN

    def band(self, k: float) -> tuple[float, float]:
        """(VWAP − k·σ, VWAP + k·σ); both ``nan`` when not ready."""
        mu, sigma = self.value, self.std
        return mu - k * sigma, mu + k * sigma


class AnchoredVwap:
    """A :class:`Vwap` that accumulates only events at or after ``anchor_ns`` (UTC nanoseconds).

    Events before the anchor are ignored, so the value is exactly the VWAP of the bars from the
    anchor bar on. :meth:`reanchor` starts over at a new anchor (e.g. the next session open).
    """

    __slots__ = ("_anchor_ns", "vwap")

    def __init__(self, anchor_ns: int) -> None:
        self._anchor_ns = anchor_ns
        self.vwap = Vwap()

    @property
    def anchor_ns(self) -> int:
        """The anchor time in UTC nanoseconds."""
        return self._anchor_ns

    def reanchor(self, anchor_ns: int) -> None:
        """Reset the accumulators and start again at ``anchor_ns``."""
        self._anchor_ns = anchor_ns
        self.vwap.reset()

    def update(self, ts_ns: int, price: float, volume: float) -> None:
        """Add an observation stamped ``ts_ns``; ignored when before the anchor."""
        if ts_ns >= self._anchor_ns:
            self.vwap.update(price, volume)

    def update_bar(self, bar: SecondAgg | MinuteAgg) -> None:
        """Add a bar at its ``ts_event`` with :func:`bar_price`; a bar without volume adds nothing."""
        if bar.volume is not None:
            self.update(bar.ts_event, bar_price(bar), bar.volume)
