"""Order value types refuse broken invariants with an error naming the field."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from scalper.core.errors import InvariantError
from scalper.core.orders import (
    Fill,
    Leg,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StatusUpdate,
)

PRICES = {"limit_price": 500.0, "stop_price": 499.0, "trail_amount": 0.5}
NEEDS = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("limit_price", "stop_price"),
    OrderType.TRAILING_STOP: ("trail_amount",),
}


def request(**overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "client_order_id": "sc-entry-0-abc",
        "signal_id": "sig-1",
        "leg": Leg.ENTRY,
        "symbol": "SPY",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "qty": 100.0,
        "limit_price": 500.0,
        "ts_created": 1_000,
    }
    return OrderRequest(**(fields | overrides))


@pytest.mark.parametrize("order_type", list(OrderType))
def test_each_order_type_is_built_with_exactly_its_prices(order_type: OrderType) -> None:
    prices = {name: PRICES[name] if name in NEEDS[order_type] else None for name in PRICES}
    built = request(order_type=order_type, **prices)
    assert {name for name in PRICES if getattr(built, name) is not None} == set(NEEDS[order_type])


@pytest.mark.parametrize(
    ("order_type", "missing"), [(t, name) for t, names in NEEDS.items() for name in names], ids=str
)
def test_a_missing_price_names_the_field(order_type: OrderType, missing: str) -> None:
    prices = {name: PRICES[name] if name in NEEDS[order_type] and name != missing else None for name in PRICES}
    with pytest.raises(InvariantError, match=f"{missing}: expected a price for a {order_type} order"):
        request(order_type=order_type, **prices)


@pytest.mark.parametrize(
    ("order_type", "extra"), [(t, name) for t, names in NEEDS.items() for name in PRICES if name not in names], ids=str
)
def test_a_price_the_type_does_not_use_is_refused(order_type: OrderType, extra: str) -> None:
    prices = {name: PRICES[name] if name in NEEDS[order_type] or name == extra else None for name in PRICES}
    with pytest.raises(InvariantError, match=f"{extra}: expected None for a {order_type} order"):
        request(order_type=order_type, **prices)


@pytest.mark.parametrize("qty", [0.0, -1.0, math.nan, math.inf])
def test_a_non_positive_or_non_finite_quantity_is_refused(qty: float) -> None:
    with pytest.raises(InvariantError, match=r"order sc-entry-0-abc qty: expected a finite number > 0"):
        request(qty=qty)


@pytest.mark.parametrize("field", ["limit_price", "decision_price"])
@pytest.mark.parametrize("price", [0.0, -5.0, math.nan])
def test_a_non_positive_price_is_refused(field: str, price: float) -> None:
    with pytest.raises(InvariantError, match=f"{field}: expected a finite number > 0"):
        request(**{field: price})


@pytest.mark.parametrize("leg", [Leg.ENTRY, Leg.STOP, Leg.TARGET])
def test_bracket_legs_need_a_signal(leg: Leg) -> None:
    with pytest.raises(InvariantError, match="signal_id: expected a signal id"):
        request(leg=leg, signal_id=None)


@pytest.mark.parametrize("leg", [Leg.EXIT, Leg.FLATTEN])
def test_exits_and_flattens_may_have_no_signal(leg: Leg) -> None:
    assert request(leg=leg, signal_id=None).signal_id is None


def test_an_order_cannot_be_its_own_parent() -> None:
    with pytest.raises(InvariantError, match="parent_id"):
        request(parent_id="sc-entry-0-abc")


@pytest.mark.parametrize(
    ("status", "filled", "avg"),
    [
        (OrderStatus.NEW, 10.0, 500.0),
        (OrderStatus.ACCEPTED, 10.0, 500.0),
        (OrderStatus.REJECTED, 10.0, 500.0),
        (OrderStatus.PARTIALLY_FILLED, 0.0, None),
        (OrderStatus.PARTIALLY_FILLED, 100.0, 500.0),
        (OrderStatus.FILLED, 99.0, 500.0),
        (OrderStatus.CANCELLED, 100.0, 500.0),
        (OrderStatus.EXPIRED, 100.0, 500.0),
    ],
)
def test_a_status_inconsistent_with_the_filled_quantity_is_refused(
    status: OrderStatus, filled: float, avg: float | None
) -> None:
    with pytest.raises(InvariantError, match=f"status: {status} is inconsistent with filled_qty"):
        Order(request=request(), status=status, filled_qty=filled, avg_fill_price=avg, ts_updated=1_000)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"filled_qty": 100.5, "avg_fill_price": 1.0, "status": OrderStatus.FILLED}, "filled_qty: expected <= qty"),
        ({"filled_qty": 10.0, "status": OrderStatus.PARTIALLY_FILLED}, "avg_fill_price: expected a price exactly"),
        ({"avg_fill_price": 5.0}, "avg_fill_price: expected a price exactly"),
        ({"reject_reason": "no"}, "reject_reason: expected None unless rejected"),
        ({"ts_updated": 999}, "ts_updated: expected >= ts_created 1000"),
        ({"broker_order_id": ""}, "broker_order_id: expected a non-empty string"),
    ],
)
def test_broken_order_fields_are_named(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"request": request(), "status": OrderStatus.ACCEPTED, "ts_updated": 1_000}
    with pytest.raises(InvariantError, match=message):
        Order(**(base | fields))


def test_a_partially_filled_order_reports_what_remains() -> None:
    order = Order(
        request=request(), status=OrderStatus.PARTIALLY_FILLED, filled_qty=30.0, avg_fill_price=500.0, ts_updated=2_000
    )
    assert (order.remaining_qty, order.is_open) == (70.0, True)
    assert msgspec.structs.replace(order, status=OrderStatus.CANCELLED).remaining_qty == 0.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"qty": 0.0}, "fill f1 qty"),
        ({"price": -1.0}, "fill f1 price"),
        ({"commission": -0.01}, "fill f1 commission"),
        ({"fees": math.inf}, "fill f1 fees"),
        ({"ts": -1}, "fill f1 ts"),
        ({"symbol": ""}, "fill f1 symbol"),
    ],
)
def test_broken_fill_fields_are_named(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "fill_id": "f1",
        "client_order_id": "c",
        "ts": 5,
        "symbol": "SPY",
        "side": Side.SELL,
        "qty": 3.0,
        "price": 10.0,
    }
    with pytest.raises(InvariantError, match=message):
        Fill(**(base | fields))


def test_a_sell_fill_has_a_negative_signed_quantity_and_sums_its_costs() -> None:
    fill = Fill(
        fill_id="f", client_order_id="c", ts=0, symbol="SPY", side=Side.SELL, qty=3, price=1, commission=0.5, fees=0.25
    )
    assert (fill.signed_qty, fill.costs) == (-3.0, 0.75)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"qty": 0.0, "avg_price": 10.0}, "avg_price: expected 0 exactly when flat"),
        ({"qty": 5.0, "avg_price": 0.0}, "avg_price: expected 0 exactly when flat"),
        ({"qty": math.nan, "avg_price": 1.0}, "qty: expected a finite number"),
        ({"realised_pnl": math.inf}, "realised_pnl"),
        ({"costs": -1.0}, "costs"),
    ],
)
def test_broken_position_fields_are_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        Position(**({"symbol": "SPY"} | fields))


def test_unrealised_pnl_is_signed_by_the_position() -> None:
    assert Position(symbol="SPY", qty=100, avg_price=10.0).unrealised_pnl(10.5) == pytest.approx(50.0)
    assert Position(symbol="SPY", qty=-100, avg_price=10.0).unrealised_pnl(10.5) == pytest.approx(-50.0)


def test_an_update_needs_an_order_id() -> None:
    with pytest.raises(InvariantError, match="client_order_id"):
        StatusUpdate(client_order_id="", status=OrderStatus.ACCEPTED, ts=0)


def test_orders_round_trip_through_json() -> None:
    order = Order(request=request(), status=OrderStatus.REJECTED, reject_reason="buying power", ts_updated=9_000)
    assert msgspec.json.decode(msgspec.json.encode(order), type=Order) == order
