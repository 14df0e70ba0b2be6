"""AlpacaBroker against the local Alpaca-protocol server (alpaca-py's client on one side, the server on the other)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scalper.brokers.alpaca import (
    UNREACHABLE_REASON,
    AlpacaBroker,
    AlpacaSettings,
    parse_timestamp_ns,
    regulatory_fees,
)
from scalper.brokers.alpaca_server import AlpacaServer
from scalper.brokers.port import BracketRequest, Broker
from scalper.brokers.sim import FINRA_TAF_DEFAULT, SEC_FEE_DEFAULT
from scalper.config.secrets import Secret
from scalper.core.errors import BrokerError, ConfigError
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
from scalper.core.timeutil import NEW_YORK, ns_to_datetime
from scalper.oms.ids import client_order_id

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # alpaca.trading imports websockets.legacy
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide
    from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
    from alpaca.trading.models import Order as AlpacaOrder
    from alpaca.trading.requests import LimitOrderRequest

KEY = "PKBROKERKEY42"
SECRET = "very-secret-value-0xDEADBEEF"
TS = 1_700_000_000_000_000_000


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Engine:
    """Plays the engine: owns the broker, drains it on the test thread, records what it got."""

    def __init__(self, server: AlpacaServer, *, stream_url: str | None = None, secret: str = SECRET, **kw: Any) -> None:
        self.updates: list[BrokerUpdate] = []
        self.threads: set[int] = set()
        self.connection: list[tuple[bool, str]] = []
        self.wakeups = 0
        settings = AlpacaSettings(
            key_id=Secret(KEY),
            secret_key=Secret(secret),
            rest_url=server.rest_url,
            stream_url=stream_url or server.stream_url,
        )
        kw.setdefault("retry_backoff_s", 0.02)
        kw.setdefault("reconnect_min_s", 0.05)
        kw.setdefault("reconnect_max_s", 0.2)
        kw.setdefault("http_timeout_s", 2.0)
        self.broker = AlpacaBroker(settings, wakeup=self._wakeup, on_connection=self._on_connection, **kw)
        self.broker.subscribe(self._listener)

    def _wakeup(self) -> None:
        self.wakeups += 1

    def _on_connection(self, ok: bool, reason: str) -> None:
        self.connection.append((ok, reason))

    def _listener(self, update: BrokerUpdate) -> None:
        self.threads.add(threading.get_ident())
        self.updates.append(update)

    def wait(self, condition: Callable[[list[BrokerUpdate]], bool], what: str, timeout: float = 5.0) -> None:
        def check() -> bool:
            self.broker.drain()
            return condition(self.updates)

        wait_for(check, what, timeout)

    def of(self, cid: str) -> list[BrokerUpdate]:
        return [u for u in self.updates if u.client_order_id == cid]

    def statuses(self, cid: str) -> list[OrderStatus]:
        return [u.status for u in self.of(cid) if isinstance(u, StatusUpdate)]

    def fills(self, cid: str) -> list[Fill]:
        return [u for u in self.of(cid) if isinstance(u, Fill)]


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    s = AlpacaServer(KEY, SECRET, {"SPY": 500.0, "QQQ": 400.0}).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def engine(server: AlpacaServer) -> Iterator[Engine]:
    e = Engine(server)
    e.broker.connect(5.0)
    try:
        yield e
    finally:
        e.broker.close()


def request(
    signal: str,
    leg: Leg = Leg.ENTRY,
    *,
    side: Side = Side.BUY,
    kind: OrderType = OrderType.MARKET,
    qty: float = 10.0,
    symbol: str = "SPY",
    parent: str | None = None,
    limit: float | None = None,
    stop: float | None = None,
    trail: float | None = None,
    tif: TimeInForce = TimeInForce.DAY,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id(signal, leg),
        signal_id=signal,
        leg=leg,
        symbol=symbol,
        side=side,
        order_type=kind,
        qty=qty,
        ts_created=TS,
        parent_id=parent,
        limit_price=limit,
        stop_price=stop,
        trail_amount=trail,
        time_in_force=tif,
    )


def bracket(
    signal: str, *, entry_limit: float | None = None, stop: float = 495.0, target: float = 510.0
) -> BracketRequest:
    entry = request(signal, kind=OrderType.MARKET if entry_limit is None else OrderType.LIMIT, limit=entry_limit)
    cid = entry.client_order_id
    return BracketRequest(
        entry=entry,
        stop=request(signal, Leg.STOP, side=Side.SELL, kind=OrderType.STOP, stop=stop, parent=cid),
        target=request(signal, Leg.TARGET, side=Side.SELL, kind=OrderType.LIMIT, limit=target, parent=cid),
    )


def posts(server: AlpacaServer) -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["method"] == "POST" and r["path"] == "/v2/orders"]


def test_the_broker_is_a_broker(engine: Engine) -> None:
    assert isinstance(engine.broker, Broker)
    assert engine.broker.supports_replace is False
    assert engine.connection == [(True, "")]


def test_market_order_is_accepted_then_filled_on_the_drain_thread(engine: Engine, server: AlpacaServer) -> None:
    buy = request("sig-1")
    engine.broker.submit(buy)  # returns at once; what happens arrives on drain()
    engine.wait(lambda u: len(u) == 2, "accepted and fill")
    accepted, fill = engine.updates
    broker_id = server.order_by_client_id(buy.client_order_id)["id"]
    assert isinstance(accepted, StatusUpdate) and accepted.status is OrderStatus.ACCEPTED
    assert accepted.broker_order_id == broker_id
    assert isinstance(fill, Fill)
    assert (fill.client_order_id, fill.symbol, fill.side, fill.qty, fill.price) == (
        buy.client_order_id,
        "SPY",
        Side.BUY,
        10.0,
        500.0,
    )
    assert fill.commission == 0.0 and fill.fees == 0.0  # no regulatory fees on buys
    assert abs(fill.ts - time.time_ns()) < 60 * 10**9
    assert engine.threads == {threading.get_ident()}  # delivered on the draining thread only
    assert engine.wakeups >= 1

    sell = request("sig-1", Leg.EXIT, side=Side.SELL, qty=10.0)
    engine.broker.submit(sell)
    engine.wait(lambda u: len(engine.fills(sell.client_order_id)) == 1, "the sell's fill")
    (sold,) = engine.fills(sell.client_order_id)
    day = ns_to_datetime(sold.ts).astimezone(NEW_YORK).date()
    taf_rate, taf_cap = FINRA_TAF_DEFAULT.on(day)
    expected = 500.0 * 10 * SEC_FEE_DEFAULT.rate_on(day) + min(10 * taf_rate, taf_cap)
    assert sold.fees == pytest.approx(expected) and sold.fees > 0.0
    assert engine.broker.positions()["SPY"].qty == 0.0


def test_limit_order_rests_then_cancel_is_confirmed(engine: Engine, server: AlpacaServer) -> None:
    limit = request("sig-2", kind=OrderType.LIMIT, limit=490.0, tif=TimeInForce.GTC)
    engine.broker.submit(limit)
    engine.wait(lambda u: engine.statuses(limit.client_order_id) == [OrderStatus.ACCEPTED], "accepted")
    [open_order] = engine.broker.open_orders()
    assert open_order.client_order_id == limit.client_order_id and open_order.status is OrderStatus.ACCEPTED
    assert open_order.request == limit
    engine.broker.cancel(limit.client_order_id)
    engine.wait(lambda u: OrderStatus.CANCELLED in engine.statuses(limit.client_order_id), "cancelled")
    assert engine.broker.open_orders() == []
    assert server.order_by_client_id(limit.client_order_id)["status"] == "canceled"


def test_partial_fills_then_fill(engine: Engine, server: AlpacaServer) -> None:
    limit = request("sig-3", kind=OrderType.LIMIT, limit=495.0)
    engine.broker.submit(limit)
    engine.wait(lambda u: engine.statuses(limit.client_order_id) == [OrderStatus.ACCEPTED], "accepted")
    server.set_price("SPY", 494.0, max_fill_qty=4.0)
    engine.wait(lambda u: len(engine.fills(limit.client_order_id)) == 1, "the partial fill")
    server.set_price("SPY", 493.0)
    engine.wait(lambda u: len(engine.fills(limit.client_order_id)) == 2, "the rest")
    assert [(f.qty, f.price) for f in engine.fills(limit.client_order_id)] == [(4.0, 495.0), (6.0, 495.0)]
    assert len({f.fill_id for f in engine.fills(limit.client_order_id)}) == 2


def test_bracket_entry_fills_and_legs_work_under_our_ids(engine: Engine, server: AlpacaServer) -> None:
    b = bracket("sig-4")
    engine.broker.submit_bracket(b)
    entry, stop, target = (leg.client_order_id for leg in b.legs)
    engine.wait(
        lambda u: (
            all(engine.statuses(c) == [OrderStatus.ACCEPTED] for c in (entry, stop, target))
            and len(engine.fills(entry)) == 1
        ),
        "three accepted and the entry's fill",
    )
    assert [(f.qty, f.price) for f in engine.fills(entry)] == [(10.0, 500.0)]
    remote = server.order_by_client_id(entry)
    legs = {leg["type"]: leg["id"] for leg in remote["legs"]}
    ids = {u.client_order_id: u.broker_order_id for u in engine.updates if isinstance(u, StatusUpdate)}
    assert ids == {entry: remote["id"], stop: legs["stop"], target: legs["limit"]}
    assert len(posts(server)) == 1 and posts(server)[0]["body"]["order_class"] == "bracket"

    server.set_price("SPY", 494.0)  # the stop is reached: it fills, the target is cancelled (OCO)
    engine.wait(lambda u: len(engine.fills(stop)) == 1 and OrderStatus.CANCELLED in engine.statuses(target), "OCO")
    assert [(f.side, f.qty, f.price) for f in engine.fills(stop)] == [(Side.SELL, 10.0, 494.0)]
    assert engine.fills(stop)[0].fees > 0.0
    assert engine.fills(target) == []
    assert engine.broker.unknown_updates == 0
    assert engine.broker.positions()["SPY"].qty == 0.0


def test_admin_reject_is_one_post_and_a_rejection(engine: Engine, server: AlpacaServer) -> None:
    server.reject_next(1, status=403, message="insufficient buying power")
    doomed = request("sig-5")
    engine.broker.submit(doomed)
    engine.wait(lambda u: engine.statuses(doomed.client_order_id) == [OrderStatus.REJECTED], "rejected")
    [rejected] = engine.of(doomed.client_order_id)
    assert isinstance(rejected, StatusUpdate) and rejected.reason == "insufficient buying power"
    follower = request("sig-6")  # the worker sends in order: once this one is answered, no retry is pending
    engine.broker.submit(follower)
    engine.wait(lambda u: len(engine.fills(follower.client_order_id)) == 1, "the next order's fill")
    assert [p["body"]["client_order_id"] for p in posts(server)] == [doomed.client_order_id, follower.client_order_id]


def test_rejected_bracket_rejects_all_three(engine: Engine, server: AlpacaServer) -> None:
    server.reject_next(1, status=422, message="qty must be > 0", code=42210000)
    b = bracket("sig-7")
    engine.broker.submit_bracket(b)
    engine.wait(lambda u: len(u) == 3, "three rejections")
    assert {(u.client_order_id, u.status, u.reason) for u in engine.updates if isinstance(u, StatusUpdate)} == {
        (leg.client_order_id, OrderStatus.REJECTED, "qty must be > 0") for leg in b.legs
    }
    assert len(posts(server)) == 1


def test_lost_response_is_resolved_by_client_id_not_resent(engine: Engine, server: AlpacaServer) -> None:
    server.fail_next(1, mode="drop_response")  # the order is created, its answer lost
    buy = request("sig-8")
    engine.broker.submit(buy)
    engine.wait(lambda u: len(engine.fills(buy.client_order_id)) == 1, "the fill")
    follower = request("sig-8b")  # sent after the retry is done: the worker sends in order
    engine.broker.submit(follower)
    engine.wait(lambda u: len(engine.fills(follower.client_order_id)) == 1, "the next order's fill")
    assert engine.statuses(buy.client_order_id) == [OrderStatus.ACCEPTED]
    assert [p["body"]["client_order_id"] for p in posts(server)] == [buy.client_order_id, follower.client_order_id]
    lookups = [r for r in server.requests() if r["path"] == "/v2/orders:by_client_order_id"]
    assert [r["query"]["client_order_id"] for r in lookups] == [buy.client_order_id]


def test_unreachable_after_bounded_attempts_rejects_and_reports(engine: Engine, server: AlpacaServer) -> None:
    server.fail_next(3, mode="drop_request")
    lost = request("sig-9")
    engine.broker.submit(lost)
    engine.wait(lambda u: engine.statuses(lost.client_order_id) == [OrderStatus.REJECTED], "rejected")
    [rejected] = engine.of(lost.client_order_id)
    assert isinstance(rejected, StatusUpdate) and rejected.reason == UNREACHABLE_REASON
    assert len(posts(server)) == 3  # bounded, each retry after a look-up by client id
    assert engine.connection[-1][0] is False and server.rest_url in engine.connection[-1][1]
    assert engine.broker.connected is False
    again = request("sig-10")
    engine.broker.submit(again)
    engine.wait(lambda u: len(engine.fills(again.client_order_id)) == 1, "the next order's fill")
    assert engine.connection[-1] == (True, "")


def test_resubmit_after_restart_reports_the_real_state(server: AlpacaServer) -> None:
    limit = request("sig-11", kind=OrderType.LIMIT, limit=490.0)
    first = Engine(server)
    first.broker.connect(5.0)
    try:
        first.broker.submit(limit)
        first.wait(lambda u: first.statuses(limit.client_order_id) == [OrderStatus.ACCEPTED], "accepted")
    finally:
        first.broker.close()
    server.set_price("SPY", 489.0)  # fills while no broker listens
    second = Engine(server)
    second.broker.connect(5.0)
    try:
        second.broker.submit(limit)  # the restarted process re-sends what it never saw acknowledged
        second.wait(lambda u: len(second.fills(limit.client_order_id)) == 1, "the fill found by client id")
        assert second.statuses(limit.client_order_id) == [OrderStatus.ACCEPTED]
        [fill] = second.fills(limit.client_order_id)
        assert (fill.qty, fill.price) == (10.0, 490.0)
        remote_id = server.order_by_client_id(limit.client_order_id)["id"]
        assert fill.fill_id.startswith(remote_id)
        assert [p["status"] for p in posts(server)] == [200, 422]  # no second order
    finally:
        second.broker.close()


def test_bind_bracket_after_restart_resolves_our_three_ids(server: AlpacaServer) -> None:
    b = bracket("sig-12", entry_limit=498.0)
    entry, stop, target = (leg.client_order_id for leg in b.legs)
    first = Engine(server)
    first.broker.connect(5.0)
    try:
        first.broker.submit_bracket(b)
        first.wait(lambda u: len(u) == 3, "three accepted")
    finally:
        first.broker.close()
    second = Engine(server)
    second.broker.bind_bracket(entry, stop, target)
    second.broker.connect(5.0)
    try:
        orders = {o.client_order_id: o for o in second.broker.open_orders()}
        assert set(orders) == {entry, stop, target}
        remote = server.order_by_client_id(entry)
        legs = {leg["type"]: leg["id"] for leg in remote["legs"]}
        assert orders[entry].broker_order_id == remote["id"]
        assert orders[stop].broker_order_id == legs["stop"] and orders[stop].request.stop_price == 495.0
        assert orders[target].broker_order_id == legs["limit"] and orders[target].request.limit_price == 510.0
        assert (orders[stop].request.leg, orders[target].request.leg) == (Leg.STOP, Leg.TARGET)
        assert all(o.status is OrderStatus.ACCEPTED for o in orders.values())

        server.set_price("SPY", 497.0)  # the entry fills; the legs start working
        server.set_price("SPY", 511.0)  # the target fills, the stop is cancelled
        second.wait(
            lambda u: (
                len(second.fills(entry)) == 1
                and len(second.fills(target)) == 1
                and OrderStatus.CANCELLED in second.statuses(stop)
            ),
            "the bound bracket's fills",
        )
        assert [(f.qty, f.price) for f in second.fills(target)] == [(10.0, 510.0)]
        assert second.broker.unknown_updates == 0
    finally:
        second.broker.close()


def test_manual_orders_are_ignored_and_counted(engine: Engine, server: AlpacaServer) -> None:
    manual = TradingClient(KEY, SECRET, url_override=server.rest_url)
    try:
        placed = manual.submit_order(LimitOrderRequest(
            symbol="QQQ", qty=1, side=OrderSide.BUY, time_in_force=AlpacaTimeInForce.DAY, limit_price=300.0
        ))  # fmt: skip
    finally:
        manual._session.close()
    assert isinstance(placed, AlpacaOrder)
    wait_for(lambda: engine.broker.unknown_updates == 1, "the manual order's update")
    [listed] = engine.broker.open_orders()  # returned under Alpaca's client id, for reconciliation to flag
    assert listed.client_order_id == placed.client_order_id and listed.broker_order_id == str(placed.id)
    assert listed.request.leg is Leg.EXIT and listed.request.signal_id is None
    assert engine.broker.drain() == 0 and engine.updates == []


def test_stream_drop_reports_disconnect_then_reconnects_and_resyncs(engine: Engine, server: AlpacaServer) -> None:
    limit = request("sig-13", kind=OrderType.LIMIT, limit=495.0)
    engine.broker.submit(limit)
    engine.wait(lambda u: engine.statuses(limit.client_order_id) == [OrderStatus.ACCEPTED], "accepted")
    assert server.drop_stream(refuse_s=0.3) == 1
    wait_for(lambda: len(engine.connection) >= 2, "the disconnect report")
    ok, reason = engine.connection[1]
    assert ok is False and server.stream_url in reason
    server.set_price("SPY", 494.0)  # fills while the stream is down: no client hears the event
    wait_for(lambda: engine.connection[-1] == (True, ""), "the reconnect", timeout=5.0)
    engine.wait(lambda u: len(engine.fills(limit.client_order_id)) == 1, "the fill found by the resync")
    [fill] = engine.fills(limit.client_order_id)
    assert (fill.qty, fill.price) == (10.0, 495.0) and ":sync:" in fill.fill_id
    assert all(ok is False for ok, _ in engine.connection[1:-1])


def test_synchronous_refusals(engine: Engine) -> None:
    buy = request("sig-14", kind=OrderType.LIMIT, limit=450.0)
    engine.broker.submit(buy)
    with pytest.raises(BrokerError, match="already used"):
        engine.broker.submit(buy)
    with pytest.raises(BrokerError, match="unknown client order id"):
        engine.broker.cancel("sc-entry-0-00000000000000000000")
    with pytest.raises(BrokerError, match="not supported"):
        engine.broker.replace(buy.client_order_id, request("sig-14", kind=OrderType.LIMIT, limit=451.0))
    b = bracket("sig-15")
    trailing = request("sig-15", Leg.STOP, side=Side.SELL, kind=OrderType.TRAILING_STOP, trail=1.0,
                       parent=b.entry.client_order_id)  # fmt: skip
    with pytest.raises(BrokerError, match="trailing stop"):
        engine.broker.submit_bracket(BracketRequest(entry=b.entry, stop=trailing, target=b.target))
    ioc = request("sig-16", tif=TimeInForce.IOC)
    with pytest.raises(BrokerError, match="day or gtc"):
        engine.broker.submit_bracket(
            BracketRequest(
                entry=ioc,
                stop=request("sig-16", Leg.STOP, side=Side.SELL, kind=OrderType.STOP, stop=490.0,
                             parent=ioc.client_order_id),
                target=request("sig-16", Leg.TARGET, side=Side.SELL, kind=OrderType.LIMIT, limit=510.0,
                               parent=ioc.client_order_id),
            )
        )  # fmt: skip
    engine.wait(lambda u: engine.statuses(buy.client_order_id) == [OrderStatus.ACCEPTED], "accepted")
    assert len(engine.updates) == 1  # nothing of the refused requests was sent


def test_trailing_stop_and_stop_limit_requests_map(engine: Engine, server: AlpacaServer) -> None:
    trail = request("sig-17", Leg.EXIT, side=Side.SELL, kind=OrderType.TRAILING_STOP, trail=2.0, qty=1.0)
    stop_limit = request("sig-18", Leg.EXIT, side=Side.SELL, kind=OrderType.STOP_LIMIT, stop=480.0, limit=479.0)
    engine.broker.submit(trail)
    engine.broker.submit(stop_limit)
    engine.wait(lambda u: len(u) == 2, "two accepted")
    bodies = {p["body"]["client_order_id"]: p["body"] for p in posts(server)}
    assert bodies[trail.client_order_id]["type"] == "trailing_stop"
    assert bodies[trail.client_order_id]["trail_price"] == 2.0
    assert (bodies[stop_limit.client_order_id]["stop_price"], bodies[stop_limit.client_order_id]["limit_price"]) == (
        480.0,
        479.0,
    )
    assert {o.client_order_id for o in engine.broker.open_orders()} == {
        trail.client_order_id,
        stop_limit.client_order_id,
    }


def test_account_and_positions(engine: Engine) -> None:
    account = engine.broker.account()
    assert account.equity == 100_000.0 and account.buying_power == 200_000.0 and account.currency == "USD"
    buy = request("sig-19", qty=2.0, symbol="QQQ")
    engine.broker.submit(buy)
    engine.wait(lambda u: len(engine.fills(buy.client_order_id)) == 1, "the fill")
    positions = engine.broker.positions()
    assert (positions["QQQ"].qty, positions["QQQ"].avg_price) == (2.0, 400.0)


def test_secrets_never_show(server: AlpacaServer) -> None:
    settings = AlpacaSettings(key_id=Secret(KEY), secret_key=Secret(SECRET), rest_url=server.rest_url)
    broker = AlpacaBroker(settings)
    for text in (repr(settings), str(settings), repr(broker), str(broker)):
        assert SECRET not in text and KEY not in text
    with pytest.raises(ConfigError) as config_error:
        AlpacaSettings(key_id=KEY, secret_key=Secret(SECRET))  # type: ignore[arg-type]
    assert KEY not in str(config_error.value)

    refused = Engine(server, secret="wrong-" + SECRET)
    with pytest.raises(BrokerError) as rest_error:
        refused.broker.connect(2.0)
    assert server.rest_url in str(rest_error.value) and "403" in str(rest_error.value)

    other = AlpacaServer(KEY, "another-secret").start()  # REST accepts our keys, this stream does not
    try:
        stream_refused = Engine(server, stream_url=other.stream_url)
        with pytest.raises(BrokerError) as stream_error:
            stream_refused.broker.connect(2.0)
        assert other.stream_url in str(stream_error.value) and "authentication refused" in str(stream_error.value)
        assert stream_refused.connection and stream_refused.connection[-1][0] is False
    finally:
        other.stop()
    for err in (rest_error.value, stream_error.value):
        text = f"{err!s} {err!r} {err.__cause__!r} {err.__context__!r}"
        assert SECRET not in text and KEY not in text
    assert all(SECRET not in reason for _, reason in stream_refused.connection)


def test_connect_times_out_naming_the_url(server: AlpacaServer) -> None:
    engine = Engine(server, stream_url="ws://127.0.0.1:9/stream")
    with pytest.raises(BrokerError, match=r"ws://127\.0\.0\.1:9/stream: not listening after 0\.3 s"):
        engine.broker.connect(0.3)
    assert not [t for t in threading.enumerate() if t.name.startswith("alpaca-broker")]


def test_close_is_clean_and_idempotent(server: AlpacaServer) -> None:
    engine = Engine(server)
    engine.broker.connect(5.0)
    engine.broker.close()
    engine.broker.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("alpaca-broker")]
    with pytest.raises(BrokerError, match="closed"):
        engine.broker.submit(request("sig-20"))
    assert engine.connection == [(True, "")]  # closing is not a disconnect


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T14:30:00Z", dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)),
        ("2024-01-02T14:30:00.123456789Z", dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)),
        ("2024-01-02T09:30:00.5-05:00", dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)),
    ],
)
def test_parse_timestamp_ns(text: str, expected: dt.datetime) -> None:
    fraction = {"2024-01-02T14:30:00Z": 0, "2024-01-02T14:30:00.123456789Z": 123_456_789}.get(text, 500_000_000)
    assert parse_timestamp_ns(text) == int(expected.timestamp()) * 10**9 + fraction


def test_regulatory_fees_only_on_sells() -> None:
    ts = 1_735_828_200_000_000_000  # 2025-01-02 14:30 UTC
    assert regulatory_fees(Side.BUY, 500.0, 100.0, ts) == 0.0
    assert regulatory_fees(Side.SELL, 500.0, 100.0, ts) == pytest.approx(500.0 * 100 * 27.80e-6 + 100 * 0.000166)
