import datetime as dt

import numpy as np
import pytest

from scalper.core.errors import DataError
from scalper.regime.walkforward import WalkForwardParams, brier_score, confusion_matrix, walk_forward

CLASSES = ("trend_up", "trend_down", "balanced")


def test_confusion_matrix_counts_actual_rows_against_predicted_columns() -> None:
    actual = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 2, 1, 2, 2, 0])
    assert confusion_matrix(actual, predicted, 3).tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 2]]


@pytest.mark.parametrize(
    ("probabilities", "actual", "expected"),
    [
        ([[1.0, 0.0, 0.0]], [0], 0.0),
        ([[0.0, 1.0, 0.0]], [0], 2.0),
        ([[1 / 3, 1 / 3, 1 / 3]], [2], 2 / 3),
        ([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]], [0, 2], ((0.25 + 0.04 + 0.09) + (0.01 + 0.01 + 0.04)) / 2),
    ],
)
def test_multiclass_brier_score(probabilities: list[list[float]], actual: list[int], expected: float) -> None:
    assert brier_score(np.array(probabilities), np.array(actual)) == pytest.approx(expected)


def days(n: int) -> list[dt.date]:
    return [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)]


def data(n: int = 120, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.2, 0.2, 0.6])
    x = np.column_stack([np.array([2.0, -2.0, 0.0])[y] + rng.normal(size=n), rng.normal(size=n)])
    return x, y


def test_predictions_never_depend_on_the_predicted_day_or_later() -> None:
    x, y = data()
    params = WalkForwardParams(min_train=40, step=10)
    base = walk_forward(days(120), x, y, classes=CLASSES, inputs=("a", "b"), params=params)
    x2, y2 = x.copy(), y.copy()
    x2[70:], y2[70:] = -x2[70:], (y2[70:] + 1) % 3  # rewrite the future from day 70 on
    changed = walk_forward(days(120), x2, y2, classes=CLASSES, inputs=("a", "b"), params=params)
    assert np.array_equal(base.probabilities[:30], changed.probabilities[:30])  # days 40..69
    assert not np.array_equal(base.probabilities[30:], changed.probabilities[30:])


def test_evaluation_figures_follow_from_the_predictions() -> None:
    x, y = data(n=200)
    result = walk_forward(days(200), x, y, classes=CLASSES, inputs=("a", "b"), params=WalkForwardParams(min_train=50))
    e = result.evaluation
    predicted = result.probabilities.argmax(axis=1)
    assert e.n == 150 == sum(map(sum, e.confusion))
    assert e.accuracy == pytest.approx(np.mean(predicted == y[50:]))
    assert e.baseline_accuracy == pytest.approx(np.bincount(y[50:]).max() / 150)
    assert e.accuracy > e.baseline_accuracy  # the inputs carry the class
    assert e.brier < e.climatology_brier
    assert e.refits == 8 and e.first_day == days(200)[50]


def test_too_little_history_is_a_clear_error() -> None:
    x, y = data(n=30)
    with pytest.raises(DataError, match="needs more than 60 labelled sessions"):
        walk_forward(days(30), x, y, classes=CLASSES, inputs=("a", "b"))
