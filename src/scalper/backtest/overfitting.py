"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation (pure).

Bailey, Borwein, López de Prado & Zhu, "The probability of backtest overfitting", Journal of
Computational Finance 20(4), 2017 (CSCV).

Definitions, for a performance matrix ``M`` of T observations (rows, in time order, e.g. days) by N
configurations (columns, e.g. the daily PnL of each parameter set tried):

* the T rows are cut into S (even) contiguous blocks with ``np.array_split`` (sizes differ by at
  most one row);
* each of the C(S, S/2) sets of S/2 blocks is once the in-sample (IS) set, its complement the
  out-of-sample (OOS) set (so every split also appears with the roles swapped: "symmetric"); the
  combinations are enumerated in the order of ``itertools.combinations(range(S), S // 2)``, the
  rows of each set kept in time order;
* the score of a configuration on a set of rows is a performance statistic of its column restricted
  to those rows: by default the Sharpe ratio mean / standard deviation (ddof 1), see
  :func:`sharpe_scores`; or any ``metric(matrix) -> one score per column``;
* n* is the configuration with the best IS score (the first one on a tie);
* ω = r / (N + 1), r the rank of n*'s OOS score among the N OOS scores (1 = worst, ties take the
  average of their ranks, as ``scipy.stats.rankdata``); λ = ln(ω / (1 − ω)) its logit;
* **PBO** = the fraction of combinations with λ ≤ 0: the configuration chosen in sample is at or
  below the median out of sample;
* performance degradation: the pairs (IS score of n*, OOS score of n*) per combination, and the
  probability of OOS loss = the fraction of combinations where that OOS score is < 0.

A configuration without skill among N gives λ symmetric around 0 and PBO near 1/2; a real edge,
present in every block, is picked in sample and stays on top out of sample: PBO near 0.

Zero variance: a column whose values do not vary on a set of rows (a configuration that never
trades there: all zeros) has Sharpe score 0 on that set, whatever its level — neither evidence of
skill nor of its absence — rather than an error or an infinite ratio.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scalper.core.errors import ConfigError, DataError

Metric = Callable[[NDArray[np.float64]], ArrayLike]
"""A performance statistic: a (rows, N) matrix in, N scores out (higher is better)."""

MAX_COMBINATIONS = 1_000_000
"""The most combinations evaluated: C(22, 11) = 705,432 is accepted, C(24, 12) is not."""

_CHUNK = 2048  # combinations per vectorised step (bounds the memory of the zero-variance test)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class PboResult:
    """The outcome of CSCV; arrays have one entry per combination, in ``itertools`` order."""

    pbo: float  # fraction of combinations with logit <= 0
    logits: NDArray[np.float64]  # λ = ln(ω / (1 − ω))
    oos_ranks: NDArray[np.float64]  # ω = OOS rank of the IS best / (N + 1), in (0, 1)
    selected: NDArray[np.int64]  # n*, the column chosen in sample
    is_scores: NDArray[np.float64]  # IS score of n*
    oos_scores: NDArray[np.float64]  # OOS score of n* (with is_scores: the degradation pairs)
    is_best_oos_rank_mean: float  # mean of ω (1/2 without skill)
    prob_oos_loss: float  # fraction of combinations with an OOS score of n* < 0
    combinations: int  # C(S, S/2)
    n_configs: int  # N
    n_blocks: int  # S
    n_observations: int  # T

    def degradation(self) -> tuple[float, float]:
        """(slope, intercept) of the least-squares line OOS score = slope · IS score + intercept over
        the combinations; a negative slope is the paper's sign of overfitting."""
        x = self.is_scores
        y = self.oos_scores
        dx = x - x.mean()
        var = float(dx @ dx)
        if var == 0.0:
            raise DataError("pbo degradation: expected in-sample scores that vary, all were equal")
        slope = float(dx @ (y - y.mean())) / var
        return slope, float(y.mean()) - slope * float(x.mean())


