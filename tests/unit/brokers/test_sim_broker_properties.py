"""SimBroker properties over random price paths and random orders."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from scalper.brokers import BracketRequest, SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.events import Quote, SecondAgg, Trade
from scalper.core.orders import Fill, Leg, OrderRequest, OrderType, Side, StatusUpdate, qty_tolerance
from scalper.core.timeutil import datetime_to_ns
from scalper.oms import OrderBook

SEC = 1_000_000_000
MS = 1_000_000
T0 = datetime_to_ns(dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC))

orders = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["market", "limit", "stop", "stop_limit", "trailing", "bracket"]),
        "side": st.sampled_from([Side.BUY, Side.SELL]),
        "qty": st.integers(1, 300).map(float),
        "offset": st.integers(-60, 60).map(lambda c: c / 100),
        "width": st.integers(1, 80).map(lambda c: c / 100),
    }
)
steps = st.lists(
    st.tuples(
        st.integers(1, 700),  # ms since the previous event
        st.sampled_from(["trade", "bar", "quote"]),
        st.integers(-15, 15),  # price change in cents
        st.one_of(st.none(), orders),  # an order decided before this event
    ),
    min_size=1,
    max_size=60,
)


def _request(cid: str, spec: dict[str, Any], price: float, ts: int, **kw: Any) -> OrderRequest:
    side: Side = spec["side"]
    s = side.sign
    fields: dict[str, Any] = {"signal_id": "sig", "leg": Leg.EXIT, "ts_created": ts}
    fields.update(kw)
    kind = spec["kind"]
    if kind == "limit":
        fields |= {"order_type": OrderType.LIMIT, "limit_price": round(price - s * spec["offset"], 2)}
    elif kind == "stop":
        fields |= {"order_type": OrderType.STOP, "stop_price": round(price + s * abs(spec["offset"]) + 0.01, 2)}
    elif kind == "stop_limit":
        stop = round(price + s * abs(spec["offset"]) + 0.01, 2)
        fields |= {"order_type": OrderType.STOP_LIMIT, "stop_price": stop, "limit_price": round(stop + s * 0.02, 2)}
    elif kind == "trailing":
        fields |= {"order_type": OrderType.TRAILING_STOP, "trail_amount": spec["width"]}
    else:
        fields |= {"order_type": OrderType.MARKET}
    return OrderRequest(client_order_id=cid, symbol="SPY", side=side, qty=spec["qty"], **fields)


@settings(max_examples=150, deadline=None)
@given(steps=steps, max_fill=st.one_of(st.none(), st.integers(1, 200).map(float)), quotes_first=st.booleans())
def test_fills_are_consistent_after_arrival_and_within_limits(
    steps: list[tuple[int, str, int, dict[str, Any] | None]], max_fill: float | None, quotes_first: bool
) -> None:
    clock = ReplayClock(T0)
    b = SimBroker(clock, SimConfig(max_fill_qty=max_fill), session_close=lambda ts: T0 + 10 * 3600 * SEC)
    book = OrderBook()
    arrival: dict[str, int] = {}
    requests: dict[str, OrderRequest] = {}
    parent: dict[str, str] = {}
    ts, price = T0, 100.0
    if quotes_first:
        b.on_event(Quote(symbol="SPY", ts_event=ts, bid=99.99, bid_size=1.0, ask=100.01, ask_size=1.0))
    for i, (gap_ms, kind, cents, spec) in enumerate(steps):
        if spec is not None:
            clock.advance_to(ts)
            cid = f"o{i}"
            if spec["kind"] == "bracket":
                s = spec["side"].sign
                common: dict[str, Any] = {"signal_id": f"sig{i}", "symbol": "SPY", "qty": spec["qty"], "ts_created": ts}
                exit_side = spec["side"].opposite
                stop = round(price - s * spec["width"], 2)
                legs = BracketRequest(
                    entry=OrderRequest(
                        client_order_id=cid, leg=Leg.ENTRY, side=spec["side"], order_type=OrderType.MARKET, **common
                    ),
                    stop=OrderRequest(
                        client_order_id=f"{cid}s",
                        leg=Leg.STOP,
                        side=exit_side,
                        parent_id=cid,
                        order_type=OrderType.STOP,
                        stop_price=stop if stop > 0 else 0.01,
                        **common,
                    ),
                    target=OrderRequest(
                        client_order_id=f"{cid}t",
                        leg=Leg.TARGET,
                        side=exit_side,
                        parent_id=cid,
                        order_type=OrderType.LIMIT,
                        limit_price=round(price + s * spec["width"], 2),
                        **common,
                    ),
                )
                b.submit_bracket(legs)
                for leg in legs.legs:
                    book.submit(leg)
                    requests[leg.client_order_id] = leg
                    arrival[leg.client_order_id] = ts + b.config.latency_ns
                parent[f"{cid}s"] = parent[f"{cid}t"] = cid
            else:
                request = _request(cid, spec, price, ts)
                b.submit(request)
                book.submit(request)
                requests[cid] = request
                arrival[cid] = ts + b.config.latency_ns
        ts += gap_ms * MS
        price = max(1.0, round(price + cents / 100, 2))
        if kind == "trade":
            b.on_event(Trade(symbol="SPY", ts_event=ts, price=price, size=100.0))
        elif kind == "quote":
            b.on_event(Quote(symbol="SPY", ts_event=ts, bid=price - 0.01, bid_size=1.0, ask=price + 0.01, ask_size=1.0))
        else:
            high, low = price + abs(cents) / 100, max(0.5, price - 0.05)
            # delivered once complete (replay order): the bar of the second ending now, whose
            # window may hold trades and quotes already delivered
            b.on_event(
                SecondAgg(symbol="SPY", ts_event=ts - SEC, ts_end=ts, open=price, high=high, low=low, close=price)
            )
    b.advance_to(ts + SEC)

    updates = b.updates
    fills = [u for u in updates if isinstance(u, Fill)]
    event(f"fills: {'some' if fills else 'none'}")
    event(f"exit fills: {'some' if any(f.client_order_id in parent for f in fills) else 'none'}")
    assert [u.ts for u in updates] == sorted(u.ts for u in updates)
    for update in updates:
        book.apply(update)  # legal transitions only
    signed = sum(f.signed_qty for f in fills)
    position = b.positions().get("SPY")
    assert (position.qty if position else 0.0) == pytest.approx(signed, abs=1e-6)
    book_position = book.positions().get("SPY")
    assert (book_position.qty if book_position else 0.0) == pytest.approx(signed, abs=1e-6)
    first_fill: dict[str, int] = {}
    for f in fills:
        first_fill.setdefault(f.client_order_id, f.ts)
        request = requests[f.client_order_id]
        assert f.ts >= arrival[f.client_order_id], "no fill before the order arrives"
        if f.client_order_id in parent:
            assert f.ts > first_fill[parent[f.client_order_id]], "exits fill only after the entry"
        if request.limit_price is not None:
            if request.side is Side.BUY:
                assert f.price <= request.limit_price + 1e-9
            else:
                assert f.price >= request.limit_price - 1e-9
        assert f.fees >= 0.0 and (f.fees == 0.0 or f.side is Side.SELL)
    for entry, stop_target in ((p, [c for c, q in parent.items() if q == p]) for p in set(parent.values())):
        exited = sum(book.order(c).filled_qty for c in stop_target)
        assert exited <= book.order(entry).filled_qty + qty_tolerance(book.order(entry).qty)
    for status in (u for u in updates if isinstance(u, StatusUpdate)):
        assert status.ts >= requests[status.client_order_id].ts_created
