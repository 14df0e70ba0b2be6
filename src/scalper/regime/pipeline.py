"""From one symbol's sessions to labels, morning inputs and the model's data set (pure).

Sessions that cannot be used are never dropped silently: each becomes a :class:`Skip` with the
reason, which the caller reports and stores. Prior sessions always mean the *usable* finished
sessions strictly before the day (a skipped session is left out of the look-backs).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

import scalper
from scalper.core.errors import DataError
from scalper.regime.daily import DailyStats, SessionBars, SessionRules, summarise
from scalper.regime.labels import LABELS, DayLabel, LabelParams, label_session
from scalper.regime.model import MODEL_CODE_VERSION, LogitParams
from scalper.regime.morning import INPUTS, MorningInputs, MorningParams, morning_inputs

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, slots=True)
class Skip:
    """A session left out, and why."""

    symbol: str
    day: dt.date
    stage: str  # summary | label | morning@10:00 | dataset@10:00
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class History:
    """One symbol's usable finished sessions (summaries, in date order) and the skipped ones."""

    symbol: str
    stats: list[DailyStats]
    skips: list[Skip]

    def prior(self, day: dt.date) -> list[DailyStats]:
        """Summaries of the usable sessions strictly before ``day``."""
        return self.stats[: bisect.bisect_left([s.day for s in self.stats], day)]


def summarise_history(symbol: str, sessions: Sequence[SessionBars], rules: SessionRules | None = None) -> History:
    stats, skips = [], []
    for bars in sessions:
        try:
            stats.append(summarise(bars, rules))
        except DataError as exc:
            skips.append(Skip(symbol=symbol, day=bars.day, stage="summary", reason=str(exc)))
    return History(symbol=symbol, stats=stats, skips=skips)


def label_history(history: History, params: LabelParams | None = None) -> tuple[list[DayLabel], list[Skip]]:
    """Label every usable session that has enough prior sessions."""
    labels, skips = [], []
    for i, stats in enumerate(history.stats):
        try:
            labels.append(label_session(stats, history.stats[:i], params))
        except DataError as exc:
            skips.append(Skip(symbol=history.symbol, day=stats.day, stage="label", reason=str(exc)))
    return labels, skips


def morning_history(
    sessions: Sequence[SessionBars],
    history: History,
    checkpoint: str,
    *,
    volume: tuple[dict[dt.date, SessionBars], History] | None = None,
    params: MorningParams | None = None,
) -> tuple[list[MorningInputs], list[Skip]]:
    """Morning inputs of every session at ``checkpoint``; ``volume`` is the proxy's bars and history."""
    rows, skips = [], []
    for bars in sessions:
        try:
            rows.append(
                morning_inputs(
                    bars,
                    history.prior(bars.day),
                    checkpoint,
                    volume_today=volume[0].get(bars.day) if volume else None,
                    volume_prior=volume[1].prior(bars.day) if volume else (),
                    params=params,
                )
            )
        except DataError as exc:
            skips.append(Skip(symbol=history.symbol, day=bars.day, stage=f"morning@{checkpoint}", reason=str(exc)))
    return rows, skips


def choose_inputs(rows: Sequence[MorningInputs], min_share: float = 0.9) -> tuple[str, ...]:
    """Inputs present on at least ``min_share`` of the rows (in the order of ``INPUTS``)."""
    if not rows:
        return ()
    return tuple(n for n in INPUTS if sum(r.values.get(n) is not None for r in rows) >= min_share * len(rows))


@dataclass(frozen=True, kw_only=True, slots=True)
class DataSet:
    """Labelled sessions with every chosen input present, in date order."""

    days: list[dt.date]
    x: F64
    y: I64
    inputs: tuple[str, ...]
    skips: list[Skip]


def dataset(
    labels: Sequence[DayLabel], rows: Sequence[MorningInputs], inputs: tuple[str, ...], checkpoint: str
) -> DataSet:
    """Join labels and morning inputs by day; days lacking a chosen input are skipped with the reason."""
    by_day = {label.day: label for label in labels}
    days, xs, ys, skips = [], [], [], []
    for r in rows:
        label = by_day.get(r.day)
        if label is None:
            continue
        absent = [n for n in inputs if r.values.get(n) is None]
        if absent:
            reason = "; ".join(f"{n}: {r.missing.get(n, 'absent')}" for n in absent)
            skips.append(Skip(symbol=r.symbol, day=r.day, stage=f"dataset@{checkpoint}", reason=reason))
            continue
        days.append(r.day)
        xs.append([float(r.values[n]) for n in inputs])  # type: ignore[arg-type]
        ys.append(LABELS.index(label.label))
    x = np.asarray(xs, dtype=np.float64).reshape(len(xs), len(inputs))
    return DataSet(days=days, x=x, y=np.asarray(ys, dtype=np.int64), inputs=inputs, skips=skips)


def model_version(inputs: tuple[str, ...], label: LabelParams, morning: MorningParams, logit: LogitParams) -> str:
    """A version that changes with the inputs, any parameter, or the code version."""
    blob = json.dumps(
        {
            "code": MODEL_CODE_VERSION,
            "scalper": scalper.__version__,
            "inputs": list(inputs),
            "label": asdict(label),
            "morning": asdict(morning),
            "logit": asdict(logit),
        },
        sort_keys=True,
    )
    return "logit-" + hashlib.sha256(blob.encode()).hexdigest()[:10]
