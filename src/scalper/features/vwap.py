"""Volume-weighted average price with a volume-weighted σ and the ±1/2/3σ bands.

Formulas (DOMAIN.md, "VWAP and σ bands"): for each observation ``x`` with weight ``w`` > 0, the
weighted West/Welford update::

    W += w;  δ = x − μ;  μ += (w / W)·δ;  S += w·δ·(x − μ)

VWAP = μ, variance σ² = S / W (the population variance of price under the volume weights, not a
sample variance), bands = VWAP ± k·σ. Zero-weight observations change nothing and are skipped, so
an accumulator that has seen no volume is *not ready*: its values are ``nan``.
The naive Σwx²/Σw − μ² is not used: it loses about six digits at SPX price levels.

The price to feed for a bar is the bar's own VWAP when the feed gives one, else (H+L+C)/3
(:func:`bar_price`). For a series without volume (the indices), a weight of 1.0 per bar gives the
equal-weight TWAP fallback — a choice the caller makes explicitly.

State (:data:`VWAP_SIZE` slots): W, μ, S. An anchored VWAP is the same accumulator reset at its
anchor bar (:class:`AnchoredVwap`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.core.events import MinuteAgg, SecondAgg
from scalper.features._checks import require_price, require_weight
from scalper.features._jit import kernel

_NAN = math.nan
VWAP_SIZE = 3


def bar_price(bar: SecondAgg | MinuteAgg) -> float:
    """The price a bar contributes to a VWAP: its own VWAP when present, else (H+L+C)/3."""
    if bar.vwap is not None:
        return bar.vwap
    return (bar.high + bar.low + bar.close) / 3.0


@kernel
def vwap_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything: the next positive-weight update starts a new VWAP."""
    st[o] = 0.0
    st[o + 1] = 0.0
    st[o + 2] = 0.0


@kernel
def vwap_add(st: NDArray[np.float64], o: int, price: float, weight: float) -> None:
    """Add one observation to the accumulator at ``o`` (a zero weight changes nothing)."""
    if weight > 0.0:
        total = st[o] + weight
        st[o] = total
        delta = price - st[o + 1]
        mean = st[o + 1] + (weight / total) * delta
        st[o + 1] = mean
        st[o + 2] += weight * delta * (price - mean)


@kernel
def vwap_copy(st: NDArray[np.float64], src: int, dst: int) -> None:
    """Make the accumulator at ``dst`` a copy of the one at ``src``."""
    st[dst] = st[src]
    st[dst + 1] = st[src + 1]
    st[dst + 2] = st[src + 2]


@kernel
def vwap_mean(st: NDArray[np.float64], o: int) -> float:
    """μ, or ``nan`` before any weight."""
    return st[o + 1] if st[o] > 0.0 else _NAN


@kernel
def vwap_std(st: NDArray[np.float64], o: int) -> float:
    """σ = sqrt(S / W), or ``nan`` before any weight."""
    return math.sqrt(st[o + 2] / st[o]) if st[o] > 0.0 else _NAN


class Vwap:
    """Running volume-weighted mean and variance of price (a checked wrapper of :func:`vwap_add`)."""

    __slots__ = ("_st",)

    def __init__(self) -> None:
        self._st = np.zeros(VWAP_SIZE)

    def reset(self) -> None:
        """Forget everything: the next positive-volume update starts a new VWAP."""
        vwap_reset(self._st, 0)

    def update(self, price: float, volume: float) -> None:
        """Add one observation; ``price`` finite and > 0, ``volume`` finite and >= 0."""
        if not (price > 0.0 and volume >= 0.0 and price < math.inf and volume < math.inf):
            require_price("vwap price", price)
            require_weight("vwap volume", volume)
        vwap_add(self._st, 0, price, volume)

    @property
    def ready(self) -> bool:
        """True once some volume has been seen."""
        return bool(self._st[0] > 0.0)

    @property
    def total_volume(self) -> float:
        """Σw since the last reset."""
        return float(self._st[0])

    @property
    def value(self) -> float:
        """The VWAP μ, or ``nan`` when not ready."""
        return float(vwap_mean(self._st, 0))

    @property
    def variance(self) -> float:
        """σ² = S / W (volume-weighted population variance), or ``nan`` when not ready."""
        return float(self._st[2] / self._st[0]) if self._st[0] > 0.0 else _NAN

    @property
    def std(self) -> float:
        """σ, or ``nan`` when not ready."""
        return float(vwap_std(self._st, 0))

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
