"""The pure-Python trend burst and balanced break, kept verbatim as the oracle of the compiled plays.

``OracleTrendBurst`` and ``OracleBalancedBreak`` are the implementations the built-in plays had
before their rules moved to :mod:`scalper.plays.kernels`; the differential tests run both on the
same inputs and require identical intents, skips and state.
"""

from __future__ import annotations

from typing import ClassVar

from scalper.plays.balanced_break import BalancedBreakConfig
from scalper.plays.base import NS_PER_S, Intent, Play, PlayConfig, ReasonPair, Skip, Snapshot, value
from scalper.plays.trend_burst import TrendBurstConfig
from scalper.strategy.policy import Gates
from scalper.strategy.thresholds import Level

DELTA_METHODS = {1.0: "bulk volume classification", 2.0: "Lee–Ready"}


class OracleTrendBurst(Play[TrendBurstConfig]):
    """Breakout of the opening range beyond VWAP ± k·σ in the direction of the aligned EMA slopes."""

    config_model: ClassVar[type[PlayConfig]] = TrendBurstConfig
    kind: ClassVar[str] = "TREND_BURST"

    def __init__(self, config: TrendBurstConfig, *, name: str | None = None) -> None:
        super().__init__(config, name=name)
        self._range: tuple[float, float] | None = None
        self._armed = {1: True, -1: True}
        self._holding_since: int | None = None

    def _evaluate(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, gates: Gates | None
    ) -> Intent | Skip:
        c = self.config
        hi_f, lo_f = f"or{c.opening_range}_high", f"or{c.opening_range}_low"
        missing = self._missing(index, ("close", "vwap", "vwap_std", hi_f, lo_f, "aligned"), self.index)
        if missing is not None:
            self._holding_since = None
            return missing
        close, vwap, std = _tb_f(index, "close"), _tb_f(index, "vwap"), _tb_f(index, "vwap_std")
        hi, lo, aligned = _tb_f(index, hi_f), _tb_f(index, lo_f), _tb_f(index, "aligned")

        if (hi, lo) != self._range:  # a new opening range (new session): both sides armed
            self._range = (hi, lo)
            self._armed = {1: True, -1: True}
        if close <= hi:
            self._armed[1] = True
        if close >= lo:
            self._armed[-1] = True

        if self.position != 0:
            d = self.position
            if c.exit_on_vwap and d * (close - vwap) < 0:
                return self._exit(ts_ns, "VWAP_TRAIL", f"close {close:.2f} crossed vwap {vwap:.2f} against the trade")
            return Skip(code="IN_POSITION", text=f"in a {'long' if d > 0 else 'short'} position")

        skip = self._entry_gate(ts_ns, level) or self._conditions(close, vwap, std, hi, lo, aligned)
        if skip is not None:
            self._holding_since = None
            return skip
        d = int(aligned)
        if self._holding_since is None:
            self._holding_since = ts_ns
        held_s = (ts_ns - self._holding_since) / 1e9
        if held_s < c.confirm_s:
            return Skip(code="HOLDING", text=f"conditions held {held_s:.0f} s of {c.confirm_s} s")
        stop = (lo if d > 0 else hi) if c.stop_at == "range" else vwap
        band = vwap + d * c.band_k * std
        side = "above" if d > 0 else "below"
        out = self._enter(
            ts_ns,
            index,
            direction=d,
            level=level,
            price=close,
            stop=stop,
            reasons=[
                ("ALIGNED", f"EMA slopes aligned {d:+d} on 1s, 1m, 5m, 15m"),
                (
                    "BREAKOUT",
                    f"close {close:.2f} {side} or{c.opening_range} {'high' if d > 0 else 'low'} "
                    f"{hi if d > 0 else lo:.2f}",
                ),
                ("BEYOND_BAND", f"close {close:.2f} {side} vwap {'+' if d > 0 else '-'} {c.band_k}σ = {band:.2f}"),
            ],
        )
        if isinstance(out, Skip):
            return out
        self._armed[d] = False
        self._holding_since = None
        return out

    def _conditions(self, close: float, vwap: float, std: float, hi: float, lo: float, aligned: float) -> Skip | None:
        c = self.config
        if aligned not in (1.0, -1.0):
            return Skip(code="NOT_ALIGNED", text=f"EMA slopes not aligned (aligned = {aligned:g})")
        d = int(aligned)
        if d > 0 and not close > hi:
            return Skip(code="NO_BREAKOUT", text=f"close {close:.2f} not above or{c.opening_range}_high {hi:.2f}")
        if d < 0 and not close < lo:
            return Skip(code="NO_BREAKOUT", text=f"close {close:.2f} not below or{c.opening_range}_low {lo:.2f}")
        if not self._armed[d]:
            return Skip(
                code="ALREADY_TRADED",
                text="this breakout was already traded: waiting for a return inside the opening range",
            )
        band = vwap + d * c.band_k * std
        if d * (close - band) <= 0:
            return Skip(code="INSIDE_BANDS", text=f"close {close:.2f} not beyond vwap ± {c.band_k}σ = {band:.2f}")
        return None


def _tb_f(snapshot: Snapshot, field: str) -> float:
    v = value(snapshot, field)
    assert v is not None  # checked by _missing
    return v


class OracleBalancedBreak(Play[BalancedBreakConfig]):
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
        close = _bb_f(index, "close")
        compressed = _bb_f(index, "squeeze") == 1.0 and _bb_f(index, "atr_ratio") < self.config.atr_ratio_max
        delta = _bb_delta(proxy)

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


def _bb_delta(proxy: Snapshot) -> float | None:
    return value(proxy, "cum_delta")


def _bb_f(snapshot: Snapshot, field: str) -> float:
    v = value(snapshot, field)
    assert v is not None  # checked by _missing
    return v
