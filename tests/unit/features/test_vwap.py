"""VWAP kernel against a two-pass np.longdouble oracle (DOMAIN.md), plus warm-up and edge cases."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import InvariantError
from scalper.core.events import SECOND_NS, SecondAgg
from scalper.features.vwap import AnchoredVwap, Vwap, bar_price

# SPX-like levels with small moves: the regime where the naive Σwx²/Σw − μ² loses digits.
prices = st.floats(min_value=3000.0, max_value=8000.0, allow_nan=False)
volumes = st.one_of(st.just(0.0), st.floats(min_value=1.0, max_value=1e6, allow_nan=False))
streams = st.lists(st.tuples(prices, volumes), min_size=1, max_size=60)

REL = 1e-9  # relative tolerance on VWAP and σ versus the long-double oracle


def two_pass(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """(mean, variance) by two passes in long double; variance = Σw(x−μ)²/Σw (population, volume weights)."""
    x = np.array([p for p, _ in pairs], dtype=np.longdouble)
    w = np.array([v for _, v in pairs], dtype=np.longdouble)
    total = w.sum()
    if total == 0:
        return math.nan, math.nan
    mean = (w * x).sum() / total
    var = (w * (x - mean) ** 2).sum() / total
    return float(mean), float(var)


def run(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    vwap = Vwap()
    out = []
    for price, volume in pairs:
        vwap.update(price, volume)
        out.append((vwap.value, vwap.std))
    return out


def assert_close_to_oracle(vwap: Vwap, pairs: list[tuple[float, float]]) -> None:
    mean, var = two_pass(pairs)
    if math.isnan(mean):
        assert not vwap.ready and math.isnan(vwap.value) and math.isnan(vwap.variance)
        return
    assert vwap.ready
    assert vwap.value == pytest.approx(mean, rel=REL)
    # σ²: relative, or within the rounding the incremental (West) update cannot avoid: each step
    # adds w·(x − μ_old)·(x − μ_new), and x − μ_new carries μ's rounding ε·μ, so σ² may be off by
    # about n·ε·μ·(price range) (visible when one tiny weight sits far from the rest). The naive
    # Σwx²/Σw − μ² is off by about n·ε·μ², far more whenever the range is small against μ.
    spread = max(p for p, v in pairs if v > 0) - min(p for p, v in pairs if v > 0)
    floor = 4 * np.finfo(float).eps * abs(mean) * spread * len(pairs)
    assert vwap.variance == pytest.approx(var, rel=REL, abs=max(floor, 1e-18))
    # σ: relative, with an absolute floor of 1e-9 price units for (near) constant prices.
    assert vwap.std == pytest.approx(math.sqrt(var), rel=REL, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(streams)
def test_incremental_vwap_and_sigma_equal_the_two_pass_oracle_on_every_prefix(pairs: list[tuple[float, float]]) -> None:
    vwap = Vwap()
    for i, (price, volume) in enumerate(pairs):
        vwap.update(price, volume)
        assert_close_to_oracle(vwap, pairs[: i + 1])


@settings(max_examples=200, deadline=None)
@given(streams, streams)
def test_appending_events_never_changes_values_already_emitted(
    head: list[tuple[float, float]], tail: list[tuple[float, float]]
) -> None:
    emitted = run(head)
    again = run(head + tail)[: len(head)]
    assert np.array_equal(np.array(emitted), np.array(again), equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(streams)
def test_bands_are_vwap_plus_minus_k_sigma_of_the_oracle(pairs: list[tuple[float, float]]) -> None:
    vwap = Vwap()
    for price, volume in pairs:
        vwap.update(price, volume)
    mean, var = two_pass(pairs)
    for k in (1, 2, 3):
        lower, upper = vwap.band(k)
        if math.isnan(mean):
            assert math.isnan(lower) and math.isnan(upper)
        else:
            assert lower == pytest.approx(mean - k * math.sqrt(var), rel=REL)
            assert upper == pytest.approx(mean + k * math.sqrt(var), rel=REL)
            assert lower <= vwap.value <= upper


def test_keeps_sigma_where_the_naive_formula_loses_it() -> None:
    rng = np.random.default_rng(7)
    x = 6000.0 + rng.normal(0.0, 1e-3, 5000)  # σ of a thousandth of a point at SPX level
    w = rng.integers(1, 1000, 5000).astype(float)
    vwap = Vwap()
    for price, volume in zip(x, w, strict=True):
        vwap.update(float(price), float(volume))
    _, var = two_pass(list(zip(x.tolist(), w.tolist(), strict=True)))
    naive_var = float((w * x * x).sum() / w.sum() - ((w * x).sum() / w.sum()) ** 2)
    assert vwap.variance == pytest.approx(var, rel=1e-6)
    assert abs(naive_var - var) > 1e-3 * var  # the reason for the West/Welford update


@settings(max_examples=100, deadline=None)
@given(st.lists(prices, min_size=1, max_size=60))
def test_unit_weights_give_the_twap_mean_and_population_variance(x: list[float]) -> None:
    twap = Vwap()
    for price in x:
        twap.update(price, 1.0)
    ref = np.array(x, dtype=np.longdouble)
    assert twap.value == pytest.approx(float(ref.mean()), rel=REL)
    assert twap.std == pytest.approx(float(np.sqrt(ref.var(ddof=0))), rel=REL, abs=1e-9)


def test_without_volume_it_is_not_ready_and_reads_nan() -> None:
    vwap = Vwap()
    vwap.update(5000.0, 0.0)
    assert not vwap.ready
    assert math.isnan(vwap.value) and math.isnan(vwap.std) and all(math.isnan(b) for b in vwap.band(2))


def test_zero_volume_after_volume_changes_nothing() -> None:
    vwap = Vwap()
    vwap.update(5000.0, 10.0)
    vwap.update(5001.0, 30.0)
    before = (vwap.value, vwap.variance, vwap.total_volume)
    vwap.update(9000.0, 0.0)
    assert (vwap.value, vwap.variance, vwap.total_volume) == before


def test_constant_price_has_zero_sigma_and_collapsed_bands() -> None:
    vwap = Vwap()
    for volume in (3.0, 7.0, 11.0, 1e6):
        vwap.update(5123.25, volume)
    assert vwap.value == 5123.25
    assert vwap.variance == 0.0
    assert vwap.band(3) == (5123.25, 5123.25)


def test_reset_starts_a_new_vwap() -> None:
    vwap = Vwap()
    vwap.update(5000.0, 10.0)
    vwap.reset()
    assert not vwap.ready
    vwap.update(4000.0, 1.0)
    assert vwap.value == 4000.0 and vwap.total_volume == 1.0


@pytest.mark.parametrize(
    ("price", "volume", "named"),
    [
        (math.nan, 1.0, "vwap price"),
        (-5.0, 1.0, "vwap price"),
        (0.0, 1.0, "vwap price"),
        (math.inf, 1.0, "vwap price"),
        (5000.0, -1.0, "vwap volume"),
        (5000.0, math.nan, "vwap volume"),
        (5000.0, math.inf, "vwap volume"),
    ],
)
def test_bad_input_is_refused_naming_the_value(price: float, volume: float, named: str) -> None:
    vwap = Vwap()
    with pytest.raises(InvariantError, match=rf"{named}: expected .* was {price if 'price' in named else volume}"):
        vwap.update(price, volume)
    assert not vwap.ready  # nothing was half-applied


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(min_value=0, max_value=60))
def test_anchored_vwap_equals_a_fresh_vwap_from_the_anchor_bar(pairs: list[tuple[float, float]], anchor: int) -> None:
    anchored = AnchoredVwap(anchor_ns=anchor * SECOND_NS)
    fresh = Vwap()
    for i, (price, volume) in enumerate(pairs):
        anchored.update(i * SECOND_NS, price, volume)
        if i >= anchor:
            fresh.update(price, volume)
        assert (anchored.vwap.ready, anchored.vwap.total_volume) == (fresh.ready, fresh.total_volume)
        assert np.array_equal([anchored.vwap.value, anchored.vwap.std], [fresh.value, fresh.std], equal_nan=True)
    assert_close_to_oracle(anchored.vwap, pairs[anchor:])


def test_reanchor_forgets_the_previous_session() -> None:
    anchored = AnchoredVwap(anchor_ns=0)
    anchored.update(0, 5000.0, 100.0)
    anchored.reanchor(10 * SECOND_NS)
    assert anchored.anchor_ns == 10 * SECOND_NS and not anchored.vwap.ready
    anchored.update(9 * SECOND_NS, 7000.0, 100.0)  # before the new anchor: ignored
    anchored.update(10 * SECOND_NS, 5100.0, 50.0)
    assert anchored.vwap.value == 5100.0 and anchored.vwap.total_volume == 50.0


def bar(*, vwap: float | None, volume: float | None) -> SecondAgg:
    return SecondAgg(
        symbol="SPY", ts_event=SECOND_NS, ts_end=2 * SECOND_NS, open=600.0, high=603.0, low=597.0, close=601.5,
        volume=volume, vwap=vwap,
    )  # fmt: skip


def test_bar_price_is_the_bar_vwap_when_present_else_typical_price() -> None:
    assert bar_price(bar(vwap=600.25, volume=10.0)) == 600.25
    assert bar_price(bar(vwap=None, volume=10.0)) == pytest.approx((603.0 + 597.0 + 601.5) / 3)


def test_update_bar_uses_the_bar_price_and_skips_bars_without_volume() -> None:
    anchored = AnchoredVwap(anchor_ns=0)
    anchored.update_bar(bar(vwap=600.25, volume=None))  # an index bar: no volume, no weight
    assert not anchored.vwap.ready
    anchored.update_bar(bar(vwap=600.25, volume=10.0))
    anchored.update_bar(bar(vwap=None, volume=30.0))
    mean, _ = two_pass([(600.25, 10.0), ((603.0 + 597.0 + 601.5) / 3, 30.0)])
    assert anchored.vwap.value == pytest.approx(mean, rel=1e-15)
