"""Walk-forward evaluation of the morning model, and the scores it reports (pure numpy).

The rows are sessions in date order. The first fit uses the first ``min_train`` rows; it
predicts the next ``step`` rows; then the model is refitted on every row before the next block
(expanding window; ``window`` rows only when set: rolling), and so on. A prediction never
comes from a model that saw its day or any later day.

Scores over all predicted rows: the confusion matrix (rows actual, columns predicted = the most
probable class), accuracy, the multi-class Brier score ``mean_i sum_k (p_ik - o_ik)^2`` (0 is
perfect, 2 the worst; a uniform guess over three classes scores 2/3), the majority-class
baseline accuracy (the share of the most frequent actual class among the predicted rows: the
best a constant guess could do), the climatology Brier score (predicting the training class
frequencies of each block) and a reliability table (one-vs-rest probabilities pooled over
classes, in ``bins`` equal-width bins: mean predicted vs observed frequency).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import ConfigError, DataError
from scalper.regime.model import LogitParams, fit_logit

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, slots=True)
class WalkForwardParams:
    """Training length before the first prediction, block length, and optional rolling window."""

    min_train: int = 60
    step: int = 20
    window: int | None = None
    bins: int = 5

    def __post_init__(self) -> None:
        if self.min_train < 1 or self.step < 1 or self.bins < 1 or (self.window is not None and self.window < 1):
            raise ConfigError("WalkForwardParams: expected min_train, step, bins (and window) >= 1")


@dataclass(frozen=True, kw_only=True, slots=True)
class Evaluation:
    """What the walk-forward measured."""

    classes: tuple[str, ...]
    confusion: list[list[int]]
    accuracy: float
    brier: float
    baseline_accuracy: float
    baseline_class: str
    climatology_brier: float
    n: int
    refits: int
    first_day: dt.date
    last_day: dt.date
    reliability: list[dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "confusion": self.confusion,
            "accuracy": self.accuracy,
            "brier": self.brier,
            "baseline_accuracy": self.baseline_accuracy,
            "baseline_class": self.baseline_class,
            "climatology_brier": self.climatology_brier,
            "n": self.n,
            "refits": self.refits,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "reliability": self.reliability,
        }


def confusion_matrix(actual: I64, predicted: I64, k: int) -> I64:
    """Counts: rows actual class, columns predicted class."""
    matrix: I64 = np.bincount(actual * k + predicted, minlength=k * k).reshape(k, k).astype(np.int64)
    return matrix


def brier_score(probabilities: F64, actual: I64) -> float:
    """Multi-class Brier score: mean over rows of the squared distance to the one-hot outcome."""
    onehot = np.eye(probabilities.shape[1])[actual]
    return float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))


def reliability(probabilities: F64, actual: I64, bins: int) -> list[dict[str, float]]:
    """One-vs-rest reliability: per probability bin, count, mean predicted and observed frequency."""
    p = probabilities.ravel()
    o = np.eye(probabilities.shape[1])[actual].ravel()
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "bin_low": b / bins,
                    "bin_high": (b + 1) / bins,
                    "count": float(inside.sum()),
                    "predicted": float(p[inside].mean()),
                    "observed": float(o[inside].mean()),
                }
            )
    return rows


@dataclass(frozen=True, kw_only=True, slots=True)
class WalkForwardResult:
    """Per-row predictions (days, probabilities) and the evaluation."""

    days: list[dt.date]
    probabilities: F64
    actual: I64
    evaluation: Evaluation


def walk_forward(
    days: Sequence[dt.date],
    x: F64,
    y: I64,
    *,
    classes: tuple[str, ...],
    inputs: tuple[str, ...],
    params: WalkForwardParams | None = None,
    logit: LogitParams | None = None,
) -> WalkForwardResult:
    """Fit on earlier rows only, predict each block, and score all predictions."""
    wf = params or WalkForwardParams()
    n, k = len(days), len(classes)
    if any(b <= a for a, b in itertools.pairwise(days)):
        raise DataError("walk_forward: days must be strictly increasing")
    if n <= wf.min_train:
        raise DataError(f"walk_forward: needs more than {wf.min_train} labelled sessions with inputs, had {n}")
    probs, clim, refits = [], [], 0
    for start in range(wf.min_train, n, wf.step):
        lo = 0 if wf.window is None else max(0, start - wf.window)
        model = fit_logit(x[lo:start], y[lo:start], classes=classes, inputs=inputs, params=logit)
        block = slice(start, min(start + wf.step, n))
        probs.append(model.predict_proba(x[block]))
        freq = np.bincount(y[lo:start], minlength=k) / (start - lo)
        clim.append(np.tile(freq, (block.stop - block.start, 1)))
        refits += 1
    p, c = np.vstack(probs), np.vstack(clim)
    actual = y[wf.min_train :]
    predicted = np.argmax(p, axis=1)
    counts = np.bincount(actual, minlength=k)
    evaluation = Evaluation(
        classes=classes,
        confusion=confusion_matrix(actual, predicted, k).tolist(),
        accuracy=float(np.mean(predicted == actual)),
        brier=brier_score(p, actual),
        baseline_accuracy=float(counts.max() / actual.size),
        baseline_class=classes[int(np.argmax(counts))],
        climatology_brier=brier_score(c, actual),
        n=int(actual.size),
        refits=refits,
        first_day=days[wf.min_train],
        last_day=days[-1],
        reliability=reliability(p, actual, wf.bins),
    )
    return WalkForwardResult(days=list(days[wf.min_train :]), probabilities=p, actual=actual, evaluation=evaluation)
