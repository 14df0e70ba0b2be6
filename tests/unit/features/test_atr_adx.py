"""Wilder ATR, +DI, −DI and ADX against a vectorised batch built on pandas' ``ewm(alpha=1/n, adjust=False)``.

Wilder smoothing in the reference (ATR, and ADX from DX): NaN until n values, then
ewm(alpha=1/n, adjust=False) over [mean(v[:n]), v[n], v[n+1], ...]. The TR/±DM sums behind ±DI
follow TA-Lib: sum of the first n − 1 values, then S = S − S/n + x; as a mean (S/n) that is
ewm(alpha=1/n, adjust=False) over [sum(v[:n−1])/n, v[n−1], v[n], ...] with the seed dropped.
True range and directional movement are computed with numpy array operations, independently
of the kernels' scalar code.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import ConfigError, InvariantError
from scalper.features.adx import Adx
from scalper.features.atr import Atr, Wilder

Bar = tuple[float, float, float]


moves = st.one_of(st.just(0.0), st.floats(min_value=-20.0, max_value=20.0))
spans = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=15.0))
fracs = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def bar_streams(draw: st.DrawFn) -> list[Bar]:
    """Bars around SPX levels: a random-walk low, a range >= 0 (some flat), a close inside it."""
    level = draw(st.floats(min_value=3000.0, max_value=8000.0))
    bars = []
    for move, span, frac in draw(st.lists(st.tuples(moves, spans, fracs), min_size=1, max_size=70)):
        level = max(1.0, level + move)
        low, high = level, level + span
        bars.append((high, low, min(high, max(low, low + frac * span))))
    return bars


periods = st.integers(min_value=1, max_value=20)


def wilder_reference(v: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(v), math.nan)
    if len(v) >= n:
        seeded = pd.Series([float(np.mean(v[:n], dtype=np.longdouble)), *v[n:].tolist()])
        out[n - 1 :] = seeded.ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return out


def wilder_sum_reference(v: np.ndarray, n: int) -> np.ndarray:
    """TA-Lib's running sum divided by n (the ratio ±DM~/TR~ does not care about the factor)."""
    out = np.full(len(v), math.nan)
    if len(v) >= n:
        seeded = pd.Series([float(np.sum(v[: n - 1], dtype=np.longdouble)) / n, *v[n - 1 :].tolist()])
        out[n - 1 :] = seeded.ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()[1:]
    return out


def batch_reference(bars: list[Bar], n: int) -> dict[str, np.ndarray]:
    """ATR, +DI, −DI, ADX per bar (NaN while warming up), aligned with the input bars."""
    h, lo, c = (np.array(col, dtype=float) for col in zip(*bars, strict=True))
    nan = np.full(1, math.nan)
    tr = np.maximum.reduce([h[1:] - lo[1:], np.abs(h[1:] - c[:-1]), np.abs(lo[1:] - c[:-1])])
    up, down = h[1:] - h[:-1], lo[:-1] - lo[1:]
    pdm = np.where((up > down) & (up > 0), up, 0.0)
    mdm = np.where((down > up) & (down > 0), down, 0.0)
    atr, trs = wilder_reference(tr, n), wilder_sum_reference(tr, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        pdi = np.where(trs > 0, 100.0 * wilder_sum_reference(pdm, n) / trs, np.where(np.isnan(trs), math.nan, 0.0))
        mdi = np.where(trs > 0, 100.0 * wilder_sum_reference(mdm, n) / trs, np.where(np.isnan(trs), math.nan, 0.0))
        total = pdi + mdi
        dx = np.where(total > 0, 100.0 * np.abs(pdi - mdi) / total, np.where(np.isnan(total), math.nan, 0.0))
    ready = ~np.isnan(dx)
    adx = np.full(len(dx), math.nan)
    adx[ready] = wilder_reference(dx[ready], n)
    return {name: np.concatenate([nan, a]) for name, a in {"atr": atr, "pdi": pdi, "mdi": mdi, "adx": adx}.items()}


def run_kernels(bars: list[Bar], n: int) -> dict[str, np.ndarray]:
    atr, adx = Atr(n), Adx(n)
    rows = []
    for h, lo, c in bars:
        atr.update(h, lo, c)
        adx.update(h, lo, c)
        rows.append((atr.value, adx.plus_di, adx.minus_di, adx.value))
    cols = np.array(rows).reshape(len(bars), 4).T
    return dict(zip(["atr", "pdi", "mdi", "adx"], cols, strict=True))


def assert_matches(got: np.ndarray, want: np.ndarray, *, atol: float) -> None:
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-9, atol=atol)


