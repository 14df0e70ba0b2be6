"""The local Alpaca-protocol server, driven by alpaca-py's own TradingClient and TradingStream."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scalper.brokers.alpaca_server import DUPLICATE_CLIENT_ID_MESSAGE, AlpacaServer, rfc3339

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # alpaca.trading imports websockets.legacy
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
    from alpaca.trading.models import Order as AlpacaOrder
    from alpaca.trading.models import TradeUpdate
    from alpaca.trading.requests import (
        GetOrdersRequest,
        LimitOrderRequest,
        MarketOrderRequest,
        StopLossRequest,
        StopOrderRequest,
        TakeProfitRequest,
    )
    from alpaca.trading.stream import TradingStream

KEY = "PKTESTKEY0001"
SECRET = "s3cret-value-never-printed"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def admin(server: AlpacaServer, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.rest_url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    s = AlpacaServer(KEY, SECRET, {"SPY": 500.0, "QQQ": 400.0}).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def client(server: AlpacaServer) -> Iterator[TradingClient]:
    c = TradingClient(KEY, SECRET, url_override=server.rest_url)
    yield c
    c._session.close()


def _order(answer: object) -> AlpacaOrder:
    assert isinstance(answer, AlpacaOrder)
    return answer


def market(cid: str, side: OrderSide = OrderSide.BUY, qty: float = 10, symbol: str = "SPY") -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY, client_order_id=cid)


def test_market_order_fills_at_the_last_price_and_makes_a_position(client: TradingClient) -> None:
    placed = _order(client.submit_order(market("m-1")))
    assert placed.status is OrderStatus.NEW  # the answer is the order as accepted; fills follow
    got = _order(client.get_order_by_id(placed.id))
    assert got.status is OrderStatus.FILLED
    assert float(got.filled_qty or 0) == 10.0
    assert float(got.filled_avg_price or 0) == 500.0
    assert _order(client.get_order_by_client_id("m-1")).id == placed.id
    positions = client.get_all_positions()
    assert isinstance(positions, list) and len(positions) == 1
    assert positions[0].symbol == "SPY" and positions[0].qty == "10" and positions[0].avg_entry_price == "500"
    client.submit_order(market("m-2", OrderSide.SELL, qty=4))
    client.submit_order(market("m-3", OrderSide.SELL, qty=10))
    positions = client.get_all_positions()
    assert isinstance(positions, list)
    assert positions[0].qty == "-4" and positions[0].side.value == "short" and positions[0].avg_entry_price == "500"


def test_limit_rests_lists_as_open_and_cancels(client: TradingClient) -> None:
    placed = _order(client.submit_order(LimitOrderRequest(
        symbol="QQQ", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=390.0, client_order_id="l-1"
    )))  # fmt: skip
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [o.client_order_id for o in open_orders if isinstance(o, AlpacaOrder)] == ["l-1"]
    client.cancel_order_by_id(placed.id)
    assert _order(client.get_order_by_id(placed.id)).status is OrderStatus.CANCELED
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert [o.client_order_id for o in closed if isinstance(o, AlpacaOrder)] == ["l-1"]
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(placed.id)
    assert err.value.status_code == 422


def test_duplicate_client_order_id_is_refused_with_422(client: TradingClient, server: AlpacaServer) -> None:
    client.submit_order(market("dup-1"))
    with pytest.raises(APIError) as err:
        client.submit_order(market("dup-1"))
    assert err.value.status_code == 422
    assert err.value.message == DUPLICATE_CLIENT_ID_MESSAGE
    assert err.value.code == 40010001
    assert len(client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))) == 1


def test_bad_keys_get_403(server: AlpacaServer) -> None:
    bad = TradingClient(KEY, "wrong-secret", url_override=server.rest_url)
    try:
        with pytest.raises(APIError) as err:
            bad.get_account()
        assert err.value.status_code == 403
        assert err.value.code == 40310000
    finally:
        bad._session.close()


def _bracket(cid: str, limit: float | None = None) -> MarketOrderRequest | LimitOrderRequest:
    common: dict[str, Any] = {
        "symbol": "SPY", "qty": 10, "side": OrderSide.BUY, "time_in_force": TimeInForce.DAY, "client_order_id": cid,
        "order_class": OrderClass.BRACKET, "take_profit": TakeProfitRequest(limit_price=510.0),
        "stop_loss": StopLossRequest(stop_price=495.0),
    }  # fmt: skip
    return MarketOrderRequest(**common) if limit is None else LimitOrderRequest(limit_price=limit, **common)


def test_bracket_legs_are_held_until_the_entry_fills_then_oco(client: TradingClient, server: AlpacaServer) -> None:
    placed = _order(client.submit_order(_bracket("b-1", limit=498.0)))
    assert placed.order_class is OrderClass.BRACKET
    assert placed.legs is not None and len(placed.legs) == 2
    assert {leg.status for leg in placed.legs} == {OrderStatus.HELD}
    by_type = {leg.type.value if leg.type else "": leg for leg in placed.legs}
    assert by_type["limit"].limit_price == "510" and by_type["stop"].stop_price == "495"
    nested = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    assert isinstance(nested, list)
    assert [o.client_order_id for o in nested if isinstance(o, AlpacaOrder)] == ["b-1"]
    assert isinstance(nested[0], AlpacaOrder) and nested[0].legs is not None and len(nested[0].legs) == 2
    flat = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert len(flat) == 3  # without nested, the legs are listed as orders
    assert admin(server, "/admin/price", {"symbol": "SPY", "price": 497.0})["events"] == 3  # fill + 2 legs new
    entry = _order(client.get_order_by_id(placed.id))
    assert entry.status is OrderStatus.FILLED and entry.filled_avg_price == "498"  # a resting limit fills at its limit
    legs = {leg.type.value if leg.type else "": _order(client.get_order_by_id(leg.id)) for leg in placed.legs}
    assert {leg.status for leg in legs.values()} == {OrderStatus.NEW}
    admin(server, "/admin/price", {"symbol": "SPY", "price": 494.5})  # the stop is reached: fills at the new price
    stop = _order(client.get_order_by_id(legs["stop"].id))
    assert stop.status is OrderStatus.FILLED and stop.filled_avg_price == "494.5"
    assert _order(client.get_order_by_id(legs["limit"].id)).status is OrderStatus.CANCELED
    assert client.get_all_positions() == []


def test_cancelling_an_unfilled_bracket_entry_cancels_its_legs(client: TradingClient) -> None:
    placed = _order(client.submit_order(_bracket("b-2", limit=480.0)))
    client.cancel_order_by_id(placed.id)
    assert placed.legs is not None
    for leg in placed.legs:
        assert _order(client.get_order_by_id(leg.id)).status is OrderStatus.CANCELED


def test_bracket_with_crossed_prices_is_refused(client: TradingClient) -> None:
    bad = MarketOrderRequest(
        symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=490.0), stop_loss=StopLossRequest(stop_price=495.0),
    )  # fmt: skip
    with pytest.raises(APIError) as err:
        client.submit_order(bad)
    assert err.value.status_code == 422


def test_stop_triggers_on_an_admin_price_and_partial_fills(client: TradingClient, server: AlpacaServer) -> None:
    stop = _order(client.submit_order(StopOrderRequest(
        symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, stop_price=495.0,
        client_order_id="s-1",
    )))  # fmt: skip
    assert admin(server, "/admin/price", {"symbol": "SPY", "price": 496.0})["events"] == 0
    admin(server, "/admin/price", {"symbol": "SPY", "price": 494.0, "max_fill_qty": 4})
    got = _order(client.get_order_by_id(stop.id))
    assert got.status is OrderStatus.PARTIALLY_FILLED and got.filled_qty == "4" and got.filled_avg_price == "494"
    admin(server, "/admin/price", {"symbol": "SPY", "price": 493.0})
    got = _order(client.get_order_by_id(stop.id))
    assert got.status is OrderStatus.FILLED and got.filled_qty == "10"
    assert float(got.filled_avg_price or 0) == pytest.approx((4 * 494 + 6 * 493) / 10)


def test_admin_reject_next_refuses_order_posts(client: TradingClient, server: AlpacaServer) -> None:
    admin(server, "/admin/reject_next", {"count": 1, "status": 403, "message": "insufficient buying power"})
    with pytest.raises(APIError) as err:
        client.submit_order(market("r-1"))
    assert err.value.status_code == 403 and err.value.message == "insufficient buying power"
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []
    client.submit_order(market("r-1"))  # only the next one: the same id now goes through
    assert len(client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))) == 1


def test_requests_are_recorded_without_secrets(client: TradingClient, server: AlpacaServer) -> None:
    client.get_account()
    client.submit_order(market("rec-1"))
    client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True, limit=7))
    record = admin(server, "/admin/requests", method="GET")
    assert [(r["method"], r["path"], r["status"]) for r in record] == [
        ("GET", "/v2/account", 200),
        ("POST", "/v2/orders", 200),
        ("GET", "/v2/orders", 200),
    ]
    assert record[1]["body"]["client_order_id"] == "rec-1" and record[1]["body"]["qty"] == 10
    assert record[2]["query"]["status"] == "all" and record[2]["query"]["limit"] == "7"
    text = json.dumps(record)
    assert SECRET not in text and KEY not in text
    admin(server, "/admin/requests", method="DELETE")
    assert server.requests() == []


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "alpaca-state.json"
    with AlpacaServer(KEY, SECRET, {"SPY": 500.0}, state_path=state) as first:
        c = TradingClient(KEY, SECRET, url_override=first.rest_url)
        c.submit_order(market("p-1"))
        c._session.close()
    with AlpacaServer(KEY, SECRET, {"SPY": 999.0}, state_path=state) as second:
        c = TradingClient(KEY, SECRET, url_override=second.rest_url)
        try:
            assert _order(c.get_order_by_client_id("p-1")).status is OrderStatus.FILLED
            with pytest.raises(APIError) as err:
                c.submit_order(market("p-1"))
            assert err.value.status_code == 422
            positions = c.get_all_positions()
            assert isinstance(positions, list) and positions[0].current_price == "500"  # the saved price wins
        finally:
            c._session.close()


def test_rfc3339_keeps_nanoseconds() -> None:
    assert rfc3339(1_700_000_000_123_456_789, 9) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"


class StreamRunner:
    """alpaca-py's TradingStream in a thread, collecting its trade updates."""

    def __init__(self, url: str, secret: str = SECRET) -> None:
        self.updates: list[TradeUpdate] = []
        self.stream = TradingStream(KEY, secret, url_override=url)

        async def handler(update: TradeUpdate) -> None:
            self.updates.append(update)

        self.stream.subscribe_trade_updates(handler)
        self.thread = threading.Thread(target=self.stream.run, daemon=True)
        self.thread.start()

    def stop(self, server: AlpacaServer) -> None:
        wait_for(lambda: self.stream._loop is not None, "the stream loop")
        loop: Any = self.stream._loop
        asyncio.run_coroutine_threadsafe(self.stream.stop_ws(), loop).result(5)
        server.drop_stream()  # TradingStream notices a stop only between 5 s receive timeouts otherwise
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_trading_stream_receives_trade_updates(client: TradingClient, server: AlpacaServer) -> None:
    runner = StreamRunner(server.stream_url)
    try:
        wait_for(lambda: server.stream_counts()["listening"] == 1, "TradingStream to listen")
        placed = _order(client.submit_order(market("t-1", qty=5)))
        wait_for(lambda: len(runner.updates) == 2, "new and fill")
        new, fill = runner.updates
        assert (new.event, fill.event) == ("new", "fill")
        assert new.order.id == placed.id and fill.order.client_order_id == "t-1"
        assert fill.price == 500.0 and fill.qty == 5.0 and fill.position_qty == 5.0
        assert fill.execution_id is not None and fill.timestamp.tzinfo is not None
        stop = _order(client.submit_order(StopOrderRequest(
            symbol="SPY", qty=5, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, stop_price=490.0
        )))  # fmt: skip
        server.set_price("SPY", 489.0)
        server.expire_day_orders()  # nothing open is left to expire
        wait_for(lambda: len(runner.updates) == 4, "the stop's new and fill")
        assert [(u.event, u.order.id) for u in runner.updates[2:]] == [("new", stop.id), ("fill", stop.id)]
        assert runner.updates[3].position_qty == 0.0
        limit = _order(client.submit_order(LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=400.0
        )))  # fmt: skip
        server.expire_day_orders("SPY")
        wait_for(lambda: len(runner.updates) == 6, "new and expired")
        assert [(u.event, u.order.id) for u in runner.updates[4:]] == [("new", limit.id), ("expired", limit.id)]
    finally:
        runner.stop(server)


