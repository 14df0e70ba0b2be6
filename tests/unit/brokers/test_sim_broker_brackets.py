"""SimBroker brackets (OCO), trailing stops, expiry at the close, determinism, the bracket request."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import msgspec
import pytest

from scalper.brokers import BracketRequest, SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.errors import BrokerError, InvariantError
from scalper.core.events import SecondAgg, Trade
from scalper.core.orders import (
    BrokerUpdate,
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

S = OrderStatus
SEC = 1_000_000_000
MS = 1_000_000
T0 = datetime_to_ns(dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC))  # 10:00 New York
FAR_CLOSE = T0 + 10 * 3600 * SEC


def broker(clock: ReplayClock, **config: Any) -> SimBroker:
    return SimBroker(clock, SimConfig(**config), session_close=lambda ts: FAR_CLOSE)


def bracket(
    signal: str = "sig-1",
    *,
    qty: float = 100.0,
    stop: float = 99.0,
    target: float = 101.0,
    trail: float | None = None,
    entry_type: OrderType = OrderType.MARKET,
    limit: float | None = None,
    tif: TimeInForce = TimeInForce.GTC,
) -> BracketRequest:
    entry_id = client_order_id(signal, Leg.ENTRY)
    common: dict[str, Any] = {"signal_id": signal, "symbol": "SPY", "qty": qty, "ts_created": T0, "time_in_force": tif}
    stop_kw: dict[str, Any] = (
        {"order_type": OrderType.TRAILING_STOP, "trail_amount": trail}
        if trail is not None
        else {"order_type": OrderType.STOP, "stop_price": stop}
    )
    return BracketRequest(
        entry=OrderRequest(
            client_order_id=entry_id, leg=Leg.ENTRY, side=Side.BUY, order_type=entry_type, limit_price=limit, **common
        ),
        stop=OrderRequest(
            client_order_id=client_order_id(signal, Leg.STOP),
            leg=Leg.STOP,
            side=Side.SELL,
            parent_id=entry_id,
            **stop_kw,
            **common,
        ),
        target=OrderRequest(
            client_order_id=client_order_id(signal, Leg.TARGET),
            leg=Leg.TARGET,
            side=Side.SELL,
            parent_id=entry_id,
            order_type=OrderType.LIMIT,
            limit_price=target,
            **common,
        ),
    )


def trade(ns: int, price: float) -> Trade:
    return Trade(symbol="SPY", ts_event=ns, price=price, size=100.0)


def status_of(b: SimBroker, cid: str) -> list[OrderStatus]:
    return [u.status for u in b.updates if isinstance(u, StatusUpdate) and u.client_order_id == cid]


def fills_of(b: SimBroker, cid: str) -> list[Fill]:
    return [u for u in b.updates if isinstance(u, Fill) and u.client_order_id == cid]


def test_target_hit_cancels_the_stop() -> None:
    br = bracket()
    b = broker(ReplayClock(T0))
    b.submit_bracket(br)
    b.on_event(trade(T0 + SEC, 100.0))  # entry fills; children work from the next event
    b.on_event(trade(T0 + 2 * SEC, 100.5))
    b.on_event(trade(T0 + 3 * SEC, 101.2))  # through the target
    (target_fill,) = fills_of(b, br.target.client_order_id)
    assert target_fill.price == 101.0
    assert status_of(b, br.stop.client_order_id) == [S.ACCEPTED, S.CANCELLED]
    b.on_event(trade(T0 + 4 * SEC, 98.0))  # the cancelled stop cannot fill any more
    assert fills_of(b, br.stop.client_order_id) == []
    assert b.positions()["SPY"].qty == 0.0
    assert b.open_orders() == []


def test_stop_hit_cancels_the_target() -> None:
    br = bracket()
    b = broker(ReplayClock(T0))
    b.submit_bracket(br)
    b.on_event(trade(T0 + SEC, 100.0))
    b.on_event(trade(T0 + 2 * SEC, 98.9))
    (stop_fill,) = fills_of(b, br.stop.client_order_id)
    assert stop_fill.price == pytest.approx(98.9 - 0.005 - 0.001)
    assert status_of(b, br.target.client_order_id) == [S.ACCEPTED, S.CANCELLED]
    assert b.positions()["SPY"].qty == 0.0


def test_children_wait_for_the_entry_and_die_with_an_unfilled_entry() -> None:
    br = bracket(entry_type=OrderType.LIMIT, limit=95.0)
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit_bracket(br)
    b.on_event(trade(T0 + SEC, 101.5))  # above the target, but the entry has not filled
    b.on_event(trade(T0 + 2 * SEC, 98.0))  # below the stop: nothing either
    assert [u for u in b.updates if isinstance(u, Fill)] == []
    clock.advance_to(T0 + 3 * SEC)
    b.cancel(br.entry.client_order_id)
    b.advance_to(T0 + 4 * SEC)
    for leg in (br.stop, br.target):
        assert status_of(b, leg.client_order_id) == [S.ACCEPTED, S.CANCELLED]
    assert b.open_orders() == []


def test_exits_are_limited_to_the_entry_filled_quantity() -> None:
    br = bracket(qty=100.0)
    b = broker(ReplayClock(T0), max_fill_qty=30.0)
    b.submit_bracket(br)
    b.on_event(trade(T0 + SEC, 100.0))  # entry 30
    b.on_event(trade(T0 + 2 * SEC, 101.5))  # entry 30 more; target may sell the 30 held before
    assert sum(f.qty for f in fills_of(b, br.target.client_order_id)) == 30.0
    for i in range(3, 10):
        b.on_event(trade(T0 + i * SEC, 101.5))
    assert b.order(br.entry.client_order_id).status is S.FILLED
    assert b.order(br.target.client_order_id).status is S.FILLED
    assert b.order(br.stop.client_order_id).status is S.CANCELLED
    assert b.positions()["SPY"].qty == 0.0


def test_trailing_stop_only_tightens_and_exits_on_the_pullback() -> None:
    br = bracket(trail=0.50, target=200.0)
    stop_id = br.stop.client_order_id
    b = broker(ReplayClock(T0))
    b.submit_bracket(br)
    b.on_event(trade(T0 + SEC, 100.0))  # entry
    path = [100.0, 100.4, 100.9, 100.6, 100.7, 101.3, 101.0]
    stops: list[float] = []
    for i, price in enumerate(path):
        b.on_event(trade(T0 + (i + 2) * SEC, price))
        level = b.trailing_stop(stop_id)
        assert level is not None
        stops.append(level)
    assert stops == [99.5, 99.9, 100.4, 100.4, 100.4, 100.8, 100.8]
    assert all(a <= c for a, c in itertools.pairwise(stops))
    assert fills_of(b, stop_id) == []
    b.on_event(trade(T0 + 20 * SEC, 100.75))  # below 100.80: triggered
    (fill,) = fills_of(b, stop_id)
    assert fill.price == pytest.approx(100.75 - 0.006)
    assert status_of(b, br.target.client_order_id)[-1] is S.CANCELLED


def test_trailing_stop_checks_the_trigger_before_a_bar_moves_it() -> None:
    br = bracket(trail=0.50, target=200.0)
    b = broker(ReplayClock(T0))
    b.submit_bracket(br)

    def bar(second: int, high: float, low: float) -> SecondAgg:
        ts = T0 + second * SEC
        return SecondAgg(symbol="SPY", ts_event=ts, ts_end=ts + SEC, open=100.0, high=high, low=low, close=100.0)

    b.on_event(bar(1, 100.0, 100.0))  # the entry fills
    b.on_event(bar(2, 100.0, 100.0))  # stop 99.50
    # a bar that reaches 101 and 99.8: the order inside the bar is unknown, so the old stop (99.50) applies
    b.on_event(bar(3, 101.0, 99.8))
    assert fills_of(b, br.stop.client_order_id) == []
    assert b.trailing_stop(br.stop.client_order_id) == 100.5


def test_day_orders_expire_at_the_close_gtc_do_not() -> None:
    clock = ReplayClock(T0)
    b = SimBroker(clock)  # the XNYS calendar: 2025-06-02 closes 16:00 New York = 20:00 UTC
    common: dict[str, Any] = {"signal_id": None, "leg": Leg.EXIT, "symbol": "SPY", "qty": 10.0, "ts_created": T0}
    b.submit(OrderRequest(client_order_id="day", side=Side.BUY, order_type=OrderType.LIMIT, limit_price=50.0, **common))
    b.submit(
        OrderRequest(
            client_order_id="gtc",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            limit_price=50.0,
            time_in_force=TimeInForce.GTC,
            **common,
        )
    )
    close = datetime_to_ns(dt.datetime(2025, 6, 2, 20, 0, tzinfo=dt.UTC))
    b.on_event(trade(close - SEC, 100.0))
    assert status_of(b, "day") == [S.ACCEPTED]
    b.advance_to(close)
    (expired,) = [u for u in b.updates if isinstance(u, StatusUpdate) and u.status is S.EXPIRED]
    assert (expired.client_order_id, expired.ts) == ("day", close)
    assert [o.client_order_id for o in b.open_orders()] == ["gtc"]


def _scenario() -> list[BrokerUpdate]:
    clock = ReplayClock(T0)
    b = broker(clock, max_fill_qty=70.0, commission_per_share=0.002)
    b.submit_bracket(bracket("s1", trail=0.3, target=100.6))
    b.submit_bracket(bracket("s2", stop=99.7, target=101.0))
    prices = [100.0, 100.2, 100.5, 100.1, 99.6, 100.7, 100.3, 99.5, 100.0]
    for i, p in enumerate(prices):
        b.on_event(trade(T0 + (i + 1) * SEC, p))
    return b.updates


def test_same_inputs_give_identical_updates() -> None:
    first, second = _scenario(), _scenario()
    assert first == second
    assert len(first) > 10
    stamps = [u.ts for u in first]
    assert stamps == sorted(stamps)
    book = OrderBook()
    for br in (bracket("s1", trail=0.3, target=100.6), bracket("s2", stop=99.7, target=101.0)):
        for leg in br.legs:
            book.submit(leg)
    for update in first:
        book.apply(update)  # every update is a legal transition for the order book


def test_listeners_get_every_update_in_order() -> None:
    got: list[BrokerUpdate] = []
    b = broker(ReplayClock(T0))
    b.subscribe(got.append)
    b.submit_bracket(bracket())
    b.on_event(trade(T0 + SEC, 100.0))
    b.on_event(trade(T0 + 2 * SEC, 98.0))
    assert got == b.updates and len(got) == 6  # 3 accepted, entry fill, stop fill, target cancelled


def test_bracket_request_checks_its_legs() -> None:
    br = bracket()
    with pytest.raises(InvariantError, match="parent_id"):
        BracketRequest(entry=br.entry, stop=_with(br.stop, parent_id="other"), target=br.target)
    with pytest.raises(InvariantError, match="side: expected sell"):
        BracketRequest(entry=br.entry, stop=_with(br.stop, side=Side.BUY), target=br.target)
    with pytest.raises(InvariantError, match=r"qty: expected the entry's 100\.0"):
        BracketRequest(entry=br.entry, stop=br.stop, target=_with(br.target, qty=50.0))
    with pytest.raises(InvariantError, match="order_type: expected one of limit"):
        BracketRequest(
            entry=br.entry,
            stop=br.stop,
            target=_with(br.target, order_type=OrderType.STOP, limit_price=None, stop_price=101.0),
        )
    with pytest.raises(InvariantError, match="leg: expected entry"):
        BracketRequest(entry=br.stop, stop=br.stop, target=br.target)
    b = broker(ReplayClock(T0))
    b.submit_bracket(br)
    with pytest.raises(BrokerError, match="already used"):
        b.submit_bracket(br)
    with pytest.raises(BrokerError, match="cannot be replaced"):
        b.replace(br.entry.client_order_id, _with(br.entry, client_order_id="x"))


def _with(request: OrderRequest, **changes: Any) -> OrderRequest:
    return msgspec.structs.replace(request, **changes)
