"""Feature periods and choices, validated, and their packing into the kernel's parameter vector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import ConfigError
from scalper.features import layout as L

VwapMode = Literal["volume", "equal", "proxy"]
_VWAP_MODES: dict[str, float] = {"volume": L.VWAP_VOLUME, "equal": L.VWAP_EQUAL, "proxy": L.VWAP_PROXY}
TIMEFRAMES = ("1s", "1m", "5m", "15m")


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureParams:
    """Every period the feature engine uses (bars of the named timeframe unless stated).

    ``index_vwap`` chooses the VWAP of a symbol without volume (the indices): ``proxy`` maps the
    proxy's VWAP through the live index/proxy ratio, ``equal`` weighs every second equally (TWAP).
    The choice is recorded in every snapshot (``vwap_mode``).
    """

    ema_periods: tuple[int, int, int, int] = (60, 20, 20, 20)  # 1s, 1m, 5m, 15m
    slope_lags: tuple[int, int, int, int] = (10, 3, 3, 3)
    atr_period: int = 14
    adx_period: int = 14
    er_period: int = 10
    bb_period: int = 20
    bb_k: float = 2.0
    kc_multiplier: float = 1.5
    atr_fast: int = 5
    rv_window_s: int = 300
    pivot_strength: int = 5
    relvol_sessions: int = 20
    relvol_min_sessions: int = 5
    bvc_period: int = 60
    ratio_minutes: int = 5
    index_vwap: VwapMode = "proxy"

    def __post_init__(self) -> None:
        checks: list[tuple[str, int, int]] = [
            *((f"ema_periods[{tf}]", n, 1_000_000) for tf, n in zip(TIMEFRAMES, self.ema_periods, strict=True)),
            *((f"slope_lags[{tf}]", k, L.SLOPE_CAP) for tf, k in zip(TIMEFRAMES, self.slope_lags, strict=True)),
            ("atr_period", self.atr_period, 1_000_000),
            ("adx_period", self.adx_period, 1_000_000),
            ("er_period", self.er_period, L.ER_CAP - 1),
            ("bb_period", self.bb_period, L.BB_CAP),
            ("atr_fast", self.atr_fast, 1_000_000),
            ("rv_window_s", self.rv_window_s, L.RV_CAP),
            ("pivot_strength", self.pivot_strength, L.PIVOT_CAP),
            ("relvol_sessions", self.relvol_sessions, L.RELVOL_SESSIONS_CAP),
            ("relvol_min_sessions", self.relvol_min_sessions, self.relvol_sessions),
            ("bvc_period", self.bvc_period, 1_000_000),
            ("ratio_minutes", self.ratio_minutes, L.RATIO_CAP),
        ]
        if len(self.ema_periods) != 4 or len(self.slope_lags) != 4:
            raise ConfigError("features: ema_periods and slope_lags need one value per timeframe (1s, 1m, 5m, 15m)")
        for name, value, most in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
                raise ConfigError(f"features.{name}: expected an integer from 1 to {most}, was {value!r}")
        for name, real in (("bb_k", self.bb_k), ("kc_multiplier", self.kc_multiplier)):
            if not (isinstance(real, int | float) and 0.0 < real < 100.0):
                raise ConfigError(f"features.{name}: expected a number in (0, 100), was {real!r}")
        if self.index_vwap not in _VWAP_MODES or self.index_vwap == "volume":
            raise ConfigError(f"features.index_vwap: expected 'proxy' or 'equal', was {self.index_vwap!r}")

    def vector(self, *, has_volume: bool, has_proxy: bool) -> NDArray[np.float64]:
        """The kernel's parameter vector for one symbol."""
        p = np.zeros(L.P_SIZE)
        for i, (n, k) in enumerate(zip(self.ema_periods, self.slope_lags, strict=True)):
            p[L.P_EMA_N + i] = n
            p[L.P_EMA_ALPHA + i] = 2.0 / (n + 1)
            p[L.P_SLOPE_K + i] = k
        p[L.P_ATR_N] = self.atr_period
        p[L.P_ADX_N] = self.adx_period
        p[L.P_ER_N] = self.er_period
        p[L.P_BB_N] = self.bb_period
        p[L.P_BB_K] = self.bb_k
        p[L.P_KC_MULT] = self.kc_multiplier
        p[L.P_ATR_FAST] = self.atr_fast
        p[L.P_RV_N] = self.rv_window_s
        p[L.P_PIVOT_N] = self.pivot_strength
        p[L.P_RELVOL_N] = self.relvol_sessions
        p[L.P_RELVOL_MIN] = self.relvol_min_sessions
        p[L.P_BVC_N] = self.bvc_period
        p[L.P_HAS_VOLUME] = 1.0 if has_volume else 0.0
        if has_volume:
            p[L.P_VWAP_MODE] = L.VWAP_VOLUME
        elif has_proxy and self.index_vwap == "proxy":
            p[L.P_VWAP_MODE] = L.VWAP_PROXY
        else:
            p[L.P_VWAP_MODE] = L.VWAP_EQUAL
        p[L.P_RATIO_N] = self.ratio_minutes
        return p