def sharpe_scores(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sharpe ratio of each column (mean / standard deviation, ddof 1); 0 for a column that does not
    vary. The default metric of :func:`pbo`, as a callable for reference or composition."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2:
        raise DataError(f"sharpe scores: expected a matrix of at least 2 rows, was of shape {m.shape}")
    sd = m.std(axis=0, ddof=1)
    constant = (m == m[0]).all(axis=0)
    out = np.zeros(m.shape[1])
    out[~constant] = m.mean(axis=0)[~constant] / sd[~constant]
    return out


def pbo(matrix: ArrayLike, *, blocks: int = 16, metric: Metric | None = None) -> PboResult:
    """Probability of backtest overfitting of the configurations (columns) of ``matrix`` by CSCV over
    ``blocks`` contiguous blocks of its rows (see the module docstring for the definitions).

    ``metric`` scores each column on a set of rows (higher is better); by default the Sharpe ratio,
    computed for all the combinations at once from per-block sums. A custom metric is called twice
    per combination (in sample, out of sample) with the rows of that set in time order.
    """
    m = _validated(matrix, blocks)
    t, n = m.shape
    row_blocks = np.array_split(np.arange(t), blocks)
    combos = np.array(list(itertools.combinations(range(blocks), blocks // 2)), dtype=np.int64)
    k = len(combos)
    in_sample = np.zeros((k, blocks), dtype=bool)
    in_sample[np.arange(k)[:, None], combos] = True

    if metric is None:
        if min(len(b) for b in row_blocks) * (blocks // 2) < 2:
            raise DataError(f"pbo: the Sharpe ratio needs at least 2 rows per half, had {t} rows in {blocks} blocks")
        is_all, oos_all = _sharpe_by_mask(m, row_blocks, in_sample)
    else:
        is_all, oos_all = _metric_by_mask(m, row_blocks, in_sample, metric)

    best = np.argmax(is_all, axis=1)
    rows = np.arange(k)
    is_best = is_all[rows, best]
    oos_best = oos_all[rows, best]
    below = (oos_all < oos_best[:, None]).sum(axis=1)
    equal = (oos_all == oos_best[:, None]).sum(axis=1)  # includes n* itself
    rank = below + (equal + 1) / 2.0
    omega = rank / (n + 1)
    logits = np.log(omega / (1.0 - omega))
    for a in (logits, omega, best, is_best, oos_best):
        a.setflags(write=False)
    return PboResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        oos_ranks=omega,
        selected=best.astype(np.int64, copy=False),
        is_scores=is_best,
        oos_scores=oos_best,
        is_best_oos_rank_mean=float(omega.mean()),
        prob_oos_loss=float(np.mean(oos_best < 0.0)),
        combinations=k,
        n_configs=n,
        n_blocks=blocks,
        n_observations=t,
    )


def _validated(matrix: ArrayLike, blocks: int) -> NDArray[np.float64]:
    if isinstance(blocks, bool) or not isinstance(blocks, int | np.integer):
        raise ConfigError(f"pbo blocks: expected an even integer >= 2, was {blocks!r}")
    if blocks < 2 or blocks % 2 != 0:
        raise ConfigError(f"pbo blocks: expected an even integer >= 2, was {blocks}")
    combinations = math.comb(int(blocks), int(blocks) // 2)
    if combinations > MAX_COMBINATIONS:
        raise ConfigError(
            f"pbo blocks: expected at most {MAX_COMBINATIONS:,} combinations, was {blocks} blocks "
            f"({combinations:,} combinations)"
        )
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"pbo: expected a numeric matrix, was {type(matrix).__name__} ({exc})") from exc
    if m.ndim != 2:
        raise DataError(f"pbo: expected a 2-D matrix (observations x configurations), was {m.ndim}-D {m.shape}")
    t, n = m.shape
    if n < 2:
        raise DataError(f"pbo: expected at least 2 configurations (columns), was {n}")
    if t < blocks:
        raise DataError(f"pbo: expected at least as many observations (rows) as blocks ({blocks}), was {t}")
    if not np.isfinite(m).all():
        bad = np.argwhere(~np.isfinite(m))[0]
        raise DataError(f"pbo: expected finite values, was {m[bad[0], bad[1]]} at row {bad[0]}, column {bad[1]}")
    return m


def _sharpe_by_mask(
    m: NDArray[np.float64], row_blocks: list[NDArray[np.int64]], in_sample: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sharpe ratios of every column on the in-sample and the out-of-sample rows of every combination.

    From per-block counts, sums and sums of squares of the columns centred on their overall mean
    (which keeps the one-pass variance accurate); a column is constant on a set of rows when its
    smallest and largest values there are equal (then its score is 0).
    """
    centre = m.mean(axis=0)
    x = m - centre
    count = np.array([len(b) for b in row_blocks], dtype=np.float64)
    s1 = np.stack([x[b].sum(axis=0) for b in row_blocks])
    s2 = np.stack([(x[b] * x[b]).sum(axis=0) for b in row_blocks])
    lo = np.stack([m[b].min(axis=0) for b in row_blocks])
    hi = np.stack([m[b].max(axis=0) for b in row_blocks])

    def scores(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        w = mask.astype(np.float64)
        n_rows = (w @ count)[:, None]
        mean_c = (w @ s1) / n_rows
        var = np.maximum((w @ s2 - n_rows * mean_c * mean_c) / (n_rows - 1.0), 0.0)
        constant = np.empty(var.shape, dtype=bool)
        for start in range(0, len(mask), _CHUNK):
            part = mask[start : start + _CHUNK, :, None]
            low = np.where(part, lo, np.inf).min(axis=1)
            high = np.where(part, hi, -np.inf).max(axis=1)
            constant[start : start + _CHUNK] = low == high
        out = np.zeros(var.shape)
        ok = ~constant & (var > 0.0)
        out[ok] = (mean_c + centre)[ok] / np.sqrt(var[ok])
        return out

    return scores(in_sample), scores(~in_sample)


def _metric_by_mask(
    m: NDArray[np.float64], row_blocks: list[NDArray[np.int64]], in_sample: NDArray[np.bool_], metric: Metric
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    n = m.shape[1]
    k = len(in_sample)
    is_all = np.empty((k, n))
    oos_all = np.empty((k, n))
    for i, mask in enumerate(in_sample):
        for target, chosen in ((is_all, mask), (oos_all, ~mask)):
            rows = np.concatenate([row_blocks[b] for b in np.flatnonzero(chosen)])
            target[i] = _metric_scores(metric, m[rows], n)
    return is_all, oos_all


def _metric_scores(metric: Metric, sub: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    scores = np.asarray(metric(sub), dtype=np.float64)
    if scores.shape != (n,):
        raise DataError(f"pbo metric: expected {n} scores (one per configuration), was of shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise DataError(f"pbo metric: expected finite scores, was {scores[~np.isfinite(scores)][0]}")
    return scores
