import numpy as np
import pytest

from scalper.regime.model import LogitParams, fit_logit, objective

CLASSES = ("trend_up", "trend_down", "balanced")
EXACT = LogitParams(l2=0.0, intercept_l2=0.0)


def test_unpenalised_fit_on_a_binary_input_returns_each_groups_class_frequencies() -> None:
    # Saturated model: the maximum-likelihood probabilities are the class shares within each group.
    x = np.array([[0.0]] * 10 + [[1.0]] * 10)
    y = np.array([0] * 2 + [1] * 3 + [2] * 5 + [0] * 6 + [1] * 1 + [2] * 3)
    model = fit_logit(x, y, classes=CLASSES, inputs=("flag",), params=EXACT)
    assert model.predict_proba(np.array([[0.0], [1.0]])) == pytest.approx(
        np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]), abs=1e-8
    )


def test_intercept_only_fit_returns_the_class_shares() -> None:
    x = np.zeros((8, 1))
    y = np.array([0, 1, 1, 2, 2, 2, 2, 2])
    model = fit_logit(x, y, classes=CLASSES, inputs=("constant",), params=LogitParams(l2=1.0, intercept_l2=0.0))
    assert model.predict_proba(np.zeros((1, 1)))[0] == pytest.approx([1 / 8, 2 / 8, 5 / 8], abs=1e-8)


def noisy_data(seed: int = 3, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 5.0, 0.1] + [0.0, 10.0, 0.0]
    eta = np.column_stack([1.5 * x[:, 0] - 0.2 * x[:, 1], -1.5 * x[:, 0] + 8 * x[:, 2], np.zeros(n)])
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    return x, y


def test_the_penalised_fit_is_a_minimum_of_its_objective() -> None:
    x, y = noisy_data()
    params = LogitParams(l2=2.0)
    model = fit_logit(x, y, classes=CLASSES, inputs=("a", "b", "c"), params=params)
    best = objective(model, x, y, params)
    rng = np.random.default_rng(0)
    for _ in range(200):
        nudged = type(model)(
            **{
                **{f: getattr(model, f) for f in model.__slots__},
                "coef": model.coef + rng.normal(scale=1e-3, size=model.coef.shape),
            }
        )
        assert objective(nudged, x, y, params) >= best - 1e-12
    # the gradient by central differences vanishes at the solution
    eps, grad = 1e-6, []
    for i in range(model.coef.size):
        step = np.zeros(model.coef.size)
        step[i] = eps
        up = type(model)(
            **{**{f: getattr(model, f) for f in model.__slots__}, "coef": model.coef + step.reshape(model.coef.shape)}
        )
        down = type(model)(
            **{**{f: getattr(model, f) for f in model.__slots__}, "coef": model.coef - step.reshape(model.coef.shape)}
        )
        grad.append((objective(up, x, y, params) - objective(down, x, y, params)) / (2 * eps))
    assert np.max(np.abs(grad)) < 1e-4


def test_the_fit_is_deterministic_and_recovers_the_signs_of_the_generating_weights() -> None:
    x, y = noisy_data(n=2000)
    a = fit_logit(x, y, classes=CLASSES, inputs=("a", "b", "c"), params=LogitParams(l2=0.1))
    b = fit_logit(x, y, classes=CLASSES, inputs=("a", "b", "c"), params=LogitParams(l2=0.1))
    assert np.array_equal(a.coef, b.coef)
    up, down = a.coef  # intercept, then standardised weights
    assert up[1] > 0 and up[2] < 0 and down[1] < 0 and down[3] > 0


def test_probabilities_sum_to_one_and_a_constant_input_gets_no_weight() -> None:
    x, y = noisy_data()
    x[:, 2] = 7.0
    model = fit_logit(x, y, classes=CLASSES, inputs=("a", "b", "c"))
    assert model.predict_proba(x).sum(axis=1) == pytest.approx(np.ones(len(x)))
    assert model.coef[:, 3] == pytest.approx([0.0, 0.0], abs=1e-9)
