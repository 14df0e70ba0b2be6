"""Trend burst (``SPX_TREND_BURST``, ``NDX_TREND_BURST``): breakout continuation on a trend-leaning morning.

The session policy already encodes the morning score (trend plays go up on a trend-leaning
morning, down on a balanced one); the play reads only the index snapshot for its rule. With
``N`` = ``opening_range`` (5, 15 or 30 minutes), ``k`` = ``band_k``, and the index's ``close``,
``orN_high``/``orN_low``, ``vwap``, ``vwap_std``, ``aligned``:

Entry (flat, in this order; the first failing condition is the skip code):

1. every feature above is ready (``NOT_READY``) — the opening range is ``nan`` until its window is over;
2. policy level not ``off`` (``POLICY_OFF``) and no cooldown running (``COOLDOWN``);
3. ``aligned`` = +1 or −1 (``NOT_ALIGNED``): the direction d of the trade;
4. breakout in direction d: long ``close > orN_high``, short ``close < orN_low`` (``NO_BREAKOUT``);
5. once per breakout: after an entry in direction d, that side re-arms only when ``close`` is back
   inside the opening range (long: ``close <= orN_high``; short: ``close >= orN_low``)
   (``ALREADY_TRADED``). A new opening range (a new session) re-arms both sides;
6. beyond the band: long ``close > vwap + k·vwap_std``, short ``close < vwap − k·vwap_std``
   (``INSIDE_BANDS``);
7. conditions 3–6 have held on every snapshot for at least ``confirm_s`` seconds (``HOLDING``;
   0 = enter on the first snapshot that meets them); any failure restarts the count;
8. stop "back inside": ``stop_at = "range"`` → the other side of the opening range (long
   ``orN_low``, short ``orN_high``); ``stop_at = "vwap"`` → ``vwap``. It must lie on the losing side
   of the close (``BAD_STOP``);
9. ``proxy_ratio`` ready (``RATIO_NOT_READY``).

The intent: direction d, price = ``close``, the stop above, target = close + d·``reward_risk``·|close − stop|,
the policy level (for sizing), reasons ALIGNED, BREAKOUT, BEYOND_BAND, POLICY.

Exit (in a position): with ``exit_on_vwap`` true, an :class:`ExitIntent` ``VWAP_TRAIL`` when ``close``
crosses back through ``vwap`` against the trade (long: ``close < vwap``; short: ``close > vwap``).
The bracket's stop and target are handled by the order layer, which reports the end of the
position with :meth:`~scalper.plays.base.Play.position_closed`.

Thresholds keys (``[plays.SPX_TREND_BURST]``): ``opening_range``, ``band_k``, ``stop_at``,
``confirm_s``, ``exit_on_vwap``, and the common ``index``, ``proxy``, ``reward_risk``, ``cooldown_s``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from scalper.plays.base import Intent, Play, PlayConfig, Skip, Snapshot, value
from scalper.strategy.policy import Gates
from scalper.strategy.thresholds import Level


class TrendBurstConfig(PlayConfig):
    opening_range: Literal[5, 15, 30] = 30
    band_k: float = Field(ge=0, le=5)
    stop_at: Literal["range", "vwap"]
    confirm_s: int = Field(ge=0, le=3600)
    exit_on_vwap: bool = True


class TrendBurst(Play[TrendBurstConfig]):
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
        close, vwap, std = _f(index, "close"), _f(index, "vwap"), _f(index, "vwap_std")
        hi, lo, aligned = _f(index, hi_f), _f(index, lo_f), _f(index, "aligned")

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


def _f(snapshot: Snapshot, field: str) -> float:
    v = value(snapshot, field)
    assert v is not None  # checked by _missing
    return v
