"""The regime jobs over the database: label history, walk-forward report, score days.

Each job reads the symbol's stored minute bars (with enough earlier sessions for the
look-backs), runs the pure pipeline, stores what it computed and returns plain results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from scalper.core.errors import DataError
from scalper.regime import store
from scalper.regime.daily import SessionBars
from scalper.regime.labels import LABELS, DayLabel, LabelParams, label_version
from scalper.regime.model import LogitParams, fit_logit
from scalper.regime.morning import PROXIES, MorningInputs, MorningParams, morning_inputs
from scalper.regime.pipeline import (
    History,
    Skip,
    choose_inputs,
    dataset,
    label_history,
    model_version,
    morning_history,
    summarise_history,
)
from scalper.regime.walkforward import Evaluation, WalkForwardParams, walk_forward

DEFAULT_SYMBOLS = ("I:SPX", "I:NDX")
DEFAULT_CHECKPOINTS = ("10:00", "10:30")


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Every parameter of the regime jobs."""

    label: LabelParams = field(default_factory=LabelParams)
    morning: MorningParams = field(default_factory=MorningParams)
    logit: LogitParams = field(default_factory=LogitParams)
    walk: WalkForwardParams = field(default_factory=WalkForwardParams)

    @property
    def warmup(self) -> int:
        """Sessions read before the first requested one, for the look-backs."""
        m = self.morning
        return max(self.label.history_needed, m.ib_lookback, m.rvol_lookback, m.atr_period + 1) + 1


@dataclass(frozen=True, kw_only=True, slots=True)
class SymbolData:
    """One symbol's sessions, their summaries, and its volume source (itself or its ETF proxy)."""

    symbol: str
    sessions: list[SessionBars]
    history: History
    volume: tuple[dict[dt.date, SessionBars], History] | None


def load(
    conn: psycopg.Connection[Any], symbol: str, first: dt.date | None, last: dt.date | None, s: Settings
) -> SymbolData:
    """Read ``symbol`` (and its proxy's volume) from the warm-up before ``first`` to ``last``."""
    stored = store.stored_dates(conn, symbol)
    if stored is None:
        raise DataError(f"no one-minute bars stored for {symbol}")
    start = max(stored[0], store.sessions_before(first, s.warmup)) if first else stored[0]
    end = min(stored[1], last) if last else stored[1]
    sessions = store.read_sessions(conn, symbol, start, end)
    history = summarise_history(symbol, sessions)
    volume = None
    if np.isfinite(np.concatenate([b.volume for b in sessions] or [np.array([np.nan])])).any():
        volume = ({b.day: b for b in sessions}, history)
    elif symbol in PROXIES and store.stored_dates(conn, PROXIES[symbol]) is not None:
        proxy = store.read_sessions(conn, PROXIES[symbol], start, end)
        volume = ({b.day: b for b in proxy}, summarise_history(PROXIES[symbol], proxy))
    return SymbolData(symbol=symbol, sessions=sessions, history=history, volume=volume)


def _within(day: dt.date, first: dt.date | None, last: dt.date | None) -> bool:
    return (first is None or day >= first) and (last is None or day <= last)


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelResult:
    symbol: str
    version: str
    labels: list[DayLabel]
    skips: list[Skip]


def run_label(
    conn: psycopg.Connection[Any], symbol: str, first: dt.date | None, last: dt.date | None, s: Settings
) -> LabelResult:
    """Label the stored sessions of ``symbol`` in [first, last] and store labels and skips."""
    data = load(conn, symbol, first, last, s)
    labels, skips = label_history(data.history, s.label)
    labels = [x for x in labels if _within(x.day, first, last)]
    skips = [k for k in (*data.history.skips, *skips) if _within(k.day, first, last)]
    version = label_version(s.label)
    store.store_labels(conn, version, labels, skips)
    return LabelResult(symbol=symbol, version=version, labels=labels, skips=skips)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportResult:
    symbol: str
    checkpoint: str
    version: str
    inputs: tuple[str, ...]
    evaluation: Evaluation
    skipped: int
    model: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "checkpoint": self.checkpoint,
            "model_version": self.version,
            "inputs": list(self.inputs),
            "skipped_sessions": self.skipped,
            **self.evaluation.to_json(),
        }


