"""The feature snapshot: one float64 row per symbol and event, with named columns.

``nan`` means *not ready* (warming up, or not defined for this symbol: an index has no delta and
no overnight session). Prices are in the symbol's own units. Codes: ``vwap_mode`` 1 = volume
weights, 2 = equal weights (TWAP), 3 = the proxy's VWAP × the live index/proxy ratio (updated on
minute close); ``delta_method`` 0 = none, 1 = bulk volume classification, 2 = Lee–Ready;
``aligned`` +1 / −1 when the EMA slopes of all four timeframes are positive / negative, else 0;
``squeeze`` 1 when the Bollinger bands lie inside the Keltner channel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import InvariantError

FIELDS: Final = (
    "close",
    "vwap",
    "vwap_std",
    "vwap_upper_1",
    "vwap_lower_1",
    "vwap_upper_2",
    "vwap_lower_2",
    "vwap_upper_3",
    "vwap_lower_3",
    "vwap_mode",
    "avwap_prior_high",
    "avwap_prior_low",
    "avwap_overnight_high",
    "avwap_overnight_low",
    "avwap_pivot_high",
    "avwap_pivot_low",
    "day_open",
    "day_high",
    "day_low",
    "prior_high",
    "prior_low",
    "prior_close",
    "overnight_high",
    "overnight_low",
    "pivot_high",
    "pivot_low",
    "or5_high",
    "or5_low",
    "or15_high",
    "or15_low",
    "or30_high",
    "or30_low",
    "cum_delta",
    "delta_method",
    "cum_delta_bvc",
    "cum_delta_lee_ready",
    "ema_1s",
    "ema_1m",
    "ema_5m",
    "ema_15m",
    "slope_1s",
    "slope_1m",
    "slope_5m",
    "slope_15m",
    "atr_1s",
    "atr_1m",
    "atr_5m",
    "atr_15m",
    "aligned",
    "adx_1m",
    "plus_di_1m",
    "minus_di_1m",
    "er_1m",
    "rv_window",
    "rv_session",
    "bb_mid",
    "bb_upper",
    "bb_lower",
    "kc_mid",
    "kc_upper",
    "kc_lower",
    "squeeze",
    "atr_ratio",
    "rel_volume",
    "session_volume",
    "proxy_ratio",
    "am_mismatches",
)
(
    F_CLOSE,
    F_VWAP,
    F_VWAP_STD,
    F_VWAP_BANDS,  # six slots: upper/lower at 1, 2, 3σ
    _F4,
    _F5,
    _F6,
    _F7,
    _F8,
    F_VWAP_MODE,
    F_AVWAP_PRIOR_HIGH,
    F_AVWAP_PRIOR_LOW,
    F_AVWAP_ON_HIGH,
    F_AVWAP_ON_LOW,
    F_AVWAP_PIVOT_HIGH,
    F_AVWAP_PIVOT_LOW,
    F_DAY_OPEN,
    F_DAY_HIGH,
    F_DAY_LOW,
    F_PRIOR_HIGH,
    F_PRIOR_LOW,
    F_PRIOR_CLOSE,
    F_ON_HIGH,
    F_ON_LOW,
    F_PIVOT_HIGH,
    F_PIVOT_LOW,
    F_OR,  # six slots: (high, low) for 5, 15, 30 minutes
    _F27,
    _F28,
    _F29,
    _F30,
    _F31,
    F_CUM_DELTA,
    F_DELTA_METHOD,
    F_CUM_BVC,
    F_CUM_LEE_READY,
    F_EMA,  # four slots: 1s, 1m, 5m, 15m
    _F37,
    _F38,
    _F39,
    F_SLOPE,  # four slots
    _F41,
    _F42,
    _F43,
    F_ATR,  # four slots
    _F45,
    _F46,
    _F47,
    F_ALIGNED,
    F_ADX,
    F_PLUS_DI,
    F_MINUS_DI,
    F_ER,
    F_RV_WINDOW,
    F_RV_SESSION,
    F_BB_MID,
    F_BB_UPPER,
    F_BB_LOWER,
    F_KC_MID,
    F_KC_UPPER,
    F_KC_LOWER,
    F_SQUEEZE,
    F_ATR_RATIO,
    F_REL_VOLUME,
    F_SESSION_VOLUME,
    F_PROXY_RATIO,
    F_AM_MISMATCHES,
) = range(67)
N_FIELDS: Final = len(FIELDS)
INDEX: Final = {name: i for i, name in enumerate(FIELDS)}
READY_FIELDS: Final = ("vwap", "ema_1m", "atr_1m", "aligned")  # what `ready` in the features table means


class SnapshotView(Mapping[str, "float | None"]):
    """A snapshot row read as ``{field: value}`` (``None`` where not ready, i.e. NaN)."""

    __slots__ = ("_row",)

    def __init__(self, row: NDArray[np.float64]) -> None:
        if row.shape != (len(FIELDS),):
            raise InvariantError(f"snapshot view: expected a row of {len(FIELDS)} fields, was shape {row.shape}")
        self._row = row

    def __getitem__(self, key: str) -> float | None:
        v = float(self._row[INDEX[key]])
        return None if v != v else v

    def get(self, key: str, default: object = None) -> Any:
        i = INDEX.get(key)
        if i is None:
            return default
        v = float(self._row[i])
        return None if v != v else v

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def __len__(self) -> int:
        return len(FIELDS)
