"""Walk-forward folds over an ordered list of sessions (pure).

Tune on a training window, freeze, evaluate on the test window that follows it, roll forward; report
only the out-of-sample days (docs/ANALYTICS.md, "Honest evaluation"; López de Prado, *Advances in
Financial Machine Learning*, 2018, ch. 11-12, for why the test must follow the training in time).

Definitions, for ``days`` d₀ < d₁ < … < d_{D−1} and fold k = 0, 1, …:

* the test window starts at position s_k = ``train`` + k · ``step`` and holds the ``test`` days
  d[s_k], …, d[s_k + test − 1];
* rolling (default): the training window is the ``train`` days just before it, d[s_k − train], …,
  d[s_k − 1]; anchored (expanding): all the days before it, d₀, …, d[s_k − 1];
* ``step`` defaults to ``test``: the test windows are consecutive and disjoint and tile the days
  after the first training window; ``step`` > ``test`` leaves days untested between them,
  ``step`` < ``test`` makes them overlap (a day is then tested by several folds, reported once by
  :func:`out_of_sample`);
* the last test window, when fewer than ``test`` days remain, is dropped, or kept shorter with
  ``partial=True``.

Every test day of a fold comes after every training day of that fold (no look-ahead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from scalper.core.errors import ConfigError, DataError


@dataclass(frozen=True, kw_only=True, slots=True)
class Fold:
    """One walk-forward fold: tune on ``train``, then evaluate, frozen, on ``test`` (both in order)."""

    train: tuple[dt.date, ...]
    test: tuple[dt.date, ...]
    index: int  # 0, 1, … in time order


def folds(
    days: Sequence[dt.date],
    *,
    train: int,
    test: int,
    step: int | None = None,
    anchored: bool = False,
    partial: bool = False,
) -> list[Fold]:
    """The walk-forward folds over ``days`` (strictly increasing), rolling or ``anchored``."""
    _positive("train", train)
    _positive("test", test)
    stride = test if step is None else step
    _positive("step", stride)
    ordered = _ordered(days)
    need = train + (1 if partial else test)
    if len(ordered) < need:
        raise DataError(
            f"walk-forward: expected at least {need} days (train {train} + "
            f"{'1 test day' if partial else f'test {test}'}), was {len(ordered)}"
        )
    out: list[Fold] = []
    start = train
    while start < len(ordered):
        end = start + test
        if end > len(ordered) and not partial:
            break
        out.append(
            Fold(
                train=tuple(ordered[0 if anchored else start - train : start]),
                test=tuple(ordered[start:end]),
                index=len(out),
            )
        )
        start += stride
    return out


def out_of_sample(days: Sequence[dt.date], fold_list: Sequence[Fold]) -> list[dt.date]:
    """The days tested by any of ``fold_list``, in the order of ``days``, each at most once: the only
    days whose results a walk-forward evaluation reports."""
    ordered = _ordered(days)
    known = set(ordered)
    tested: set[dt.date] = set()
    for f in fold_list:
        for d in f.test:
            if d not in known:
                raise DataError(f"walk-forward: expected test days among the days, fold {f.index} tests {d}")
        tested.update(f.test)
    return [d for d in ordered if d in tested]


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"walk-forward {name}: expected an integer >= 1, was {value!r}")


def _ordered(days: Sequence[dt.date]) -> list[dt.date]:
    out = list(days)
    for i, d in enumerate(out):
        if not isinstance(d, dt.date) or isinstance(d, dt.datetime):
            raise DataError(f"walk-forward: expected dates (not datetimes), was {d!r} at position {i}")
        if i > 0 and not out[i - 1] < d:
            raise DataError(
                f"walk-forward: expected strictly increasing days, was {out[i - 1]} then {d} at position {i}"
            )
    return out
