"""Morning regime inputs at a checkpoint (e.g. 10:00 New York), with no look-ahead.

Only bars *complete* at the checkpoint (``ts + 1 min <= checkpoint``) of the day being scored and
summaries of earlier finished sessions are used. ATR is the simple mean of the prior
``atr_period`` [14] daily true ranges. Inputs (None with a reason when not computable):

* ``or30_atr`` / ``or60_atr``: range of the first 30 / 60 minutes ÷ ATR (only when the checkpoint
  is at least that long after the open);
* ``ib_pct``: percentile of today's opening range over the first ``min(60, minutes to the
  checkpoint)`` minutes among the same-length opening ranges of the previous ``ib_lookback`` [60]
  sessions (at least ``ib_min_history`` [20]); ties count half;
* ``gap_atr``: (today's open - prior close) ÷ ATR, signed;
* ``er30``: Kaufman efficiency ratio of the first 30 minutes, |C_30 - O| / sum |ΔC| over the
  open and the 30 minute closes (0 when nothing moved);
* ``move_atr``: (last complete close - open) ÷ ATR, signed: the direction so far, without which
  trend up and trend down cannot be told apart;
* ``rel_volume``: volume from the open to the checkpoint ÷ the mean volume to the same time of
  the previous ``rvol_lookback`` [20] sessions (at least ``rvol_min_history`` [5]); for an index
  the volume is its ETF proxy's (SPY for I:SPX, QQQ for I:NDX);
* ``nr4`` / ``nr7``: 1 when the prior session's range was the narrowest of the last 4 / 7;
* ``gamma_sign``: dealer gamma sign, always absent for now (options gates are not built yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalper.core.errors import ConfigError, DataError
from scalper.core.timeutil import NEW_YORK, datetime_to_ns
from scalper.regime.daily import MINUTE_NS, DailyStats, SessionBars, atr

INPUTS = ("or30_atr", "or60_atr", "ib_pct", "gap_atr", "er30", "move_atr", "rel_volume", "nr4", "nr7", "gamma_sign")
OPTIONAL_INPUTS = ("rel_volume", "gamma_sign")
PROXIES = {"I:SPX": "SPY", "I:NDX": "QQQ"}


@dataclass(frozen=True, kw_only=True, slots=True)
class MorningParams:
    """Look-backs of the morning inputs (see the module docstring)."""

    atr_period: int = 14
    ib_minutes: int = 60
    ib_lookback: int = 60
    ib_min_history: int = 20
    er_minutes: int = 30
    rvol_lookback: int = 20
    rvol_min_history: int = 5

    def __post_init__(self) -> None:
        values = (self.atr_period, self.ib_minutes, self.ib_lookback, self.ib_min_history, self.er_minutes)
        if min(values) < 1 or self.rvol_lookback < 1 or self.rvol_min_history < 1:
            raise ConfigError("MorningParams: expected every period and look-back >= 1")
        if self.ib_min_history > self.ib_lookback or self.rvol_min_history > self.rvol_lookback:
            raise ConfigError("MorningParams: expected min_history <= lookback")


@dataclass(frozen=True, kw_only=True, slots=True)
class MorningInputs:
    """Inputs of one session at one checkpoint; ``missing`` says why an input is None."""

    symbol: str
    day: dt.date
    checkpoint: str
    values: dict[str, float | None]
    missing: dict[str, str] = field(default_factory=dict)


def parse_checkpoint(text: str) -> dt.time:
    """'10:00' -> 10:00 (New York time); raises ConfigError on anything else."""
    try:
        value = dt.time.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"checkpoint {text!r} is invalid: expected HH:MM New York time, e.g. 10:00") from None
    if value.second or value.microsecond or value.tzinfo is not None:
        raise ConfigError(f"checkpoint {text!r} is invalid: expected whole minutes HH:MM")
    return value


def checkpoint_ns(day: dt.date, checkpoint: str, open_ns: int, close_ns: int) -> int:
    """The checkpoint on ``day`` in UTC ns; it must lie inside the (calendar) session."""
    t = parse_checkpoint(checkpoint)
    ns = datetime_to_ns(dt.datetime.combine(day, t, tzinfo=NEW_YORK))
    if not open_ns < ns <= close_ns:
        raise DataError(f"{day}: checkpoint {checkpoint} is outside the session (open to close)")
    return ns


def _opening_width(bars: SessionBars, minutes: int) -> float:
    first = bars.offsets() < minutes
    return float(bars.high[first].max() - bars.low[first].min())


def _efficiency(bars: SessionBars, minutes: int) -> float:
    path = np.concatenate(([bars.open[0]], bars.close[bars.offsets() < minutes]))
    travel = float(np.abs(np.diff(path)).sum())
    return abs(float(path[-1] - path[0])) / travel if travel > 0 else 0.0


def _percentile(value: float, others: Sequence[float]) -> float:
    arr = np.asarray(others)
    return float((np.sum(arr < value) + 0.5 * np.sum(arr == value)) / arr.size)


class _Inputs:
    """Collects values and reasons, so each rule below stays one line."""

    def __init__(self) -> None:
        self.values: dict[str, float | None] = {}
        self.missing: dict[str, str] = {}

    def put(self, name: str, value: float | None, reason: str = "") -> None:
        self.values[name] = value
        if value is None:
            self.missing[name] = reason


def morning_inputs(
    today: SessionBars,
    prior: Sequence[DailyStats],
    checkpoint: str,
    *,
    volume_today: SessionBars | None = None,
    volume_prior: Sequence[DailyStats] = (),
    params: MorningParams | None = None,
) -> MorningInputs:
    """Inputs of ``today`` at ``checkpoint`` from bars complete by then and earlier sessions only."""
    p = params or MorningParams()
    cp = checkpoint_ns(today.day, checkpoint, today.open_ns, today.close_ns)
    if prior and prior[-1].day >= today.day:
        raise DataError(f"{today.symbol} {today.day}: prior sessions must end before the day, last was {prior[-1].day}")
    bars = today.complete_by(cp)
    if bars.ts_ns.size == 0 or bars.offsets()[0] != 0:
        raise DataError(f"{today.symbol} {today.day}: no bar for the first minute before {checkpoint}")
    elapsed = (cp - today.open_ns) // MINUTE_NS
    out = _Inputs()
    daily_atr = atr(prior, p.atr_period)
    atr_reason = f"ATR({p.atr_period}) needs {p.atr_period + 1} prior sessions, had {len(prior)}"

    def per_atr(x: float) -> float | None:
        return x / daily_atr if daily_atr is not None and daily_atr > 0 else None

    for minutes in (30, 60):
        if elapsed < minutes:
            out.put(f"or{minutes}_atr", None, f"checkpoint {checkpoint} is less than {minutes} minutes after the open")
        else:
            out.put(f"or{minutes}_atr", per_atr(_opening_width(bars, minutes)), atr_reason)
    window = int(min(p.ib_minutes, elapsed))
    history = [s.opening_range(window) for s in prior[-p.ib_lookback :]]
    ib = _percentile(_opening_width(bars, window), history) if len(history) >= p.ib_min_history else None
    out.put("ib_pct", ib, f"needs {p.ib_min_history} prior sessions, had {len(history)}")
    opened, last = float(bars.open[0]), float(bars.close[-1])
    out.put("gap_atr", per_atr(opened - prior[-1].close) if prior else None, atr_reason)
    er = _efficiency(bars, p.er_minutes) if elapsed >= p.er_minutes else None
    out.put("er30", er, f"checkpoint {checkpoint} is less than {p.er_minutes} minutes after the open")
    out.put("move_atr", per_atr(last - opened), atr_reason)
    out.put("rel_volume", *_relative_volume(volume_today, volume_prior, cp, elapsed, p))
    for k in (4, 7):
        ranges = [s.range for s in prior[-k:]]
        narrowest = (1.0 if ranges[-1] <= min(ranges) else 0.0) if len(ranges) == k else None
        out.put(f"nr{k}", narrowest, f"needs {k} prior sessions, had {len(ranges)}")
    out.put("gamma_sign", None, "dealer gamma is not available yet (options gates come later)")
    return MorningInputs(
        symbol=today.symbol, day=today.day, checkpoint=checkpoint, values=out.values, missing=out.missing
    )


def _relative_volume(
    today: SessionBars | None, prior: Sequence[DailyStats], cp: int, elapsed: int, p: MorningParams
) -> tuple[float | None, str]:
    if today is None:
        return None, "no volume bars for the day (the index has no volume and its proxy is not stored)"
    bars = today.complete_by(cp)
    if bars.volume.size == 0 or not np.all(np.isfinite(bars.volume)):
        return None, f"{today.symbol} has no volume before the checkpoint"
    past = [s.cum_volume[min(elapsed, s.cum_volume.size) - 1] for s in prior[-p.rvol_lookback :]]
    past = [v for v in past if np.isfinite(v)]
    if len(past) < p.rvol_min_history or not np.mean(past) > 0:
        return None, f"needs {p.rvol_min_history} prior sessions of {today.symbol} volume, had {len(past)}"
    return float(bars.volume.sum() / np.mean(past)), ""
