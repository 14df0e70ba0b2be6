"""The order state machine: the transition table, fills, and invariants under random update sequences."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import OrderStateError
from scalper.core.orders import Fill, Leg, Order, OrderRequest, OrderStatus, OrderType, Side, StatusUpdate
from scalper.oms import state

S = OrderStatus
CID = "sc-entry-0-0123456789abcdef0123"
QTY = 100.0
# The expected table, written out independently of the module: what a status update does.
CHANGES = {
    (S.NEW, S.ACCEPTED),
    (S.NEW, S.CANCELLED),
    (S.NEW, S.REJECTED),
    (S.NEW, S.EXPIRED),
    (S.ACCEPTED, S.CANCELLED),
    (S.ACCEPTED, S.REJECTED),
    (S.ACCEPTED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, S.EXPIRED),
}
IGNORED = {(s, s) for s in S} | {(s, S.ACCEPTED) for s in S if s is not S.NEW}
FILL_MOVES = {
    (S.ACCEPTED, S.PARTIALLY_FILLED),
    (S.ACCEPTED, S.FILLED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.FILLED),
}


def order_in(status: OrderStatus, *, filled: float | None = None) -> Order:
    if filled is None:
        filled = {S.PARTIALLY_FILLED: 40.0, S.FILLED: QTY, S.CANCELLED: 40.0, S.EXPIRED: 0.0}.get(status, 0.0)
    request = OrderRequest(
        client_order_id=CID,
        signal_id="sig",
        leg=Leg.ENTRY,
        symbol="SPY",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        qty=QTY,
        ts_created=1_000,
    )
    return Order(
        request=request,
        status=status,
        filled_qty=filled,
        avg_fill_price=500.0 if filled else None,
        reject_reason="no" if status is S.REJECTED else None,
        ts_updated=2_000,
    )


def update(status: OrderStatus, ts: int = 3_000, **fields: Any) -> StatusUpdate:
    return StatusUpdate(client_order_id=CID, status=status, ts=ts, **fields)


def fill(qty: float, price: float = 500.0, ts: int = 3_000, fill_id: str = "f", **fields: Any) -> Fill:
    base: dict[str, Any] = {"fill_id": fill_id, "client_order_id": CID, "ts": ts, "symbol": "SPY", "side": Side.BUY}
    return Fill(**(base | {"qty": qty, "price": price} | fields))


@pytest.mark.parametrize(("frm", "to"), [(a, b) for a in S for b in S], ids=str)
def test_a_status_update_follows_the_table(frm: OrderStatus, to: OrderStatus) -> None:
    before = order_in(frm)
    if (frm, to) in IGNORED:
        assert state.apply_status(before, update(to)) is None
    elif (frm, to) in CHANGES:
        after = state.apply_status(before, update(to, reason="why"))
        assert after is not None
        assert (after.status, after.filled_qty, after.ts_updated) == (to, before.filled_qty, 3_000)
        assert after.reject_reason == ("why" if to is S.REJECTED else None)
    else:
        with pytest.raises(OrderStateError, match=f"order {CID}: illegal transition {frm} -> {to}") as info:
            state.apply_status(before, update(to))
        assert (info.value.client_order_id, info.value.from_status, info.value.to_status) == (CID, frm, to)


@pytest.mark.parametrize("frm", list(S), ids=str)
def test_fills_are_allowed_only_while_accepted_or_partially_filled(frm: OrderStatus) -> None:
    before = order_in(frm)
    if frm in (S.ACCEPTED, S.PARTIALLY_FILLED):
        after = state.apply_fill(before, fill(10.0))
        assert (after.status, after.filled_qty) == (S.PARTIALLY_FILLED, before.filled_qty + 10.0)
    else:
        with pytest.raises(OrderStateError, match=f"illegal transition {frm} -> fill"):
            state.apply_fill(before, fill(10.0))


def test_partial_fills_then_the_rest_fill_the_order_at_the_volume_weighted_price() -> None:
    order = state.apply_fill(order_in(S.ACCEPTED), fill(30.0, 10.0, fill_id="a"))
    assert (order.status, order.filled_qty, order.avg_fill_price) == (S.PARTIALLY_FILLED, 30.0, 10.0)
    order = state.apply_fill(order, fill(70.0, 10.5, ts=4_000, fill_id="b"))
    assert (order.status, order.filled_qty, order.ts_updated) == (S.FILLED, 100.0, 4_000)
    assert order.avg_fill_price == pytest.approx((30 * 10.0 + 70 * 10.5) / 100)  # 10.35


def test_fractional_fills_within_tolerance_of_the_quantity_fill_the_order() -> None:
    order = order_in(S.ACCEPTED)
    for i, q in enumerate([0.1 * QTY, 0.2 * QTY, 0.7 * QTY]):
        order = state.apply_fill(order, fill(q, fill_id=str(i)))
    assert (order.status, order.filled_qty) == (S.FILLED, QTY)


def test_an_overfill_is_refused_and_names_the_fill() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    with pytest.raises(
        OrderStateError, match=re.escape("fill over of 61.0 would fill 101.0, more than the order's 100.0")
    ):
        state.apply_fill(order, fill(61.0, fill_id="over"))


@pytest.mark.parametrize(
    ("fields", "what"),
    [({"symbol": "QQQ"}, "symbol"), ({"side": Side.SELL}, "side"), ({"client_order_id": "other"}, "client order id")],
)
def test_a_fill_of_another_symbol_side_or_order_is_refused(fields: dict[str, Any], what: str) -> None:
    with pytest.raises(OrderStateError, match=f"the fill's {what} is"):
        state.apply_fill(order_in(S.ACCEPTED), fill(1.0, **fields))


def test_the_broker_id_is_kept_and_may_not_change() -> None:
    accepted = state.apply_status(order_in(S.NEW), update(S.ACCEPTED, broker_order_id="b-1"))
    assert accepted is not None and accepted.broker_order_id == "b-1"
    cancelled = state.apply_status(accepted, update(S.CANCELLED))
    assert cancelled is not None and cancelled.broker_order_id == "b-1"
    with pytest.raises(OrderStateError, match="broker order id b-2 differs from b-1"):
        state.apply_status(accepted, update(S.CANCELLED, broker_order_id="b-2"))


def test_the_update_time_never_goes_backwards() -> None:
    after = state.apply_status(order_in(S.ACCEPTED), update(S.CANCELLED, ts=1_500))
    assert after is not None and after.ts_updated == 2_000


# ---- random sequences of updates

actions = st.lists(
    st.one_of(
        st.tuples(st.just("status"), st.sampled_from(list(S)), st.integers(0, 10_000)),
        st.tuples(st.just("fill"), st.integers(1, 60), st.integers(9_000, 11_000)),
    ),
    max_size=25,
)


@given(actions)
@settings(max_examples=400, deadline=None)
def test_random_updates_keep_the_order_legal(steps: list[tuple[str, Any, int]]) -> None:
    order = order_in(S.NEW)
    accepted: list[tuple[float, float]] = []  # (qty, price) of the fills the order took
    for n, (kind, arg, value) in enumerate(steps):
        before = order
        try:
            if kind == "status":
                u = update(arg, ts=value)
                changed = state.apply_status(order, u)
                order = order if changed is None else changed
                assert state.apply_status(order, u) is None  # the same update again changes nothing
            else:
                order = state.apply_fill(order, fill(float(arg), value / 100, ts=value, fill_id=str(n)))
                accepted.append((float(arg), value / 100))
        except OrderStateError:
            assert order == before
            continue
        move = (before.status, order.status)
        if kind == "status":
            assert move in CHANGES or before == order
        else:
            assert move in FILL_MOVES
        if before.status.is_terminal:
            assert order == before
        assert order.filled_qty == sum(q for q, _ in accepted) <= QTY
        if accepted:
            prices = [p for _, p in accepted]
            assert order.avg_fill_price is not None
            assert min(prices) <= order.avg_fill_price <= max(prices)
            vwap = sum(q * p for q, p in accepted) / order.filled_qty
            assert order.avg_fill_price == pytest.approx(vwap, rel=1e-12)
        assert (order.status is S.FILLED) == (order.filled_qty == QTY)


def test_the_module_table_matches_the_expected_one() -> None:
    declared = {(a, b) for a, targets in state.TRANSITIONS.items() for b in targets}
    assert declared == (CHANGES | FILL_MOVES)
