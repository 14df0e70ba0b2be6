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

The rule is compiled: :func:`scalper.plays.kernels.step_play` runs it (kind ``TREND_BURST``),
the same code for the live path and a compiled replay loop; this class builds the kernel's
parameters from the config and the intents and skip texts from its results
(:mod:`scalper.plays.compiled`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from scalper.core.errors import InvariantError
from scalper.plays import kernels as K
from scalper.plays.base import PlayConfig, ReasonPair
from scalper.plays.compiled import CompiledPlay


class TrendBurstConfig(PlayConfig):
    opening_range: Literal[5, 15, 30] = 30
    band_k: float = Field(ge=0, le=5)
    stop_at: Literal["range", "vwap"]
    confirm_s: int = Field(ge=0, le=3600)
    exit_on_vwap: bool = True


class TrendBurst(CompiledPlay[TrendBurstConfig]):
    """Breakout of the opening range beyond VWAP ± k·σ in the direction of the aligned EMA slopes."""

    config_model: ClassVar[type[PlayConfig]] = TrendBurstConfig
    kind: ClassVar[str] = "TREND_BURST"
    kernel_kind: ClassVar[int] = K.TREND_BURST

    def _build_params(self) -> K.F64:
        c = self.config
        p = np.zeros(K.N_PARAMS, dtype=np.float64)
        p[K.P_REWARD_RISK] = c.reward_risk
        p[K.P_COOLDOWN_S] = c.cooldown_s
        p[K.P_TB_OPENING_RANGE] = c.opening_range
        p[K.P_TB_BAND_K] = c.band_k
        p[K.P_TB_STOP_AT] = K.STOP_AT_RANGE if c.stop_at == "range" else K.STOP_AT_VWAP
        p[K.P_TB_CONFIRM_S] = c.confirm_s
        p[K.P_TB_EXIT_ON_VWAP] = 1.0 if c.exit_on_vwap else 0.0
        return p

    def _index_fields(self) -> tuple[str, ...]:
        n = self.config.opening_range
        return ("close", "vwap", "vwap_std", f"or{n}_high", f"or{n}_low", "aligned")

    def _rule_text(self, code: str, out: K.F64) -> str:
        c = self.config
        close = float(out[K.O_CLOSE])
        if code == "NOT_ALIGNED":
            return f"EMA slopes not aligned (aligned = {float(out[K.O_ALIGNED]):g})"
        if code == "NO_BREAKOUT":
            if out[K.O_DIRECTION] > 0:
                return f"close {close:.2f} not above or{c.opening_range}_high {float(out[K.O_HIGH]):.2f}"
            return f"close {close:.2f} not below or{c.opening_range}_low {float(out[K.O_LOW]):.2f}"
        if code == "ALREADY_TRADED":
            return "this breakout was already traded: waiting for a return inside the opening range"
        if code == "INSIDE_BANDS":
            return f"close {close:.2f} not beyond vwap ± {c.band_k}σ = {float(out[K.O_BAND]):.2f}"
        if code == "HOLDING":
            return f"conditions held {float(out[K.O_SECONDS]):.0f} s of {c.confirm_s} s"
        raise InvariantError(f"{self.name}: no text for skip code {code}")

    def _exit_text(self, code: str, out: K.F64) -> str:
        close, vwap = float(out[K.O_CLOSE]), float(out[K.O_VWAP])
        return f"close {close:.2f} crossed vwap {vwap:.2f} against the trade"

    def _reasons(self, out: K.F64) -> list[ReasonPair]:
        c = self.config
        d = int(out[K.O_DIRECTION])
        close, band = float(out[K.O_PRICE]), float(out[K.O_BAND])
        hi, lo = float(out[K.O_HIGH]), float(out[K.O_LOW])
        side = "above" if d > 0 else "below"
        return [
            ("ALIGNED", f"EMA slopes aligned {d:+d} on 1s, 1m, 5m, 15m"),
            (
                "BREAKOUT",
                f"close {close:.2f} {side} or{c.opening_range} {'high' if d > 0 else 'low'} {hi if d > 0 else lo:.2f}",
            ),
            ("BEYOND_BAND", f"close {close:.2f} {side} vwap {'+' if d > 0 else '-'} {c.band_k}σ = {band:.2f}"),
        ]
