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
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from scalper.plays.base import NS_PER_S, Intent, Play, PlayConfig, ReasonPair, Skip, Snapshot, value
from scalper.strategy.policy import Gates
from scalper.strategy.thresholds import Level

DELTA_METHODS = {1.0: "bulk volume classification", 2.0: "Lee–Ready"}


class BalancedBreakConfig(PlayConfig):
    atr_ratio_max: float = Field(gt=0, le=5)
    min_compression_s: int = Field(ge=0, le=6 * 3600)
    release_window_s: int = Field(ge=0, le=6 * 3600)
    rel_volume_min: float = Field(ge=0, le=20)
    delta_min: float = Field(ge=0)
    exit_reentry_fraction: float | None = Field(default=None, ge=0, le=1)


class BalancedBreak(Play[BalancedBreakConfig]):
    """Release out of a Bollinger-in-Keltner compression range with volume/delta confirmation."""

    config_model: ClassVar[type[PlayConfig]] = BalancedBreakConfig
    kind: ClassVar[str] = "BALANCED_BREAK"

    def __init__(self, config: BalancedBreakConfig, *, name: str | None = None) -> None:
        super().__init__(config, name=name)
        self._high: float | None = None
        self._low: float | None = None
        self._first_ns = 0
        self._last_ns = 0
        self._compressed = False
        self._wait_for_end = False
        self._inside_delta: float | None = None
        self._trade_range: tuple[float, float] | None = None

    @property
    def range(self) -> tuple[float, float] | None:
        """The current compression range (high, low), ``None`` when there is none."""
        if self._high is None or self._low is None:
            return None
        return self._high, self._low

    def _evaluate(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, gates: Gates | None
    ) -> Intent | Skip:
        missing = self._missing(index, ("close", "squeeze", "atr_ratio"), self.index)
        if missing is not None:
            return missing
        close = _f(index, "close")
        compressed = _f(index, "squeeze") == 1.0 and _f(index, "atr_ratio") < self.config.atr_ratio_max
        delta = _delta(proxy)

        if self.position != 0:
            out: Intent | Skip = self._exit_rule(ts_ns, close)
        else:
            self._expire(ts_ns)
            out = self._entry_rule(ts_ns, index, proxy, level, close, delta)
            if not isinstance(out, Skip):
                self._trade_range = self.range
                self._high = self._low = None
                self._wait_for_end = True
                return out
        self._track(ts_ns, close, compressed, delta)
        return out

    def _exit_rule(self, ts_ns: int, close: float) -> Intent | Skip:
        f = self.config.exit_reentry_fraction
        d = self.position
        if f is not None and self._trade_range is not None:
            high, low = self._trade_range
            edge = high - f * (high - low) if d > 0 else low + f * (high - low)
            if d * (close - edge) < 0:
                return self._exit(
                    ts_ns,
                    "FAILED_RELEASE",
                    f"close {close:.2f} back inside the range [{low:.2f}, {high:.2f}] past {edge:.2f}",
                )
        return Skip(code="IN_POSITION", text=f"in a {'long' if d > 0 else 'short'} position")

    def _expire(self, ts_ns: int) -> None:
        """Drop the range when compression ended more than ``release_window_s`` ago."""
        expired = ts_ns - self._last_ns > self.config.release_window_s * NS_PER_S
        if self.range is not None and not self._compressed and expired:
            self._high = self._low = None

    def _entry_rule(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, close: float, delta: float | None
    ) -> Intent | Skip:
        c = self.config
        rng = self.range
        if rng is None:
            return Skip(code="NO_RANGE", text="no compression range (squeeze with atr_ratio below the threshold)")
        lasted = (self._last_ns - self._first_ns) / NS_PER_S
        if lasted < c.min_compression_s:
            return Skip(code="NO_RANGE", text=f"compression lasted {lasted:.0f} s of {c.min_compression_s} s")
        high, low = rng
        if close > high:
            d = 1
        elif close < low:
            d = -1
        else:
            return Skip(code="NO_BREAKOUT", text=f"close {close:.2f} inside the range [{low:.2f}, {high:.2f}]")
        gate = self._entry_gate(ts_ns, level)
        if gate is not None:
            return gate
        rel = value(proxy, "rel_volume")
        if rel is None or rel < c.rel_volume_min:
            shown = "not ready" if rel is None else f"{rel:.2f}"
            return Skip(code="NO_VOLUME", text=f"{self.proxy} rel_volume {shown} below {c.rel_volume_min}")
        reasons: list[ReasonPair] = [
            ("RANGE", f"compression range [{low:.2f}, {high:.2f}] over {lasted:.0f} s"),
            ("RELEASE", f"close {close:.2f} {'above' if d > 0 else 'below'} the range"),
            ("VOLUME", f"{self.proxy} rel_volume {rel:.2f} >= {c.rel_volume_min}"),
        ]
        method = value(proxy, "delta_method")
        if method in DELTA_METHODS and delta is not None and self._inside_delta is not None:
            moved = delta - self._inside_delta
            if d * moved <= c.delta_min:
                return Skip(
                    code="NO_DELTA",
                    text=f"{self.proxy} cum_delta moved {moved:+.0f} since inside the range, "
                    f"not beyond {c.delta_min:g} in direction {d:+d}",
                )
            reasons.append(("DELTA", f"{self.proxy} cum_delta {moved:+.0f} ({DELTA_METHODS[method]})"))
        else:
            reasons.append(("DELTA_UNKNOWN", f"{self.proxy} delta not known: volume confirmation only"))
        return self._enter(
            ts_ns, index, direction=d, level=level, price=close, stop=low if d > 0 else high, reasons=reasons
        )

    def _track(self, ts_ns: int, close: float, compressed: bool, delta: float | None) -> None:
        if not compressed:
            self._wait_for_end = False
            self._compressed = False
        elif not self._wait_for_end:
            if self._high is None or self._low is None:
                self._high, self._low, self._first_ns = close, close, ts_ns
            else:
                self._high, self._low = max(self._high, close), min(self._low, close)
            self._last_ns = ts_ns
            self._compressed = True
        rng = self.range
        if rng is not None and rng[1] <= close <= rng[0]:
            self._inside_delta = delta

    def _on_flat(self) -> None:
        self._trade_range = None


def _delta(proxy: Snapshot) -> float | None:
    return value(proxy, "cum_delta")


def _f(snapshot: Snapshot, field: str) -> float:
    v = value(snapshot, field)
    assert v is not None  # checked by _missing
    return v
