"""The order book of a run: submissions, broker updates as events, queries, idempotent replays."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import DataError, OrderStateError
from scalper.core.orders import (
    BrokerUpdate,
    Fill,
    Leg,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StatusUpdate,
)
from scalper.oms import OrderBook, OrderEvent, client_order_id
from scalper.oms.positions import positions_from_fills

S = OrderStatus


def bracket(signal: str, ts: int = 1_000, qty: float = 100.0) -> list[OrderRequest]:
    entry = client_order_id(signal, Leg.ENTRY)
    common: dict[str, Any] = {"signal_id": signal, "symbol": "SPY", "qty": qty, "ts_created": ts}
    return [
        OrderRequest(
            client_order_id=entry,
            leg=Leg.ENTRY,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            decision_price=500.0,
            **common,
        ),
        OrderRequest(
            client_order_id=client_order_id(signal, Leg.STOP),
            leg=Leg.STOP,
            parent_id=entry,
            side=Side.SELL,
            order_type=OrderType.STOP,
            stop_price=498.0,
            **common,
        ),
        OrderRequest(
            client_order_id=client_order_id(signal, Leg.TARGET),
            leg=Leg.TARGET,
            parent_id=entry,
            side=Side.SELL,
            order_type=OrderType.LIMIT,
            limit_price=503.0,
            **common,
        ),
    ]


def book_with(*requests: OrderRequest) -> OrderBook:
    book = OrderBook()
    for r in requests:
        book.submit(r)
    return book


def clone(book: OrderBook) -> OrderBook:
    return OrderBook.restore(
        book.orders(), book.fills(), {o.client_order_id: book.last_seq(o.client_order_id) for o in book.orders()}
    )


def a_fill(request: OrderRequest, qty: float, price: float, ts: int, fill_id: str, **costs: float) -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=request.client_order_id,
        ts=ts,
        symbol=request.symbol,
        side=request.side,
        qty=qty,
        price=price,
        **costs,
    )


def test_a_submission_is_event_zero_and_resubmitting_it_changes_nothing() -> None:
    entry = bracket("sig-a")[0]
    book = OrderBook()
    [event] = book.submit(entry)
    assert (event.seq, event.kind, event.from_status, event.status, event.ts) == (0, "submitted", None, S.NEW, 1_000)
    assert book.submit(entry) == []
    assert len(book) == 1 and entry.client_order_id in book


def test_a_client_id_cannot_be_reused_for_another_request() -> None:
    entry = bracket("sig-a")[0]
    book = book_with(entry)
    with pytest.raises(DataError, match=f"client order id {entry.client_order_id} is already used"):
        book.submit(OrderRequest(**{f: getattr(entry, f) for f in entry.__struct_fields__} | {"qty": 5.0}))


def test_a_child_needs_its_parent_in_the_book() -> None:
    with pytest.raises(DataError, match=r"parent .* is not in the book"):
        OrderBook().submit(bracket("sig-a")[1])


def test_brackets_are_found_by_signal_and_by_parent() -> None:
    a, b = bracket("sig-a"), bracket("sig-b", ts=2_000)
    book = book_with(*a, *b)
    assert [o.request for o in book.orders_of_signal("sig-b")] == b
    assert [o.request for o in book.children(a[0].client_order_id)] == a[1:]
    assert book.children(a[1].client_order_id) == []
    book.apply(StatusUpdate(client_order_id=a[0].client_order_id, status=S.REJECTED, ts=1_500, reason="halted"))
    assert [o.client_order_id for o in book.open_orders()] == [r.client_order_id for r in a[1:] + b]


def test_a_fill_before_the_acknowledgement_implies_it() -> None:
    entry = bracket("sig-a")[0]
    book = book_with(entry)
    events = book.apply(a_fill(entry, 40.0, 500.1, 1_200, "x1"))
    assert [(e.seq, e.kind, e.from_status, e.status, e.implied) for e in events] == [
        (1, "status", S.NEW, S.ACCEPTED, True),
        (2, "fill", S.ACCEPTED, S.PARTIALLY_FILLED, False),
    ]
    assert events[0].detail() == {"kind": "status", "from": "new", "implied": True}
    assert events[1].detail() == {"kind": "fill", "from": "accepted", "fill_id": "x1", "qty": 40.0, "price": 500.1}
    late_ack = StatusUpdate(client_order_id=entry.client_order_id, status=S.ACCEPTED, ts=1_300, broker_order_id="b")
    assert book.apply(late_ack) == []


def test_a_resent_fill_is_ignored_and_a_conflicting_one_refused() -> None:
    entry = bracket("sig-a")[0]
    book = book_with(entry)
    f = a_fill(entry, 40.0, 500.1, 1_200, "x1")
    book.apply(f)
    before = clone(book)
    assert book.apply(f) == []
    assert book == before
    with pytest.raises(DataError, match="fill id x1 was seen before with different contents"):
        book.apply(a_fill(entry, 41.0, 500.1, 1_200, "x1"))
    assert book == before


def test_an_illegal_update_leaves_the_book_as_it_was() -> None:
    entry = bracket("sig-a")[0]
    book = book_with(entry)
    book.apply(a_fill(entry, 100.0, 500.0, 1_200, "x1"))
    before = clone(book)
    with pytest.raises(OrderStateError, match="illegal transition filled -> cancelled"):
        book.apply(StatusUpdate(client_order_id=entry.client_order_id, status=S.CANCELLED, ts=1_300))
    with pytest.raises(OrderStateError, match="illegal transition filled -> fill"):
        book.apply(a_fill(entry, 1.0, 500.0, 1_300, "x2"))
    assert book == before
    assert [f.fill_id for f in book.fills()] == ["x1"]


def test_updates_for_unknown_orders_are_refused() -> None:
    with pytest.raises(DataError, match="unknown client order id 'nope'"):
        OrderBook().apply(StatusUpdate(client_order_id="nope", status=S.ACCEPTED, ts=0))


def test_a_round_trip_leaves_a_flat_position_with_its_pnl() -> None:
    entry, stop, target = bracket("sig-a")
    book = book_with(entry, stop, target)
    book.apply(a_fill(entry, 100.0, 500.0, 1_200, "e", commission=0.35))
    book.apply(StatusUpdate(client_order_id=target.client_order_id, status=S.ACCEPTED, ts=1_250))
    book.apply(a_fill(target, 60.0, 503.0, 2_000, "t1"))
    book.apply(a_fill(target, 40.0, 503.0, 2_001, "t2", fees=0.05))
    book.apply(StatusUpdate(client_order_id=stop.client_order_id, status=S.CANCELLED, ts=2_002))
    position = book.positions()["SPY"]
    assert (position.qty, position.realised_pnl) == pytest.approx((0.0, 300.0 - 0.40))
    assert book.open_orders() == []
    assert [f.fill_id for f in book.fills(target.client_order_id)] == ["t1", "t2"]


# ---- random sequences of broker updates over two brackets

REQUESTS = bracket("sig-a") + bracket("sig-b", ts=1_001, qty=7.0)
updates = st.lists(
    st.one_of(
        st.builds(
            lambda i, status, ts: StatusUpdate(client_order_id=REQUESTS[i].client_order_id, status=status, ts=ts),
            st.integers(0, len(REQUESTS) - 1),
            st.sampled_from(list(S)),
            st.integers(1_000, 9_000),
        ),
        st.builds(
            lambda i, q, cents, ts, n: a_fill(REQUESTS[i], float(q), cents / 100, ts, f"x{n}"),
            st.integers(0, len(REQUESTS) - 1),
            st.integers(1, 60),
            st.integers(49_000, 51_000),
            st.integers(1_000, 9_000),
            st.integers(0, 15),  # few ids: resent and conflicting fill ids happen
        ),
    ),
    max_size=40,
)


@given(updates)
@settings(max_examples=300, deadline=None)
def test_random_broker_updates_keep_the_book_consistent(stream: list[BrokerUpdate]) -> None:
    book = book_with(*REQUESTS)
    log: list[OrderEvent] = []
    for u in stream:
        before = clone(book)
        try:
            events = book.apply(u)
        except (OrderStateError, DataError):
            assert book == before
            continue
        log += events
        for e in events:
            if e.from_status is not None and e.from_status.is_terminal:
                pytest.fail(f"terminal order moved: {e}")
        assert book.apply(u) == []  # the same update again changes nothing
        assert book == clone(book)
    for order in book.orders():
        cid = order.client_order_id
        seqs = [e.seq for e in log if e.client_order_id == cid]
        assert seqs == list(range(1, book.last_seq(cid) + 1))
        mine = [e for e in log if e.client_order_id == cid]
        assert (mine[-1].order if mine else order) == order
        fills = book.fills(cid)
        assert order.filled_qty == pytest.approx(sum(f.qty for f in fills)) and order.filled_qty <= order.qty
        if fills:
            assert order.avg_fill_price is not None
            assert min(f.price for f in fills) <= order.avg_fill_price <= max(f.price for f in fills)
    assert book.positions() == positions_from_fills(e.fill for e in log if e.fill is not None)
