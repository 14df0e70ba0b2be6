"""Probability of backtest overfitting (CSCV) on matrices of known behaviour and against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.stats import rankdata

from scalper.backtest.overfitting import pbo, sharpe_scores
from scalper.core.errors import ConfigError, DataError


def reference_sharpe(sub: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros(sub.shape[1])
    for j in range(sub.shape[1]):
        col = sub[:, j]
        if not np.all(col == col[0]):
            out[j] = col.mean() / col.std(ddof=1)
    return out


def brute_force(
    m: NDArray[np.float64], s: int, metric: object = reference_sharpe
) -> tuple[NDArray[np.float64], list[int], list[float], list[float]]:
    """CSCV as written in the paper: one loop per combination, ranks by scipy."""
    assert callable(metric)
    blocks = np.array_split(np.arange(len(m)), s)
    n = m.shape[1]
    logits, chosen, is_best, oos_best = [], [], [], []
    for combo in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[b] for b in combo])
        oos_rows = np.concatenate([blocks[b] for b in range(s) if b not in combo])
        is_scores = metric(m[is_rows])
        oos_scores = metric(m[oos_rows])
        best = int(np.argmax(is_scores))
        omega = rankdata(oos_scores)[best] / (n + 1)
        logits.append(np.log(omega / (1.0 - omega)))
        chosen.append(best)
        is_best.append(float(is_scores[best]))
        oos_best.append(float(oos_scores[best]))
    return np.array(logits), chosen, is_best, oos_best


def small_matrix() -> NDArray[np.float64]:
    """T=60, N=5 with the awkward cases: a column flat in its first half (zero in-sample variance for
    some combinations), a duplicate column (tied scores), a weak edge."""
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 1.0, (60, 5))
    m[:30, 1] = 0.0
    m[:, 3] = m[:, 2]
    m[:, 4] += 0.2
    return m


def test_vectorised_sharpe_equals_brute_force_exactly() -> None:
    m = small_matrix()
    result = pbo(m, blocks=6)
    logits, chosen, is_best, oos_best = brute_force(m, 6)
    assert result.combinations == 20
    np.testing.assert_array_equal(result.logits, logits)
    np.testing.assert_array_equal(result.selected, chosen)
    np.testing.assert_allclose(result.is_scores, is_best, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.oos_scores, oos_best, rtol=1e-12, atol=1e-14)
    assert result.pbo == np.mean(logits <= 0)
    assert result.prob_oos_loss == np.mean(np.array(oos_best) < 0)
    assert (result.n_configs, result.n_blocks, result.n_observations) == (5, 6, 60)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_sharpe_equals_brute_force_on_noise(seed: int) -> None:
    # uneven blocks (61 rows in 6 blocks) and a column that never trades
    m = np.random.default_rng(seed).normal(0.0, 1.0, (61, 5))
    m[:, 0] = 0.0
    np.testing.assert_array_equal(pbo(m, blocks=6).logits, brute_force(m, 6)[0])


def test_custom_metric_equals_brute_force() -> None:
    m = small_matrix()

    def total(sub: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(sub.sum(axis=0), dtype=np.float64)

    result = pbo(m, blocks=6, metric=total)
    logits, chosen, is_best, oos_best = brute_force(m, 6, total)
    np.testing.assert_array_equal(result.logits, logits)
    np.testing.assert_array_equal(result.selected, chosen)
    np.testing.assert_array_equal(result.is_scores, is_best)
    np.testing.assert_array_equal(result.oos_scores, oos_best)


def test_sharpe_scores_as_a_metric_gives_the_vectorised_result() -> None:
    m = small_matrix()
    np.testing.assert_array_equal(pbo(m, blocks=6, metric=sharpe_scores).logits, pbo(m, blocks=6).logits)


def test_no_skill_gives_pbo_near_one_half() -> None:
    """N i.i.d. noise columns: in-sample and out-of-sample halves are independent, so the OOS rank of
    the in-sample winner is uniform on 1..N and, N even, P(λ ≤ 0) = 1/2 exactly in expectation.

    One matrix's PBO is far from 1/2 as often as not (its C(S, S/2) combinations reuse the same rows,
    so they are strongly dependent: over seeds it ranges about 0.1..0.9, sd ≈ 0.24), hence the
    average over 200 seeded matrices, whose standard error is ≈ 0.017; bounds at ≈ 3.5 s.e."""
    pbos, ranks = [], []
    for seed in range(200):
        m = np.random.default_rng(seed).normal(0.0, 1.0, (160, 10))
        result = pbo(m, blocks=8)
        pbos.append(result.pbo)
        ranks.append(result.is_best_oos_rank_mean)
    assert 0.44 < np.mean(pbos) < 0.56
    assert 0.47 < np.mean(ranks) < 0.53


def test_a_real_edge_gives_pbo_near_zero() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(0.0, 1.0, (480, 20))
    m[:, 7] += 0.5  # half a standard deviation a day, in every block
    result = pbo(m)
    assert result.combinations == 12_870
    assert result.pbo < 0.01
    assert np.mean(result.selected == 7) > 0.99
    assert result.prob_oos_loss == 0.0
    assert result.is_best_oos_rank_mean > 0.9


def test_in_sample_luck_that_reverses_gives_pbo_near_one() -> None:
    """Columns demeaned over the whole sample: what a column gains in sample it loses out of sample,
    the textbook overfit — the in-sample winner is near the bottom out of sample."""
    m = np.random.default_rng(5).normal(0.0, 1.0, (480, 20))
    m -= m.mean(axis=0)
    result = pbo(m)
    assert result.pbo > 0.95
    assert result.prob_oos_loss > 0.95
    slope, _ = result.degradation()
    assert slope < -0.5


def test_result_arrays_are_read_only() -> None:
    result = pbo(small_matrix(), blocks=6)
    with pytest.raises(ValueError, match="read-only"):
        result.logits[0] = 0.0


def test_sharpe_scores_give_zero_to_a_column_that_does_not_vary() -> None:
    m = np.array([[0.1, 1.0, 0.0], [0.1, 2.0, 0.0], [0.1, 4.0, 0.0]])
    np.testing.assert_array_equal(sharpe_scores(m), [0.0, m[:, 1].mean() / m[:, 1].std(ddof=1), 0.0])


def test_a_constant_non_zero_column_scores_zero_in_the_vectorised_path() -> None:
    # 0.1 is not a binary fraction: the centred one-pass variance would be a tiny positive number
    m = np.random.default_rng(0).normal(0.0, 1.0, (40, 3))
    m[:, 0] = 0.1
    result = pbo(m, blocks=4)
    np.testing.assert_array_equal(result.logits, brute_force(m, 4)[0])


def test_sixteen_blocks_give_every_combination() -> None:
    m = np.random.default_rng(0).normal(0.0, 1.0, (500, 50))
    result = pbo(m, blocks=16)
    assert result.combinations == 12_870 == len(result.logits) and result.n_configs == 50
    assert 0.0 <= result.pbo <= 1.0


def test_degradation_needs_in_sample_scores_that_vary() -> None:
    m = np.zeros((8, 2))
    m[:, 1] = np.arange(8.0)
    result = pbo(m, blocks=2, metric=lambda sub: np.array([0.0, 1.0]))
    with pytest.raises(DataError, match="in-sample scores that vary"):
        result.degradation()


@pytest.mark.parametrize(
    ("matrix", "blocks", "error", "message"),
    [
        (np.zeros((20, 1)), 4, DataError, "at least 2 configurations.*was 1"),
        (np.zeros(20), 4, DataError, "2-D matrix.*was 1-D"),
        (np.zeros((3, 4)), 4, DataError, r"at least as many observations \(rows\) as blocks \(4\), was 3"),
        (np.zeros((20, 3)), 5, ConfigError, "even integer >= 2, was 5"),
        (np.zeros((20, 3)), 0, ConfigError, "even integer >= 2, was 0"),
        (np.zeros((20, 3)), True, ConfigError, "even integer >= 2, was True"),
        (np.zeros((20, 3)), 4.0, ConfigError, "even integer >= 2, was 4.0"),
        (np.zeros((40, 3)), 24, ConfigError, "at most 1,000,000 combinations, was 24 blocks"),
        (np.zeros((3, 3)), 2, DataError, "at least 2 rows per half, had 3 rows in 2 blocks"),
        ([["a", "b"], ["c", "d"]], 2, DataError, "numeric matrix"),
    ],
)
def test_validation_names_the_problem(matrix: object, blocks: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        pbo(matrix, blocks=blocks)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_with_their_position(bad: float) -> None:
    m = np.zeros((20, 3))
    m[11, 2] = bad
    with pytest.raises(DataError, match=r"expected finite values, was .* at row 11, column 2"):
        pbo(m, blocks=4)


def test_a_metric_with_the_wrong_shape_or_non_finite_scores_is_refused() -> None:
    m = np.random.default_rng(0).normal(0.0, 1.0, (20, 3))
    with pytest.raises(DataError, match=r"expected 3 scores \(one per configuration\), was of shape \(2,\)"):
        pbo(m, blocks=4, metric=lambda sub: sub.mean(axis=0)[:2])
    with pytest.raises(DataError, match="expected finite scores, was nan"):
        pbo(m, blocks=4, metric=lambda sub: np.full(3, np.nan))
