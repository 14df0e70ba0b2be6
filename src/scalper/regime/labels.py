"""Daily labels from finished sessions: trend up / trend down / balanced, and the Market Profile day type.

With O, H, L, C the session's open, high, low and close (first bar's open, extremes, last
bar's close) and R = H - L:

* open location ``(O - L) / R`` and close location ``(C - L) / R``, both in [0, 1];
* body ratio ``|C - O| / R``;
* range ratio ``R / mean(R of the previous `range_lookback` sessions)``;
* range over ATR: ``R / ATR(atr_period)``, ATR the simple mean of the prior sessions' true ranges.

Label rule (parameters in :class:`LabelParams`, defaults in brackets): **trend_up** when the open
lies in the bottom ``extreme`` [0.2] of the range, the close in the top ``extreme`` and the range
ratio is >= ``range_multiple`` [1.0] (``range_lookback`` [20] prior sessions); **trend_down** the
mirror image; otherwise **balanced**.

Market Profile day type, from the initial balance IB (the range of the first ``ib_minutes`` [60]
minutes, width W) and the day's extensions beyond it, ``up = H - IB high``, ``down = IB low - L``.
An extension counts when it exceeds ``extension_tolerance`` [0.05] x W:

* **neutral**: extensions on both sides of the IB;
* **normal**: no extension, or one with R / W < ``normal_max`` [1.15] (a wide IB holds the day);
* **normal_variation**: one-sided extension with ``normal_max`` <= R / W < ``trend_min`` [2.0];
* **trend**: one-sided extension with R / W >= ``trend_min`` (a narrow IB, the day moves away).

Labels use only the finished session and the sessions before it. Sessions that cannot be
labelled raise :class:`DataError` naming the defect (the caller records it as a skip).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from scalper.core.errors import ConfigError, DataError
from scalper.regime.daily import DailyStats, atr

LABELS = ("trend_up", "trend_down", "balanced")
DAY_TYPES = ("normal", "normal_variation", "trend", "neutral")
LABEL_CODE_VERSION = 1  # bump when the rule's code changes


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelParams:
    """Thresholds of the label rule and of the Market Profile day type (see the module docstring)."""

    extreme: float = 0.2
    range_multiple: float = 1.0
    range_lookback: int = 20
    atr_period: int = 14
    ib_minutes: int = 60
    extension_tolerance: float = 0.05
    normal_max: float = 1.15
    trend_min: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 < self.extreme < 0.5:
            raise ConfigError(f"LabelParams.extreme: expected 0 < x < 0.5, was {self.extreme}")
        if self.range_multiple <= 0 or self.range_lookback < 1 or self.atr_period < 1 or self.ib_minutes < 1:
            raise ConfigError("LabelParams: expected range_multiple > 0 and lookbacks/periods/ib_minutes >= 1")
        if not 1.0 <= self.normal_max < self.trend_min or self.extension_tolerance < 0:
            raise ConfigError("LabelParams: expected 1 <= normal_max < trend_min and extension_tolerance >= 0")

    @property
    def history_needed(self) -> int:
        """Prior sessions needed before a session can be labelled."""
        return max(self.range_lookback, self.atr_period + 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class DayLabel:
    """The label of one finished session and the continuous inputs behind it."""

    symbol: str
    day: dt.date
    label: str
    day_type: str
    inputs: dict[str, float]


def label_version(params: LabelParams) -> str:
    """Changes when the rule's parameters or its code change."""
    blob = json.dumps({"code": LABEL_CODE_VERSION, **asdict(params)}, sort_keys=True)
    return "label-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


def day_type(stats: DailyStats, params: LabelParams) -> tuple[str, dict[str, float]]:
    """Market Profile day type and its inputs (IB width, range / IB, extensions over IB)."""
    m = params.ib_minutes
    if stats.run_high.size < m or not np.isfinite(stats.run_high[m - 1]):
        raise DataError(f"{stats.symbol} {stats.day}: session shorter than the {m}-minute initial balance")
    ib_high, ib_low = float(stats.run_high[m - 1]), float(stats.run_low[m - 1])
    width = ib_high - ib_low
    if not width > 0:
        raise DataError(f"{stats.symbol} {stats.day}: non-positive initial balance width ({width})")
    up, down = stats.high - ib_high, ib_low - stats.low
    tol = params.extension_tolerance * width
    ratio = stats.range / width
    if up > tol and down > tol:
        kind = "neutral"
    elif (up <= tol and down <= tol) or ratio < params.normal_max:
        kind = "normal"
    elif ratio < params.trend_min:
        kind = "normal_variation"
    else:
        kind = "trend"
    return kind, {"ib_width": width, "range_ib": ratio, "ext_up_ib": up / width, "ext_down_ib": down / width}


def label_session(stats: DailyStats, prior: Sequence[DailyStats], params: LabelParams | None = None) -> DayLabel:
    """Label a finished session from itself and the sessions before it (``prior``, oldest first)."""
    p = params or LabelParams()
    if prior and prior[-1].day >= stats.day:
        raise DataError(
            f"{stats.symbol} {stats.day}: prior sessions must end before the session, last was {prior[-1].day}"
        )
    if len(prior) < p.history_needed:
        raise DataError(f"{stats.symbol} {stats.day}: needs {p.history_needed} prior sessions, had {len(prior)}")
    rng = stats.range
    mean_range = float(np.mean([s.range for s in prior[-p.range_lookback :]]))
    daily_atr = atr(prior, p.atr_period)
    assert daily_atr is not None  # guaranteed by history_needed
    open_loc = (stats.open - stats.low) / rng
    close_loc = (stats.close - stats.low) / rng
    wide = rng >= p.range_multiple * mean_range
    if wide and open_loc <= p.extreme and close_loc >= 1.0 - p.extreme:
        label = "trend_up"
    elif wide and open_loc >= 1.0 - p.extreme and close_loc <= p.extreme:
        label = "trend_down"
    else:
        label = "balanced"
    kind, profile = day_type(stats, p)
    inputs = {
        "open_location": open_loc,
        "close_location": close_loc,
        "body_ratio": abs(stats.close - stats.open) / rng,
        "range_ratio": rng / mean_range,
        "range_atr": rng / daily_atr if daily_atr > 0 else float("nan"),
        "range": rng,
        **profile,
    }
    return DayLabel(symbol=stats.symbol, day=stats.day, label=label, day_type=kind, inputs=inputs)