@settings(max_examples=200, deadline=None)
@given(bar_streams(), periods)
def test_incremental_atr_di_adx_equal_the_batch_reference(bars: list[Bar], n: int) -> None:
    got, want = run_kernels(bars, n), batch_reference(bars, n)
    assert_matches(got["atr"], want["atr"], atol=1e-12)
    # DI and ADX live on a 0..100 scale: absolute floor 1e-7 (ratios of nearly cancelling sums).
    for name in ("pdi", "mdi", "adx"):
        assert_matches(got[name], want[name], atol=1e-7)


@settings(max_examples=200, deadline=None)
@given(bar_streams(), bar_streams(), periods)
def test_appending_bars_never_changes_values_already_emitted(head: list[Bar], tail: list[Bar], n: int) -> None:
    before, after = run_kernels(head, n), run_kernels(head + tail, n)
    for name, values in before.items():
        assert np.array_equal(values, after[name][: len(head)], equal_nan=True)


def test_warm_up_atr_after_n_plus_one_bars_adx_after_two_n() -> None:
    n = 3
    atr, adx = Atr(n), Adx(n)
    readiness = []
    for i in range(8):
        atr.update(100.0 + i, 99.0 + i, 99.5 + i)
        adx.update(100.0 + i, 99.0 + i, 99.5 + i)
        readiness.append((atr.ready, adx.di_ready, adx.ready))
    assert [r[0] for r in readiness] == [i + 1 >= n + 1 for i in range(8)]
    assert [r[1] for r in readiness] == [i + 1 >= n + 1 for i in range(8)]
    assert [r[2] for r in readiness] == [i + 1 >= 2 * n for i in range(8)]


def test_steady_uptrend_has_full_plus_di_and_adx_of_100() -> None:
    # Each bar: low = previous close, high = low + 1, close at the high -> TR = 1, +DM = 1, −DM = 0.
    adx, atr = Adx(5), Atr(5)
    for i in range(30):
        adx.update(101.0 + i, 100.0 + i, 101.0 + i)
        atr.update(101.0 + i, 100.0 + i, 101.0 + i)
    assert atr.value == pytest.approx(1.0, rel=1e-12)
    assert adx.plus_di == pytest.approx(100.0) and adx.minus_di == 0.0
    assert adx.value == pytest.approx(100.0)


def test_constant_prices_give_zero_atr_di_and_adx() -> None:
    adx, atr = Adx(4), Atr(4)
    for _ in range(20):
        adx.update(5000.0, 5000.0, 5000.0)
        atr.update(5000.0, 5000.0, 5000.0)
    assert (atr.value, adx.plus_di, adx.minus_di, adx.value) == (0.0, 0.0, 0.0, 0.0)


def test_gap_counts_in_the_true_range() -> None:
    atr = Atr(1)
    atr.update(101.0, 99.0, 100.0)
    assert atr.update(111.0, 110.0, 110.5) == 11.0  # |H − C_prev| = 11 beats H − L = 1


@pytest.mark.parametrize(
    ("bar", "named"),
    [
        ((math.nan, 99.0, 100.0), "bar high"),
        ((101.0, -1.0, 100.0), "bar low"),
        ((101.0, 99.0, math.inf), "bar close"),
        ((101.0, 99.0, 102.0), "expected low <= close <= high"),
    ],
)
@pytest.mark.parametrize("kernel", [Atr, Adx])
def test_bad_bar_is_refused_naming_the_value(bar: Bar, named: str, kernel: type[Atr] | type[Adx]) -> None:
    with pytest.raises(InvariantError, match=named):
        kernel(3).update(*bar)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_wilder_refuses_a_non_finite_input_naming_it(bad: float) -> None:
    with pytest.raises(InvariantError, match=f"wilder input: expected a finite number, was {bad}"):
        Wilder(3).update(bad)


def test_bad_period_is_a_config_error() -> None:
    for kernel, name in ((Atr, "atr"), (Adx, "adx"), (Wilder, "wilder")):
        with pytest.raises(ConfigError, match=f"{name} period"):
            kernel(0)
