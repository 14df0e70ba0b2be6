"""A transparent morning-regime model: multinomial logistic regression fitted with numpy.

Inputs are standardised with the training mean and standard deviation (a constant input gets
scale 1, so its weight is pulled to 0). The last class is the reference (its logit is 0); the
fit minimises the negative log-likelihood plus ``l2 / 2 * |W|^2`` on the weights and
``intercept_l2 / 2 * |b|^2`` on the intercepts (tiny by default: it keeps the intercept finite
when a class is absent from the training set) by Newton's method with step halving. The
objective is strictly convex when ``l2 > 0``, so the result is unique and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import ConfigError, DataError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
MODEL_CODE_VERSION = 1  # bump when the fitting code changes


@dataclass(frozen=True, kw_only=True, slots=True)
class LogitParams:
    """Penalties and stopping rule of the fit."""

    l2: float = 1.0
    intercept_l2: float = 1e-4
    max_iter: int = 100
    tol: float = 1e-10

    def __post_init__(self) -> None:
        if self.l2 < 0 or self.intercept_l2 < 0 or self.max_iter < 1 or self.tol <= 0:
            raise ConfigError("LogitParams: expected l2, intercept_l2 >= 0, max_iter >= 1, tol > 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class LogitModel:
    """A fitted model: ``coef`` is (classes - 1, inputs + 1), intercept first."""

    classes: tuple[str, ...]
    inputs: tuple[str, ...]
    mean: F64
    scale: F64
    coef: F64
    n_train: int
    iterations: int

    def logits(self, x: F64) -> F64:
        z = (np.atleast_2d(x) - self.mean) / self.scale
        design = np.column_stack([np.ones(z.shape[0]), z])
        eta: F64 = np.column_stack([design @ self.coef.T, np.zeros(z.shape[0])])
        return eta

    def predict_proba(self, x: F64) -> F64:
        """Probabilities (rows: samples, columns: ``classes``)."""
        return softmax(self.logits(x))

    def to_json(self) -> dict[str, Any]:
        """Plain data for storage: everything needed to score again."""
        names = ("intercept", *self.inputs)
        weights = {
            c: dict(zip(names, map(float, row), strict=True)) for c, row in zip(self.classes, self.coef, strict=False)
        }
        return {
            "classes": list(self.classes),
            "reference": self.classes[-1],
            "inputs": list(self.inputs),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": weights,
            "n_train": self.n_train,
            "iterations": self.iterations,
        }


def softmax(eta: F64) -> F64:
    shifted = eta - eta.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    p: F64 = e / e.sum(axis=1, keepdims=True)
    return p


def _objective(theta: F64, design: F64, onehot: F64, penalty: F64) -> float:
    k = onehot.shape[1]
    eta = np.column_stack([design @ theta.reshape(k - 1, -1).T, np.zeros(design.shape[0])])
    m = eta.max(axis=1, keepdims=True)
    log_norm = (m + np.log(np.exp(eta - m).sum(axis=1, keepdims=True))).ravel()
    nll = float(np.sum(log_norm - (eta * onehot).sum(axis=1)))
    return nll + 0.5 * float(np.sum(penalty * theta * theta))


def _gradient_hessian(theta: F64, design: F64, onehot: F64, penalty: F64) -> tuple[F64, F64]:
    n, d = design.shape
    k = onehot.shape[1] - 1
    p = softmax(np.column_stack([design @ theta.reshape(k, d).T, np.zeros(n)]))[:, :k]
    grad = ((p - onehot[:, :k]).T @ design).ravel() + penalty * theta
    hess = np.empty((k * d, k * d))
    for a in range(k):
        for b in range(k):
            w = p[:, a] * ((1.0 if a == b else 0.0) - p[:, b])
            hess[a * d : (a + 1) * d, b * d : (b + 1) * d] = design.T @ (design * w[:, None])
    hess += np.diag(penalty)
    return grad, hess


def standardise(x: F64) -> tuple[F64, F64]:
    """Column means and standard deviations (1 where a column is constant)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return mean, scale


def fit_logit(
    x: F64, y: I64, *, classes: tuple[str, ...], inputs: tuple[str, ...], params: LogitParams | None = None
) -> LogitModel:
    """Fit on inputs ``x`` (n, d) and class codes ``y`` (indexes into ``classes``)."""
    p = params or LogitParams()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(inputs) or y.shape != (x.shape[0],):
        raise DataError(f"fit_logit: expected x (n, {len(inputs)}) and y (n,), were {x.shape} and {y.shape}")
    if x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise DataError("fit_logit: expected at least one row and only finite inputs")
    if y.size and (y.min() < 0 or y.max() >= len(classes)):
        raise DataError(f"fit_logit: class codes must lie in [0, {len(classes)})")
    mean, scale = standardise(x)
    design = np.column_stack([np.ones(x.shape[0]), (x - mean) / scale])
    onehot = np.eye(len(classes))[y]
    d, k = design.shape[1], len(classes) - 1
    penalty = np.tile(np.r_[p.intercept_l2, np.full(d - 1, p.l2)], k)
    theta = np.zeros(k * d)
    current = _objective(theta, design, onehot, penalty)
    iterations = 0
    for iterations in range(1, p.max_iter + 1):  # noqa: B007 - the count is reported
        grad, hess = _gradient_hessian(theta, design, onehot, penalty)
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t, trial = 1.0, _objective(theta - step, design, onehot, penalty)
        while trial > current and t > 1e-10:
            t *= 0.5
            trial = _objective(theta - t * step, design, onehot, penalty)
        if trial > current:  # no descent left at floating-point precision
            break
        theta, current = theta - t * step, trial
        if float(np.max(np.abs(t * step))) < p.tol or float(np.max(np.abs(grad))) < p.tol:
            break
    return LogitModel(
        classes=classes,
        inputs=inputs,
        mean=mean,
        scale=scale,
        coef=theta.reshape(k, d),
        n_train=int(x.shape[0]),
        iterations=iterations,
    )


def objective(model: LogitModel, x: F64, y: I64, params: LogitParams | None = None) -> float:
    """The penalised negative log-likelihood of a model's coefficients on (x, y), in its own scaling."""
    p = params or LogitParams()
    design = np.column_stack([np.ones(x.shape[0]), (x - model.mean) / model.scale])
    onehot = np.eye(len(model.classes))[y]
    d = design.shape[1]
    penalty = np.tile(np.r_[p.intercept_l2, np.full(d - 1, p.l2)], len(model.classes) - 1)
    return _objective(model.coef.ravel(), design, onehot, penalty)
