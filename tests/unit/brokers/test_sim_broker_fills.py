"""SimBroker fills: latency, never at the signal bar's close, costs, partial fills, triggers, cancels."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scalper.brokers import Broker, FeeSchedule, SimBroker, SimConfig, TafSchedule
from scalper.core.clock import ReplayClock
from scalper.core.errors import BrokerError, ConfigError, InvariantError
from scalper.core.events import MinuteAgg, Quote, SecondAgg, Trade
from scalper.core.orders import Fill, Leg, OrderRequest, OrderStatus, OrderType, Side, StatusUpdate, TimeInForce
from scalper.core.timeutil import datetime_to_ns

S = OrderStatus
SEC = 1_000_000_000
MS = 1_000_000
#: 2025-06-02 10:00:00 America/New_York (a regular session, 14:00 UTC)
T0 = datetime_to_ns(dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC))
FAR_CLOSE = T0 + 10 * 3600 * SEC


def broker(clock: ReplayClock, **config: Any) -> SimBroker:
    return SimBroker(clock, SimConfig(**config), session_close=lambda ts: FAR_CLOSE)


def req(
    cid: str, side: Side = Side.BUY, kind: OrderType = OrderType.MARKET, qty: float = 100.0, **kw: Any
) -> OrderRequest:
    fields: dict[str, Any] = {"signal_id": None, "leg": Leg.EXIT, "ts_created": T0, "symbol": "SPY"}
    fields.update(kw)
    return OrderRequest(client_order_id=cid, side=side, order_type=kind, qty=qty, **fields)


def bar(second: int, o: float, h: float, lo: float, c: float, symbol: str = "SPY") -> SecondAgg:
    ts = T0 + second * SEC
    return SecondAgg(symbol=symbol, ts_event=ts, ts_end=ts + SEC, open=o, high=h, low=lo, close=c, volume=1000.0)


def trade(ns: int, price: float) -> Trade:
    return Trade(symbol="SPY", ts_event=ns, price=price, size=100.0)


def quote(ns: int, bid: float, ask: float) -> Quote:
    return Quote(symbol="SPY", ts_event=ns, bid=bid, bid_size=100.0, ask=ask, ask_size=100.0)


def fills(b: SimBroker) -> list[Fill]:
    return [u for u in b.updates if isinstance(u, Fill)]


def statuses(b: SimBroker, cid: str) -> list[OrderStatus]:
    return [u.status for u in b.updates if isinstance(u, StatusUpdate) and u.client_order_id == cid]


def _as_port(b: SimBroker) -> Broker:
    return b  # checked by mypy: SimBroker satisfies the Broker protocol


def test_sim_broker_implements_the_port() -> None:
    port = _as_port(broker(ReplayClock(T0)))
    assert isinstance(port, Broker)
    assert port.supports_replace


def test_decision_at_a_bar_close_never_fills_at_that_close_nor_inside_the_next_bar() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, slippage=0.001, half_spread=0.005)
    b.on_event(bar(0, 100.0, 100.2, 99.9, 100.10))  # the signal bar [t0, t0+1s), close 100.10
    clock.advance_to(T0 + SEC)  # decision at the bar's close
    b.submit(req("buy", ts_created=T0 + SEC))
    b.on_event(bar(1, 100.50, 100.6, 100.4, 100.55))  # in progress when the order arrives (t0+1.1s)
    assert fills(b) == []
    assert statuses(b, "buy") == []  # not even arrived by this bar's start
    b.on_event(bar(2, 101.00, 101.2, 100.9, 101.10))
    (fill,) = fills(b)
    assert fill.ts == T0 + 2 * SEC >= T0 + SEC + 100 * MS
    assert fill.price == pytest.approx(101.00 + 0.005 + 0.001)
    assert fill.price not in (100.10, 100.55)
    assert statuses(b, "buy") == [S.ACCEPTED]
    assert b.order("buy").status is S.FILLED
    (accepted,) = [u for u in b.updates if isinstance(u, StatusUpdate)]
    assert accepted.ts == T0 + SEC + 100 * MS


def test_zero_latency_fills_a_decision_at_a_bar_close_at_the_next_bar_open_never_at_that_close() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, latency_ns=0, slippage=0.0, half_spread=0.0)
    b.on_event(bar(0, 100.0, 100.2, 99.9, 100.10))
    clock.advance_to(T0 + SEC)  # decision at the close of bar 0 = the start of bar 1
    b.submit(req("buy", ts_created=T0 + SEC))
    assert fills(b) == []  # nothing fills at the decision instant without an event
    b.on_event(bar(1, 100.50, 100.6, 100.4, 100.55))
    (fill,) = fills(b)
    assert (fill.ts, fill.price) == (T0 + SEC, 100.50)  # the next bar's open, not 100.10
    assert statuses(b, "buy") == [S.ACCEPTED]


def test_latency_a_trade_before_arrival_cannot_fill_the_next_one_does() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, latency_ns=250 * MS)
    b.submit(req("buy"))
    b.on_event(trade(T0 + 249 * MS, 100.0))
    assert fills(b) == []
    b.on_event(trade(T0 + 251 * MS, 100.20))
    (fill,) = fills(b)
    assert fill.ts == T0 + 251 * MS
    assert fill.price == pytest.approx(100.20 + 0.005 + 0.001)


def test_quotes_buy_at_the_ask_and_sell_at_the_bid_plus_slippage_trades_do_not_execute_then() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, slippage=0.002)
    b.on_event(quote(T0, 99.98, 100.02))
    b.submit(req("buy"))
    b.submit(req("sell", Side.SELL))
    b.on_event(trade(T0 + 200 * MS, 100.0))  # quotes are known: marketable orders wait for a quote
    assert fills(b) == []
    b.on_event(quote(T0 + 300 * MS, 100.01, 100.03))
    buy, sell = fills(b)
    assert buy.price == pytest.approx(100.03 + 0.002)
    assert sell.price == pytest.approx(100.01 - 0.002)


def test_costs_commission_on_both_sides_fees_on_sells_only_at_the_dated_rates() -> None:
    sec = FeeSchedule(name="SEC", entries=((dt.date(2025, 1, 1), 20e-6), (dt.date(2025, 6, 2), 30e-6)))
    taf = TafSchedule(name="TAF", entries=((dt.date(2025, 1, 1), 0.0002, 8.0),))
    clock = ReplayClock(T0)
    b = broker(clock, commission_per_share=0.0035, sec_fee=sec, finra_taf=taf, half_spread=0.0, slippage=0.0)
    b.submit(req("buy", qty=1000.0))
    b.submit(req("sell", Side.SELL, qty=1000.0))
    b.on_event(trade(T0 + SEC, 100.0))
    buy, sell = fills(b)
    assert buy.commission == pytest.approx(3.5) and buy.fees == 0.0
    assert sell.commission == pytest.approx(3.5)
    assert sell.fees == pytest.approx(100.0 * 1000 * 30e-6 + 1000 * 0.0002)  # the rate effective 2025-06-02


def test_fees_use_the_rate_of_the_fill_day_and_the_taf_cap() -> None:
    sec = FeeSchedule(name="SEC", entries=((dt.date(2025, 1, 1), 20e-6), (dt.date(2025, 6, 3), 30e-6)))
    taf = TafSchedule(name="TAF", entries=((dt.date(2025, 1, 1), 0.0002, 8.0),))
    clock = ReplayClock(T0)
    b = broker(clock, sec_fee=sec, finra_taf=taf, half_spread=0.0, slippage=0.0)
    b.submit(req("sell", Side.SELL, qty=50_000.0))
    b.on_event(trade(T0 + SEC, 100.0))
    (fill,) = fills(b)
    assert fill.fees == pytest.approx(100.0 * 50_000 * 20e-6 + 8.0)  # day before the change; TAF capped


def test_default_fee_tables_and_errors() -> None:
    b = broker(ReplayClock(T0))
    assert b.config.sec_fee.rate_on(dt.date(2024, 6, 1)) == pytest.approx(27.80e-6)
    assert b.config.finra_taf.on(dt.date(2024, 6, 1)) == (0.000166, 8.30)
    with pytest.raises(ConfigError, match="no rate in force on 2010-01-04"):
        b.config.sec_fee.rate_on(dt.date(2010, 1, 4))
    with pytest.raises(ConfigError, match="strictly increasing"):
        FeeSchedule(name="SEC", entries=((dt.date(2025, 1, 2), 1e-6), (dt.date(2025, 1, 1), 1e-6)))
    with pytest.raises(ConfigError, match="rate effective 2025-01-01"):
        FeeSchedule(name="SEC", entries=((dt.date(2025, 1, 1), -1.0),))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("latency_ns", -1, "latency_ns"),
        ("latency_ns", 0.1, "integer nanoseconds"),
        ("half_spread", -0.01, "half_spread"),
        ("slippage", float("nan"), "slippage"),
        ("commission_per_share", -1.0, "commission_per_share"),
        ("max_fill_qty", 0.0, "max_fill_qty"),
    ],
)
def test_bad_config_is_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimConfig(**{field: value})


def test_partial_fills_at_most_n_shares_per_event() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, max_fill_qty=40.0, half_spread=0.0, slippage=0.0)
    b.submit(req("buy", qty=100.0))
    for i, price in enumerate((100.0, 100.1, 100.2, 100.3)):
        b.on_event(trade(T0 + (i + 1) * SEC, price))
    assert [(f.qty, f.price) for f in fills(b)] == [(40.0, 100.0), (40.0, 100.1), (20.0, 100.2)]
    order = b.order("buy")
    assert order.status is S.FILLED
    assert order.avg_fill_price == pytest.approx((40 * 100.0 + 40 * 100.1 + 20 * 100.2) / 100)
    assert b.positions()["SPY"].qty == 100.0
    assert [f.fill_id for f in fills(b)] == ["sim-0-0", "sim-0-1", "sim-0-2"]


def test_limit_buy_rests_until_the_market_trades_through_it_and_never_pays_above_it() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("lmt", kind=OrderType.LIMIT, limit_price=99.90))
    b.on_event(trade(T0 + SEC, 100.00))
    b.on_event(trade(T0 + 2 * SEC, 99.90))  # touch only: no fill
    assert fills(b) == []
    b.on_event(trade(T0 + 3 * SEC, 99.80))  # through: a resting order gets its limit, not better
    (fill,) = fills(b)
    assert fill.price == 99.90


def test_marketable_limit_fills_at_the_price_plus_costs_capped_at_the_limit() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("a", kind=OrderType.LIMIT, limit_price=100.50))
    b.submit(req("b", kind=OrderType.LIMIT, limit_price=100.003))
    b.submit(req("c", Side.SELL, kind=OrderType.LIMIT, limit_price=99.997))
    b.on_event(trade(T0 + SEC, 100.00))
    by_id = {f.client_order_id: f.price for f in fills(b)}
    assert by_id["a"] == pytest.approx(100.006)
    assert by_id["b"] == 100.003  # 100.00 trades below the limit: filled at the limit
    assert by_id["c"] == 99.997


def test_sell_stop_triggers_at_the_stop_or_the_gap_open_minus_costs() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("stop", Side.SELL, kind=OrderType.STOP, stop_price=99.50))
    b.submit(req("gap", Side.SELL, kind=OrderType.STOP, stop_price=99.80))
    b.on_event(bar(1, 100.0, 100.1, 99.90, 100.0))
    assert fills(b) == []
    b.on_event(bar(2, 99.70, 99.75, 99.40, 99.45))  # opens below 99.80 (gap), trades through 99.50
    by_id = {f.client_order_id: f.price for f in fills(b)}
    assert by_id["gap"] == pytest.approx(99.70 - 0.005 - 0.001)
    assert by_id["stop"] == pytest.approx(99.50 - 0.005 - 0.001)


def test_buy_stop_limit_triggers_then_respects_its_limit() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("sl", kind=OrderType.STOP_LIMIT, stop_price=100.50, limit_price=100.52))
    b.on_event(trade(T0 + SEC, 100.60))  # triggers; 100.605 is above the limit: rests as a limit
    assert fills(b) == []
    b.on_event(trade(T0 + 2 * SEC, 100.52))  # a touch does not fill a resting limit
    assert fills(b) == []
    b.on_event(trade(T0 + 3 * SEC, 100.51))  # through: at the limit
    (fill,) = fills(b)
    assert fill.price == 100.52


def test_cancel_takes_the_latency_to_arrive_and_the_order_may_fill_meanwhile() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("a", kind=OrderType.LIMIT, limit_price=99.0))
    b.submit(req("b", kind=OrderType.LIMIT, limit_price=99.0))
    clock.advance_to(T0 + SEC)
    b.cancel("a")
    b.cancel("b")
    b.on_event(trade(T0 + SEC + 50 * MS, 98.0))  # before the cancels arrive: both fill
    b.advance_to(T0 + 2 * SEC)
    assert statuses(b, "a") == [S.ACCEPTED]  # a terminal order's cancel changes nothing
    clock.advance_to(T0 + 3 * SEC)
    b.submit(req("c", kind=OrderType.LIMIT, limit_price=90.0, ts_created=T0 + 3 * SEC))
    clock.advance_to(T0 + 4 * SEC)
    b.cancel("c")
    b.advance_to(T0 + 5 * SEC)
    assert statuses(b, "c") == [S.ACCEPTED, S.CANCELLED]
    (cancel,) = [u for u in b.updates if isinstance(u, StatusUpdate) and u.status is S.CANCELLED]
    assert cancel.ts == T0 + 4 * SEC + 100 * MS
    assert b.open_orders() == []


def test_ioc_and_fok() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, max_fill_qty=60.0)
    b.submit(req("ioc", qty=100.0, time_in_force=TimeInForce.IOC))
    b.submit(req("fok", qty=100.0, time_in_force=TimeInForce.FOK))
    b.on_event(trade(T0 + SEC, 100.0))
    assert [f.client_order_id for f in fills(b)] == ["ioc"]
    assert b.order("ioc").filled_qty == 60.0 and b.order("ioc").status is S.CANCELLED
    assert b.order("fok").filled_qty == 0.0 and b.order("fok").status is S.CANCELLED


def test_replace_a_resting_order_and_refuse_a_filled_one() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("v0", Side.SELL, kind=OrderType.STOP, stop_price=99.0))
    b.submit(req("w0", kind=OrderType.MARKET))
    clock.advance_to(T0 + SEC)
    b.replace("v0", req("v1", Side.SELL, kind=OrderType.STOP, stop_price=99.5, ts_created=T0 + SEC))
    b.on_event(trade(T0 + SEC, 100.0))  # w0 fills
    b.replace("w0", req("w1", ts_created=T0 + SEC))
    b.on_event(trade(T0 + 2 * SEC, 99.4))
    assert statuses(b, "v0") == [S.ACCEPTED, S.CANCELLED]
    assert b.order("v1").status is S.FILLED
    assert statuses(b, "w1") == [S.REJECTED]
    with pytest.raises(BrokerError, match="side"):
        b.replace("v1", req("v2", Side.BUY, kind=OrderType.STOP, stop_price=99.5, ts_created=T0 + SEC))


def test_bad_requests_are_refused_with_the_reason() -> None:
    clock = ReplayClock(T0)
    b = broker(clock)
    b.submit(req("a"))
    with pytest.raises(BrokerError, match="order a: client order id already used"):
        b.submit(req("a"))
    with pytest.raises(BrokerError, match="order zz: unknown"):
        b.cancel("zz")
    with pytest.raises(InvariantError, match="ts_created"):
        b.submit(req("future", ts_created=T0 + SEC))
    b.on_event(trade(T0 + SEC, 100.0))
    with pytest.raises(InvariantError, match="clock"):
        b.submit(req("late"))  # the clock is behind the events already processed


def _updates_in_time_order(b: SimBroker) -> bool:
    stamps = [u.ts for u in b.updates]
    return stamps == sorted(stamps)


def test_a_late_event_of_a_symbol_is_counted_and_fills_nothing() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, half_spread=0.0, slippage=0.0)
    b.on_event(trade(T0 + 2 * SEC, 100.0))
    clock.advance_to(T0 + 2 * SEC)
    b.submit(req("buy", ts_created=T0 + 2 * SEC))  # arrives at t0+2.1s
    b.on_event(trade(T0 + 3 * SEC, 100.0))  # fills it
    b.on_event(trade(T0 + SEC, 90.0))  # late: stamped before a trade already used
    assert b.late_events == 1
    (fill,) = fills(b)
    assert (fill.ts, fill.price) == (T0 + 3 * SEC, 100.0)


def test_bars_delivered_after_the_trades_inside_them_only_move_time() -> None:
    """Replay order: the bar of second s arrives once complete, after the trades stamped up to
    s + 1 + the aggregate delay. The trades fill; the same prices in the bar are not used again."""
    clock = ReplayClock(T0)
    b = broker(clock, half_spread=0.0, slippage=0.0)
    b.on_event(trade(T0 + 500 * MS, 100.0))
    clock.advance_to(T0 + 500 * MS)
    b.submit(req("buy", ts_created=T0 + 500 * MS))  # arrives at t0+0.6s
    b.submit(req("stop", Side.SELL, OrderType.STOP, stop_price=99.0, ts_created=T0 + 500 * MS))
    b.on_event(trade(T0 + 2500 * MS, 100.5))
    b.on_event(bar(0, 100.0, 100.0, 98.0, 100.0))  # its low would trigger the stop: not used
    b.on_event(trade(T0 + 3500 * MS, 100.7))
    b.on_event(bar(1, 100.0, 101.0, 98.0, 100.0))
    (fill,) = fills(b)
    assert (fill.client_order_id, fill.ts, fill.price) == ("buy", T0 + 2500 * MS, 100.5)
    assert b.order("stop").status is S.ACCEPTED
    assert b.late_events == 0
    assert _updates_in_time_order(b)


def test_a_bar_only_symbol_beside_a_traded_one_fills_from_the_first_bar_after_arrival() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, half_spread=0.0, slippage=0.0)

    def qqq(second: int, price: float) -> SecondAgg:
        return bar(second, price, price, price, price, symbol="QQQ")

    b.on_event(qqq(0, 400.0))  # delivered at t0+1s: the decision is taken at that bar's close
    clock.advance_to(T0 + SEC)
    order = req("q", ts_created=T0 + SEC, symbol="QQQ")  # arrives at t0+1.1s
    b.submit(order)
    b.on_event(trade(T0 + 2500 * MS, 100.0))  # SPY trades move the broker's time past the arrival
    b.on_event(qqq(1, 401.0))  # [t0+1s, t0+2s) started before the arrival: not usable
    assert fills(b) == []
    b.on_event(trade(T0 + 3200 * MS, 100.0))
    b.on_event(qqq(2, 402.0))
    (fill,) = fills(b)
    assert (fill.client_order_id, fill.price) == ("q", 402.0)
    assert fill.ts == T0 + 3200 * MS  # stamped with the broker's time, never before earlier updates
    assert _updates_in_time_order(b)


def test_minute_bars_of_a_symbol_with_seconds_only_move_time() -> None:
    clock = ReplayClock(T0)
    b = broker(clock, half_spread=0.0, slippage=0.0)
    b.submit(req("sell", Side.SELL, OrderType.LIMIT, limit_price=105.0))
    for second in range(1, 61):
        b.on_event(bar(second, 100.0, 100.5, 99.5, 100.0))
    minute = MinuteAgg(
        symbol="SPY", ts_event=T0, ts_end=T0 + 60 * SEC, open=100.0, high=106.0, low=99.0, close=100.0, volume=1e5
    )
    b.on_event(minute)  # its high crosses the limit, but the seconds already gave these prices
    assert fills(b) == []
    assert b.late_events == 0
