"""The runner's pure helpers: the money-safety checks, the run id, the reconciliation with a broker."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scalper.apps.context import AppContext
from scalper.apps.run import default_run_id, reconcile, run_kind
from scalper.brokers import BracketRequest, SimBroker, SimConfig
from scalper.config import Config, Secrets
from scalper.config.model import BrokerConfig
from scalper.config.secrets import Secret
from scalper.core.clock import ReplayClock
from scalper.core.errors import ConfigError
from scalper.core.events import Trade
from scalper.core.orders import Fill, Leg, OrderRequest, OrderStatus, OrderType, Side, StatusUpdate, TimeInForce
from scalper.core.timeutil import datetime_to_ns
from scalper.oms import OrderBook, client_order_id

SEC = 1_000_000_000
T0 = datetime_to_ns(dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC))  # Monday 10:00 New York
KEY_ID = "PKTESTKEYID0123456789"
SECRET_KEY = "s3cr3t-value-never-shown"


def ctx(*, keys: bool = False, **broker: Any) -> AppContext:
    secrets = Secrets(broker_key_id=Secret(KEY_ID), broker_secret_key=Secret(SECRET_KEY)) if keys else Secrets()
    return AppContext(config=Config(broker=BrokerConfig(**broker)), secrets=secrets)


def test_paper_is_the_default() -> None:
    assert run_kind(ctx(), live=False) == "paper"
    assert run_kind(ctx(kind="alpaca", keys=True), live=False) == "paper"  # keys alone trade nothing real


def test_live_needs_the_flag_alpaca_and_the_keys() -> None:
    assert run_kind(ctx(kind="alpaca", keys=True), live=True) == "live"
    assert run_kind(ctx(kind="alpaca", live=True, keys=True), live=True) == "live"
    with pytest.raises(ConfigError, match=r"broker\.kind = 'alpaca'") as sim:
        run_kind(ctx(kind="sim", keys=True), live=True)
    assert "'sim'" in str(sim.value)


def test_live_without_keys_names_the_variables_and_shows_no_secret() -> None:
    for secrets in (Secrets(), Secrets(broker_key_id=Secret(KEY_ID)), Secrets(broker_secret_key=Secret(SECRET_KEY))):
        context = AppContext(config=Config(broker=BrokerConfig(kind="alpaca")), secrets=secrets)
        with pytest.raises(ConfigError) as info:
            run_kind(context, live=True)
        text = str(info.value)
        assert "APCA_API_KEY_ID" in text and "APCA_API_SECRET_KEY" in text
        assert KEY_ID not in text and SECRET_KEY not in text


def test_live_in_the_file_alone_is_refused() -> None:
    for kind in ("sim", "alpaca"):
        with pytest.raises(ConfigError, match="--live") as info:
            run_kind(ctx(kind=kind, live=True, keys=True), live=False)
        assert "broker.live" in str(info.value)
        assert KEY_ID not in str(info.value) and SECRET_KEY not in str(info.value)


def test_the_default_run_id_is_the_new_york_date() -> None:
    assert default_run_id("paper", "sim", T0) == "paper-sim-2025-06-02"
    late = datetime_to_ns(dt.datetime(2025, 6, 3, 2, 30, tzinfo=dt.UTC))  # 22:30 New York, June 2
    assert default_run_id("live", "alpaca", late) == "live-alpaca-2025-06-02"
    assert default_run_id("paper", "sim", late + 2 * 3600 * SEC) == "paper-sim-2025-06-03"  # 00:30 June 3


def bracket(signal: str, *, qty: float = 100.0, limit: float | None = None) -> BracketRequest:
    entry_id = client_order_id(signal, Leg.ENTRY)
    common: dict[str, Any] = {
        "signal_id": signal,
        "symbol": "SPY",
        "qty": qty,
        "ts_created": T0,
        "time_in_force": TimeInForce.GTC,
    }
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    return BracketRequest(
        entry=OrderRequest(
            client_order_id=entry_id, leg=Leg.ENTRY, side=Side.BUY, order_type=kind, limit_price=limit, **common
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


def traded() -> tuple[OrderBook, SimBroker, BracketRequest]:
    """A book kept in step with a simulator: one bracket filled (100 long), its exits working."""
    clock = ReplayClock(T0)
    broker = SimBroker(clock, session_close=lambda ts: T0 + 8 * 3600 * SEC)
    book = OrderBook()
    broker.subscribe(book.apply)
    br = bracket("sig-1")
    for leg in br.legs:
        book.submit(leg)
    broker.submit_bracket(br)
    broker.on_event(Trade(symbol="SPY", ts_event=T0 + SEC, price=100.0, size=100.0))
    return book, broker, br


def test_a_book_in_step_with_its_broker_has_no_discrepancy() -> None:
    book, broker, _ = traded()
    assert len(broker.open_orders()) == 2 and broker.positions()["SPY"].qty == 100.0
    assert reconcile(book, broker) == []


def test_every_difference_between_book_and_broker_is_listed() -> None:
    book, broker, br = traded()
    stop, target = br.stop.client_order_id, br.target.client_order_id
    # the book missed the stop's cancel: open in the book only
    book.apply(StatusUpdate(client_order_id=target, status=OrderStatus.CANCELLED, ts=T0 + 2 * SEC))
    # an order the broker works that the book never saw
    other = SimBroker(ReplayClock(T0), session_close=lambda ts: T0 + 8 * 3600 * SEC)
    stray = bracket("sig-stray", limit=90.0)
    other.submit_bracket(stray)
    other.advance_to(T0 + SEC)
    # a book whose view differs on fills and positions: one more fill of 20 on another order
    extra = bracket("sig-2", qty=50.0)
    for leg in extra.legs:
        book.submit(leg)
    book.apply(
        Fill(
            fill_id="x-1",
            client_order_id=extra.entry.client_order_id,
            ts=T0 + 3 * SEC,
            symbol="SPY",
            side=Side.BUY,
            qty=20.0,
            price=100.0,
        )
    )
    lines = reconcile(book, broker)
    cid = extra.entry.client_order_id
    assert f"order {cid} is partially_filled in the book but not open at the broker" in lines
    for leg in (extra.stop, extra.target):
        assert f"order {leg.client_order_id} is new in the book but not open at the broker" in lines
    assert f"order {target} is open at the broker but ended in the book" in lines
    assert "position SPY: +120 in the book, +100 at the broker" in lines
    assert len(lines) == 5
    assert all(stop not in line for line in lines)  # the stop agrees
    # orders unknown to the book
    unknown = reconcile(OrderBook(), other)
    assert sorted(unknown) == sorted(
        f"order {leg.client_order_id} is open at the broker but unknown in the book" for leg in stray.legs
    )


def test_a_filled_quantity_that_differs_on_an_order_open_on_both_sides_is_listed() -> None:
    clock = ReplayClock(T0)
    broker = SimBroker(clock, SimConfig(max_fill_qty=40.0), session_close=lambda ts: T0 + 8 * 3600 * SEC)
    book = OrderBook()
    broker.subscribe(book.apply)
    br = bracket("sig-1")
    for leg in br.legs:
        book.submit(leg)
    broker.submit_bracket(br)
    broker.on_event(Trade(symbol="SPY", ts_event=T0 + SEC, price=100.0, size=100.0))
    entry = br.entry.client_order_id
    assert reconcile(book, broker) == []
    book.apply(
        Fill(fill_id="x-2", client_order_id=entry, ts=T0 + 2 * SEC, symbol="SPY", side=Side.BUY, qty=10.0, price=100.0)
    )
    assert reconcile(book, broker) == [
        f"order {entry}: filled 50 in the book, 40 at the broker",
        "position SPY: +50 in the book, +40 at the broker",
    ]
