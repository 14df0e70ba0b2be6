"""Position arithmetic: hand-checked cases and properties against a cash-flow computation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.orders import Fill, Position, Side
from scalper.oms.positions import apply_fill, positions_from_fills

_counter = iter(range(10**9))


def fill(
    side: Side, qty: float, price: float, *, symbol: str = "SPY", commission: float = 0.0, fees: float = 0.0
) -> Fill:
    n = next(_counter)
    return Fill(
        fill_id=f"f{n:09d}",
        client_order_id="c",
        ts=n * 1000,
        symbol=symbol,
        side=side,
        qty=qty,
        price=price,
        commission=commission,
        fees=fees,
    )


def run(*fills: Fill) -> Position:
    position = Position(symbol=fills[0].symbol)
    for f in fills:
        position = apply_fill(position, f)
    return position


BUY, SELL = Side.BUY, Side.SELL


def test_adding_averages_the_price_and_reducing_keeps_it() -> None:
    position = run(fill(BUY, 100, 10.0), fill(BUY, 100, 11.0))
    assert (position.qty, position.avg_price, position.realised_pnl) == pytest.approx((200, 10.5, 0.0))
    position = apply_fill(position, fill(SELL, 50, 12.0))
    assert (position.qty, position.avg_price, position.realised_pnl) == pytest.approx((150, 10.5, 75.0))
    position = apply_fill(position, fill(SELL, 150, 10.0))
    assert (position.qty, position.avg_price, position.realised_pnl) == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)
    assert position.is_flat


def test_a_short_gains_when_the_price_falls() -> None:
    position = run(fill(SELL, 100, 10.0), fill(BUY, 40, 9.0))
    assert (position.qty, position.avg_price, position.realised_pnl) == pytest.approx((-60, 10.0, 40.0))
    assert position.unrealised_pnl(9.5) == pytest.approx(30.0)


def test_a_flip_from_long_to_short_realises_the_long_and_opens_at_the_fill_price() -> None:
    position = run(fill(BUY, 100, 10.0), fill(SELL, 150, 12.0))
    assert (position.qty, position.avg_price, position.realised_pnl) == pytest.approx((-50, 12.0, 200.0))
    position = apply_fill(position, fill(BUY, 80, 11.0))  # covers 50 at +1, flips long 30 at 11
    assert (position.qty, position.avg_price, position.realised_pnl) == pytest.approx((30, 11.0, 250.0))


def test_commissions_and_fees_are_subtracted_when_paid() -> None:
    position = run(fill(BUY, 100, 10.0, commission=0.35))
    assert (position.realised_pnl, position.costs) == pytest.approx((-0.35, 0.35))
    position = apply_fill(position, fill(SELL, 100, 11.0, commission=0.35, fees=0.02))
    assert (position.realised_pnl, position.costs) == pytest.approx((100 - 0.72, 0.72))


def test_a_fractional_remainder_within_tolerance_is_flat() -> None:
    position = run(fill(BUY, 0.1, 10.0), fill(BUY, 0.2, 10.0), fill(SELL, 0.3, 10.0))
    assert (position.qty, position.avg_price) == (0.0, 0.0)


def test_positions_are_kept_per_symbol() -> None:
    fills = [fill(BUY, 10, 500.0), fill(SELL, 5, 400.0, symbol="QQQ"), fill(SELL, 4, 501.0)]
    positions = positions_from_fills(fills)
    assert positions == {"SPY": run(fills[0], fills[2]), "QQQ": run(fills[1])}


# ---- properties

fill_steps = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(1, 500),
        st.integers(100, 100_000),  # cents
        st.integers(0, 200),  # commission, tenths of a cent
        st.integers(0, 50),  # fees, tenths of a cent
    ),
    min_size=1,
    max_size=40,
)


def make(steps: list[tuple[Side, int, int, int, int]]) -> list[Fill]:
    return [fill(side, q, c / 100, commission=m / 1000, fees=x / 1000) for side, q, c, m, x in steps]


@given(fill_steps, st.integers(100, 100_000))
@settings(max_examples=400, deadline=None)
def test_pnl_equals_the_cash_flow_of_the_fills(steps: list[tuple[Side, int, int, int, int]], mark_cents: int) -> None:
    fills = make(steps)
    mark = mark_cents / 100
    position = run(*fills)
    cash = 0.0
    for f in fills:  # brute force: money paid and received, then the shares held valued at the mark
        cash += (-f.qty if f.side is BUY else f.qty) * f.price - f.commission - f.fees
    held = sum(f.qty if f.side is BUY else -f.qty for f in fills)
    assert position.qty == held
    scale = sum(f.qty * f.price for f in fills) + abs(held) * mark
    assert position.realised_pnl + position.unrealised_pnl(mark) == pytest.approx(cash + held * mark, abs=1e-9 * scale)
    assert position.costs == pytest.approx(sum(f.commission + f.fees for f in fills))


@given(
    st.sampled_from([BUY, SELL]),
    st.lists(st.tuples(st.integers(1, 500), st.integers(100, 100_000)), min_size=1, max_size=20),
    st.lists(st.tuples(st.integers(1, 500), st.integers(100, 100_000)), max_size=20),
)
@settings(max_examples=400, deadline=None)
def test_a_position_that_never_crosses_zero_is_priced_at_the_vwap_of_its_opening_fills(
    side: Side, opens: list[tuple[int, int]], reductions: list[tuple[int, int]]
) -> None:
    # Average cost: reductions leave the price alone, so after the opening fills and any reductions
    # that keep the position open, the price is the opening fills' VWAP. (A reduction followed by
    # another add weighs the old price by what is left, not by what was bought.)
    fills = [fill(side, q, cents / 100) for q, cents in opens]
    held = sum(q for q, _ in opens)
    for q, cents in reductions:
        if held > 1:
            reduce = 1 + q % (held - 1)  # 1 .. held-1: never reaches zero
            fills.append(fill(side.opposite, reduce, cents / 100))
            held -= reduce
    position = run(*fills)
    vwap = sum(q * cents / 100 for q, cents in opens) / sum(q for q, _ in opens)
    assert position.qty == side.sign * held
    assert position.avg_price == pytest.approx(vwap, rel=1e-12)


@given(fill_steps, st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_quantity_and_total_pnl_do_not_depend_on_the_order_of_the_fills(
    steps: list[tuple[Side, int, int, int, int]], rnd: random.Random
) -> None:
    fills = make(steps)
    shuffled = fills[:]
    rnd.shuffle(shuffled)
    a, b = run(*fills), run(*shuffled)
    mark = fills[0].price
    assert a.qty == b.qty
    scale = sum(f.qty * f.price for f in fills)
    assert a.realised_pnl + a.unrealised_pnl(mark) == pytest.approx(
        b.realised_pnl + b.unrealised_pnl(mark), abs=1e-9 * scale
    )