def test_stream_refuses_bad_keys_and_counts_connections(server: AlpacaServer) -> None:
    runner = StreamRunner(server.stream_url, secret="wrong")
    try:
        time.sleep(0.3)  # a refused client keeps retrying with backoff; it must never be counted as listening
        assert server.stream_counts()["listening"] == 0
    finally:
        runner.stop(server)


def test_main_prints_the_urls_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, APCA_API_KEY_ID=KEY, APCA_API_SECRET_KEY=SECRET)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scalper.brokers.alpaca_server",
            "--price",
            "SPY=500",
            "--state",
            str(tmp_path / "s.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("alpaca-server rest=http://127.0.0.1:") and " stream=ws://127.0.0.1:" in line
        rest_url = line.split()[1].removeprefix("rest=")
        c = TradingClient(KEY, SECRET, url_override=rest_url)
        try:
            assert _order(c.submit_order(market("proc-1"))).client_order_id == "proc-1"
        finally:
            c._session.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        _, err = proc.communicate(timeout=5)
        assert SECRET not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    saved = json.loads((tmp_path / "s.json").read_text())
    assert [o["client_order_id"] for o in saved["orders"]] == ["proc-1"]


def test_main_refuses_to_run_without_keys(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from scalper.brokers.alpaca_server import main

    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    assert main([]) == 2
    assert "APCA_API_KEY_ID" in capsys.readouterr().err
