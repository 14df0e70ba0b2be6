"""SimBroker.restore: a new simulator takes over the orders and fills of an earlier one (a paper restart)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scalper.brokers import BracketRequest, SimBroker, SimConfig
from scalper.brokers.sim import xnys_close_after
from scalper.core.clock import ReplayClock
from scalper.core.errors import InvariantError
from scalper.core.events import Trade
from scalper.core.orders import (
    Fill,
    Leg,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StatusUpdate,
    TimeInForce,
)
from scalper.core.timeutil import datetime_to_ns
from scalper.oms import OrderBook, client_order_id
from scalper.oms.positions import positions_from_fills

S = OrderStatus
SEC = 1_000_000_000
T0 = datetime_to_ns(dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC))  # Monday 10:00 New York
CLOSE = datetime_to_ns(dt.datetime(2025, 6, 2, 20, 0, tzinfo=dt.UTC))  # 16:00 New York
FAR_CLOSE = T0 + 10 * 3600 * SEC


def bracket(
    signal: str = "sig-1",
    *,
    qty: float = 100.0,
    entry_type: OrderType = OrderType.MARKET,
    limit: float | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    ts: int = T0,
) -> BracketRequest:
    entry_id = client_order_id(signal, Leg.ENTRY)
    common: dict[str, Any] = {"signal_id": signal, "symbol": "SPY", "qty": qty, "ts_created": ts, "time_in_force": tif}
    return BracketRequest(
        entry=OrderRequest(
            client_order_id=entry_id, leg=Leg.ENTRY, side=Side.BUY, order_type=entry_type, limit_price=limit, **common
        ),
        stop=OrderRequest(
            client_order_id=client_order_id(signal, Leg.STOP),
            leg=Leg.STOP,
            side=Side.SELL,
            parent_id=entry_id,
            order_type=OrderType.STOP,
            stop_price=99.0,
            **common,
        ),
        target=OrderRequest(
            client_order_id=client_order_id(signal, Leg.TARGET),
            leg=Leg.TARGET,
            side=Side.SELL,
            parent_id=entry_id,
            order_type=OrderType.LIMIT,
            limit_price=101.0,
            **common,
        ),
    )


def trade(ns: int, price: float) -> Trade:
    return Trade(symbol="SPY", ts_event=ns, price=price, size=100.0)


class Account:
    """A simulator with the book its updates are applied to (the stored book of a run)."""

    def __init__(self, at: int, book: OrderBook | None = None, *, calendar: bool = False, **config: Any) -> None:
        self.clock = ReplayClock(at)
        close = None if calendar else (lambda ts: FAR_CLOSE)  # None: the XNYS calendar
        self.broker = SimBroker(self.clock, SimConfig(**config), session_close=close)
        self.book = book or OrderBook()
        self.broker.subscribe(self.apply)

    def apply(self, update: StatusUpdate | Fill) -> None:
        self.book.apply(update)

    def send(self, br: BracketRequest) -> None:
        for leg in br.legs:
            self.book.submit(leg)
        self.broker.submit_bracket(br)

    def feed(self, *events: Trade) -> None:
        for ev in events:
            self.clock.advance_to(max(self.clock.now_ns(), ev.ts_event))
            self.broker.on_event(ev)

    def fills(self, cid: str | None = None) -> list[Fill]:
        return [u for u in self.broker.updates if isinstance(u, Fill) and (cid is None or u.client_order_id == cid)]


def restart(before: Account, at: int, *, calendar: bool = False, **config: Any) -> Account:
    """A new process: a copy of the stored book, a new simulator that takes it over."""
    book = OrderBook.restore(
        before.book.orders(),
        before.book.fills(),
        {o.client_order_id: before.book.last_seq(o.client_order_id) for o in before.book.orders()},
    )
    after = Account(at, book, calendar=calendar, **config)
    after.broker.restore(book.orders(), book.fills())
    return after


def test_restore_refuses_a_broker_that_has_orders() -> None:
    first = Account(T0)
    first.send(bracket())
    other = Account(T0)
    other.broker.submit_bracket(bracket("sig-2"))
    with pytest.raises(InvariantError, match="without orders"):
        other.broker.restore(first.book.orders(), first.book.fills())
    again = restart(first, T0 + SEC)
    with pytest.raises(InvariantError, match="without orders"):  # nor twice
        again.broker.restore(first.book.orders(), first.book.fills())


def test_restore_refuses_exits_without_their_entry() -> None:
    first = Account(T0)
    br = bracket()
    first.send(br)
    first.feed(trade(T0 + SEC, 100.0))
    exits = [first.book.order(br.stop.client_order_id), first.book.order(br.target.client_order_id)]
    fresh = SimBroker(ReplayClock(T0 + 2 * SEC), session_close=lambda ts: FAR_CLOSE)
    with pytest.raises(InvariantError, match=br.entry.client_order_id):
        fresh.restore(exits, [])


def test_an_unfilled_entry_keeps_its_exits_idle_until_it_fills() -> None:
    first = Account(T0)
    br = bracket(entry_type=OrderType.LIMIT, limit=95.0)
    first.send(br)
    first.feed(trade(T0 + SEC, 100.0))  # accepted, resting below the market
    assert {o.status for o in first.book.orders()} == {S.ACCEPTED}

    after = restart(first, T0 + 60 * SEC)
    assert after.broker.open_orders() == first.book.open_orders()
    after.feed(trade(T0 + 61 * SEC, 101.5), trade(T0 + 62 * SEC, 98.0))  # through target, then stop: entry unfilled
    assert after.fills() == []
    after.feed(trade(T0 + 63 * SEC, 94.9))  # trades through the entry's limit
    [entry_fill] = after.fills()
    assert entry_fill.client_order_id == br.entry.client_order_id and entry_fill.price == 95.0
    after.feed(trade(T0 + 64 * SEC, 101.5))  # the exits work from the event after the entry's fill
    [target_fill] = after.fills(br.target.client_order_id)
    assert target_fill.price == 101.0
    assert after.book.order(br.stop.client_order_id).status is S.CANCELLED
    assert after.broker.positions()["SPY"].qty == 0.0 and after.broker.open_orders() == []
    # the restored book took every update of the new simulator without a conflict
    assert after.book.positions()["SPY"] == after.broker.positions()["SPY"]


def test_a_bracket_never_acknowledged_works_after_restore() -> None:
    first = Account(T0)
    br = bracket()
    first.send(br)  # recorded; the process stops before the order arrives at the broker
    assert {o.status for o in first.book.orders()} == {S.NEW}
    after = restart(first, T0 + 60 * SEC)
    after.feed(trade(T0 + 61 * SEC, 100.0))
    [entry_fill] = after.fills()
    assert entry_fill.client_order_id == br.entry.client_order_id
    after.feed(trade(T0 + 62 * SEC, 98.5))  # through the stop
    [stop_fill] = after.fills(br.stop.client_order_id)
    assert stop_fill.qty == 100.0
    assert after.broker.positions()["SPY"].qty == 0.0


def test_a_partially_filled_order_fills_its_rest_with_new_fill_ids() -> None:
    first = Account(T0, max_fill_qty=40.0)
    br = bracket(qty=100.0)
    first.send(br)
    first.feed(trade(T0 + SEC, 100.0))
    entry = first.book.order(br.entry.client_order_id)
    assert entry.status is S.PARTIALLY_FILLED and entry.filled_qty == 40.0
    before_ids = [f.fill_id for f in first.book.fills()]

    after = restart(first, T0 + 30 * SEC, max_fill_qty=40.0)
    assert after.broker.order(br.entry.client_order_id).filled_qty == 40.0
    after.feed(trade(T0 + 31 * SEC, 100.2), trade(T0 + 32 * SEC, 100.3))
    new = after.fills(br.entry.client_order_id)
    assert [f.qty for f in new] == [40.0, 20.0]  # the remainder, in max_fill_qty slices
    new_ids = [f.fill_id for f in new]
    assert len(set(new_ids)) == 2 and not set(new_ids) & set(before_ids)
    assert after.book.order(br.entry.client_order_id).status is S.FILLED
    assert len(after.book.fills()) == 3  # nothing taken for a fill seen before
    assert after.broker.positions()["SPY"].qty == 100.0


def test_positions_are_those_of_the_fills() -> None:
    first = Account(T0, commission_per_share=0.005)
    br = bracket()
    first.send(br)
    first.feed(trade(T0 + SEC, 100.0), trade(T0 + 2 * SEC, 101.5))  # entry, then the target (with fees)
    second = bracket("sig-2", ts=T0 + 2 * SEC)
    first.clock.advance_to(T0 + 2 * SEC)
    first.send(second)
    first.feed(trade(T0 + 3 * SEC, 101.0))  # a second entry: 100 long again
    fills = first.book.fills()
    assert len(fills) == 3

    after = restart(first, T0 + 30 * SEC, commission_per_share=0.005)
    expected = positions_from_fills(fills)
    assert after.broker.positions() == expected == first.broker.positions()
    assert expected["SPY"].qty == 100.0 and expected["SPY"].realised_pnl != 0.0
    assert after.broker.open_orders() == first.broker.open_orders()


def test_day_orders_expire_at_the_close_of_the_session_after_restore() -> None:
    first = Account(T0, calendar=True)
    day = bracket(entry_type=OrderType.LIMIT, limit=95.0, tif=TimeInForce.DAY)
    gtc = bracket("sig-gtc", entry_type=OrderType.LIMIT, limit=90.0, tif=TimeInForce.GTC)
    first.send(day)
    first.send(gtc)
    first.feed(trade(T0 + SEC, 100.0))
    assert {o.status for o in first.book.orders()} == {S.ACCEPTED}

    at = T0 + 3600 * SEC  # 11:00 New York
    assert xnys_close_after(at) == CLOSE
    after = restart(first, at, calendar=True)
    after.broker.advance_to(CLOSE - 1)
    assert all(after.book.order(leg.client_order_id).is_open for leg in day.legs)
    after.broker.advance_to(CLOSE)
    assert after.book.order(day.entry.client_order_id).status is S.EXPIRED
    for leg in (day.stop, day.target):  # the entry ended without a fill: its exits go with it
        assert after.book.order(leg.client_order_id).status is S.CANCELLED
    assert all(after.book.order(leg.client_order_id).status is S.ACCEPTED for leg in gtc.legs)
    expired = [
        u
        for u in after.broker.updates
        if isinstance(u, StatusUpdate) and u.client_order_id == day.entry.client_order_id
    ]
    assert [(u.status, u.ts) for u in expired] == [(S.EXPIRED, CLOSE)]


def test_day_orders_of_a_closed_session_do_not_work_after_a_restore_after_the_close() -> None:
    first = Account(T0, calendar=True)
    day = bracket(entry_type=OrderType.LIMIT, limit=95.0, tif=TimeInForce.DAY)
    first.send(day)
    first.feed(trade(T0 + SEC, 100.0))  # accepted at 10:00; the process dies before the close
    after = restart(first, CLOSE + 1800 * SEC, calendar=True)  # restarted at 16:30 New York, the same day
    after.feed(trade(CLOSE + 1860 * SEC, 94.0))  # an after-hours trade through the limit
    assert after.fills() == []
    assert not after.book.order(day.entry.client_order_id).is_open