def run_report(
    conn: psycopg.Connection[Any],
    symbol: str,
    checkpoints: tuple[str, ...],
    first: dt.date | None,
    last: dt.date | None,
    s: Settings,
) -> list[ReportResult]:
    """Walk-forward evaluation per checkpoint; stores the evaluation and the model fitted on all rows."""
    data = load(conn, symbol, first, last, s)
    labels, label_skips = label_history(data.history, s.label)
    labels = [x for x in labels if _within(x.day, first, last)]
    results = []
    for cp in checkpoints:
        sessions = [b for b in data.sessions if _within(b.day, first, last)]
        rows, skips = morning_history(sessions, data.history, cp, volume=data.volume, params=s.morning)
        inputs = choose_inputs(rows)
        ds = dataset(labels, rows, inputs, cp)
        version = model_version(inputs, s.label, s.morning, s.logit)
        wf = walk_forward(ds.days, ds.x, ds.y, classes=LABELS, inputs=inputs, params=s.walk, logit=s.logit)
        evaluation = {**wf.evaluation.to_json(), "inputs": list(inputs), "walk_forward": _asdict(s.walk)}
        store.store_evaluation(conn, version=version, symbol=symbol, checkpoint=cp, evaluation=evaluation)
        model = fit_logit(ds.x, ds.y, classes=LABELS, inputs=inputs, params=s.logit).to_json()
        store.store_model(
            conn,
            version=version,
            symbol=symbol,
            checkpoint=cp,
            label_version=label_version(s.label),
            train_first=ds.days[0],
            train_last=ds.days[-1],
            params={**model, "logit": _asdict(s.logit)},
        )
        skipped = len(
            {k.day for k in (*data.history.skips, *label_skips, *skips, *ds.skips) if _within(k.day, first, last)}
        )
        results.append(
            ReportResult(
                symbol=symbol,
                checkpoint=cp,
                version=version,
                inputs=inputs,
                evaluation=wf.evaluation,
                skipped=skipped,
                model=model,
            )
        )
    return results


@dataclass(frozen=True, kw_only=True, slots=True)
class Score:
    version: str
    inputs: MorningInputs
    probabilities: dict[str, float]
    n_train: int


def run_score(
    conn: psycopg.Connection[Any], symbol: str, days: list[dt.date], checkpoints: tuple[str, ...], s: Settings
) -> list[Score]:
    """Score each day at each checkpoint with a model fitted on the labelled sessions before it."""
    data = load(conn, symbol, None, max(days), s)
    by_day = {b.day: b for b in data.sessions}
    labels, _ = label_history(data.history, s.label)
    scores = []
    for day in sorted(days):
        if day not in by_day:
            raise DataError(
                f"{symbol} {day}: not an XNYS session with stored bars (stored up to {data.sessions[-1].day})"
            )
        for cp in checkpoints:
            rows, _ = morning_history(
                [b for b in data.sessions if b.day < day], data.history, cp, volume=data.volume, params=s.morning
            )
            inputs = choose_inputs(rows)
            ds = dataset([x for x in labels if x.day < day], rows, inputs, cp)
            if len(ds.days) < s.walk.min_train:
                raise DataError(
                    f"{symbol} {day} @ {cp}: needs {s.walk.min_train} labelled sessions before it, had {len(ds.days)}"
                )
            today = morning_inputs(
                by_day[day],
                data.history.prior(day),
                cp,
                params=s.morning,
                volume_today=data.volume[0].get(day) if data.volume else None,
                volume_prior=data.volume[1].prior(day) if data.volume else (),
            )
            absent = [n for n in inputs if today.values.get(n) is None]
            if absent:
                raise DataError(
                    f"{symbol} {day} @ {cp}: inputs not computable: "
                    + "; ".join(f"{n}: {today.missing.get(n)}" for n in absent)
                )
            model = fit_logit(ds.x, ds.y, classes=LABELS, inputs=inputs, params=s.logit)
            x = np.array([[today.values[n] for n in inputs]], dtype=np.float64)
            probs = dict(zip(LABELS, map(float, model.predict_proba(x)[0]), strict=True))
            version = model_version(inputs, s.label, s.morning, s.logit)
            store.store_model(
                conn,
                version=version,
                symbol=symbol,
                checkpoint=cp,
                label_version=label_version(s.label),
                train_first=ds.days[0],
                train_last=ds.days[-1],
                params={**model.to_json(), "logit": _asdict(s.logit)},
            )
            store.store_scores(conn, version, [(today, probs)])
            scores.append(Score(version=version, inputs=today, probabilities=probs, n_train=model.n_train))
    return scores


def _asdict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(obj)
