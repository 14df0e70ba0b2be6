"""Balanced break (``SPX_BALANCED_BREAK``, ``NDX_BALANCED_BREAK``): release of a compression on a balanced morning.

The session policy already encodes the morning score (balanced plays go up on a balanced
morning, down on a trend-leaning one). The play reads the index snapshot (``close``, ``squeeze``,
``atr_ratio``) and the proxy snapshot (``rel_volume``, ``cum_delta``, ``delta_method``: an index
has no volume and no delta).

Compression and its range:

* a snapshot is *compressed* when ``squeeze`` = 1 (Bollinger(20, 2) inside Keltner(20, 1.5·ATR))
  and ``atr_ratio`` (ATR(5)/ATR(20)) < ``atr_ratio_max``;
* the range is the highest and lowest index ``close`` over the compressed snapshots (starting at
  the first one); a compressed snapshot that does not trigger an entry extends it;
* the range is *tradable* once compression has lasted ``min_compression_s`` seconds (first to last
  compressed snapshot), while compression lasts and for ``release_window_s`` seconds after the
  last compressed snapshot; after that the range is dropped (``NO_RANGE``). A compression that
  resumes within the window continues the same range.

Entry (flat, in this order; the first failing condition is the skip code):

1. ``close``, ``squeeze``, ``atr_ratio`` ready (``NOT_READY``);
2. a tradable range (``NO_RANGE``: never compressed, ``atr_ratio`` too high, too short, expired);
3. a release: long ``close > range high``, short ``close < range low`` (``NO_BREAKOUT``);
4. policy level not ``off`` (``POLICY_OFF``) and no cooldown running (``COOLDOWN``);
5. volume: the proxy's ``rel_volume`` ≥ ``rel_volume_min`` (``NO_VOLUME``, also when not ready);
6. delta, when the proxy's ``delta_method`` is known (1 = bulk volume classification,
   2 = Lee–Ready) and ``cum_delta`` ready: d·(``cum_delta`` − its value at the last snapshot with
   ``close`` inside the range) > ``delta_min`` (``NO_DELTA``). With no known method the entry
   rests on volume alone and says so (reason ``DELTA_UNKNOWN``);
7. ``proxy_ratio`` ready (``RATIO_NOT_READY``).

The intent: price = ``close``, stop = the other side of the range (long: range low; short: range
high), target = close + d·``reward_risk``·|close − stop|, reasons RANGE, RELEASE, VOLUME, DELTA
(or DELTA_UNKNOWN), POLICY. Once per breakout: the range is consumed by the entry, and a new
range starts only after compression has ended (``squeeze`` ≠ 1 or ``atr_ratio`` ≥ the threshold)
and begun again.

Exit (in a position): with ``exit_reentry_fraction`` set to f ∈ [0, 1], an :class:`ExitIntent`
``FAILED_RELEASE`` when ``close`` comes back into the range by f of its width (long:
``close < high − f·(high − low)``; short: ``close > low + f·(high − low)``).

Thresholds keys (``[plays.SPX_BALANCED_BREAK]``): ``atr_ratio_max``, ``min_compression_s``,
``release_window_s``, ``rel_volume_min``, ``delta_min``, ``exit_reentry_fraction``, and the
common ``index``, ``proxy``, ``reward_risk``, ``cooldown_s``.

The rule is compiled: :func:`scalper.plays.kernels.step_play` runs it (kind ``BALANCED_BREAK``),
the same code for the live path and a compiled replay loop; this class builds the kernel's
parameters from the config and the intents and skip texts from its results
(:mod:`scalper.plays.compiled`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from scalper.core.errors import InvariantError
from scalper.plays import kernels as K
from scalper.plays.base import PlayConfig, ReasonPair
from scalper.plays.compiled import CompiledPlay

DELTA_METHODS = {1.0: "bulk volume classification", 2.0: "Lee–Ready"}


class BalancedBreakConfig(PlayConfig):
    atr_ratio_max: float = Field(gt=0, le=5)
    min_compression_s: int = Field(ge=0, le=6 * 3600)
    release_window_s: int = Field(ge=0, le=6 * 3600)
    rel_volume_min: float = Field(ge=0, le=20)
    delta_min: float = Field(ge=0)
    exit_reentry_fraction: float | None = Field(default=None, ge=0, le=1)


class BalancedBreak(CompiledPlay[BalancedBreakConfig]):
    """Release out of a Bollinger-in-Keltner compression range with volume/delta confirmation."""

    config_model: ClassVar[type[PlayConfig]] = BalancedBreakConfig
    kind: ClassVar[str] = "BALANCED_BREAK"
    kernel_kind: ClassVar[int] = K.BALANCED_BREAK

    @property
    def range(self) -> tuple[float, float] | None:
        """The current compression range (high, low), ``None`` when there is none."""
        high, low = float(self._fs[K.FS_BB_HIGH]), float(self._fs[K.FS_BB_LOW])
        if math.isnan(high) or math.isnan(low):
            return None
        return high, low

    def _build_params(self) -> K.F64:
        c = self.config
        p = np.zeros(K.N_PARAMS, dtype=np.float64)
        p[K.P_REWARD_RISK] = c.reward_risk
        p[K.P_COOLDOWN_S] = c.cooldown_s
        p[K.P_BB_ATR_RATIO_MAX] = c.atr_ratio_max
        p[K.P_BB_MIN_COMPRESSION_S] = c.min_compression_s
        p[K.P_BB_RELEASE_WINDOW_S] = c.release_window_s
        p[K.P_BB_REL_VOLUME_MIN] = c.rel_volume_min
        p[K.P_BB_DELTA_MIN] = c.delta_min
        f = c.exit_reentry_fraction
        p[K.P_BB_EXIT_REENTRY_FRACTION] = math.nan if f is None else f
        return p

    def _index_fields(self) -> tuple[str, ...]:
        return ("close", "squeeze", "atr_ratio")

    def _proxy_fields(self) -> tuple[str, ...]:
        return ("rel_volume", "cum_delta", "delta_method")

    def _rule_text(self, code: str, out: K.F64) -> str:
        c = self.config
        close, high, low = float(out[K.O_CLOSE]), float(out[K.O_HIGH]), float(out[K.O_LOW])
        if code == "NO_RANGE":
            lasted = float(out[K.O_SECONDS])
            if math.isnan(lasted):
                return "no compression range (squeeze with atr_ratio below the threshold)"
            return f"compression lasted {lasted:.0f} s of {c.min_compression_s} s"
        if code == "NO_BREAKOUT":
            return f"close {close:.2f} inside the range [{low:.2f}, {high:.2f}]"
        if code == "NO_VOLUME":
            rel = float(out[K.O_REL_VOLUME])
            shown = "not ready" if math.isnan(rel) else f"{rel:.2f}"
            return f"{self.proxy} rel_volume {shown} below {c.rel_volume_min}"
        if code == "NO_DELTA":
            moved, d = float(out[K.O_MOVED]), int(out[K.O_DIRECTION])
            return (
                f"{self.proxy} cum_delta moved {moved:+.0f} since inside the range, "
                f"not beyond {c.delta_min:g} in direction {d:+d}"
            )
        raise InvariantError(f"{self.name}: no text for skip code {code}")

    def _exit_text(self, code: str, out: K.F64) -> str:
        close, high, low = float(out[K.O_CLOSE]), float(out[K.O_HIGH]), float(out[K.O_LOW])
        return f"close {close:.2f} back inside the range [{low:.2f}, {high:.2f}] past {float(out[K.O_EDGE]):.2f}"

    def _reasons(self, out: K.F64) -> list[ReasonPair]:
        close, high, low = float(out[K.O_PRICE]), float(out[K.O_HIGH]), float(out[K.O_LOW])
        d, method = int(out[K.O_DIRECTION]), float(out[K.O_DELTA_METHOD])
        reasons: list[ReasonPair] = [
            ("RANGE", f"compression range [{low:.2f}, {high:.2f}] over {float(out[K.O_SECONDS]):.0f} s"),
            ("RELEASE", f"close {close:.2f} {'above' if d > 0 else 'below'} the range"),
            ("VOLUME", f"{self.proxy} rel_volume {float(out[K.O_REL_VOLUME]):.2f} >= {self.config.rel_volume_min}"),
        ]
        if method in DELTA_METHODS:
            reasons.append(("DELTA", f"{self.proxy} cum_delta {float(out[K.O_MOVED]):+.0f} ({DELTA_METHODS[method]})"))
        else:
            reasons.append(("DELTA_UNKNOWN", f"{self.proxy} delta not known: volume confirmation only"))
        return reasons
