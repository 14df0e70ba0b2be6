"""SimBroker.watch and next_timer name every bar that can change an order: a broker handed only
those bars emits exactly the updates of a broker handed every bar (what the compiled replay loop
relies on to skip the others)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from scalper.brokers import BracketRequest, SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.events import SecondAgg
from scalper.core.orders import Fill, Leg, OrderRequest, OrderType, Side
from scalper.core.timeutil import datetime_to_ns

SEC = 1_000_000_000
T0 = datetime_to_ns(dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC))

orders = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["market", "limit", "stop", "stop_limit", "trailing", "bracket", "cancel"]),
        "side": st.sampled_from([Side.BUY, Side.SELL]),
        "qty": st.integers(1, 300).map(float),
        "offset": st.integers(1, 25).map(lambda c: c / 100),
    }
)
bars = st.lists(
    st.tuples(
        st.integers(-20, 20),  # open gap from the last close, cents
        st.integers(-15, 15),  # close − open, cents
        st.integers(0, 10),  # wicks, cents
        st.integers(0, 10),
        st.one_of(st.none(), orders),  # decided at this bar's close
    ),
    min_size=10,
    max_size=80,
)


def _orders(cid: str, spec: dict[str, Any], price: float, ts: int) -> list[OrderRequest] | BracketRequest:
    side: Side = spec["side"]
    s, off = side.sign, spec["offset"]
    common: dict[str, Any] = {"symbol": "SPY", "qty": spec["qty"], "ts_created": ts}
    kind = spec["kind"]
    if kind == "bracket":
        entry = OrderRequest(
            client_order_id=cid, signal_id=cid, leg=Leg.ENTRY, side=side, order_type=OrderType.MARKET, **common
        )
        leg = {"signal_id": cid, "side": side.opposite, "parent_id": cid, **common}
        return BracketRequest(
            entry=entry,
            stop=OrderRequest(
                client_order_id=f"{cid}s",
                leg=Leg.STOP,
                order_type=OrderType.STOP,
                stop_price=round(max(0.01, price - s * off), 2),
                **leg,
            ),
            target=OrderRequest(
                client_order_id=f"{cid}t",
                leg=Leg.TARGET,
                order_type=OrderType.LIMIT,
                limit_price=round(price + s * off, 2),
                **leg,
            ),
        )
    fields: dict[str, Any] = {"signal_id": None, "leg": Leg.EXIT, "side": side, **common}
    if kind == "limit":
        fields |= {"order_type": OrderType.LIMIT, "limit_price": round(price - s * off, 2)}
    elif kind == "stop":
        fields |= {"order_type": OrderType.STOP, "stop_price": round(price + s * off, 2)}
    elif kind == "stop_limit":
        stop = round(price + s * off, 2)
        fields |= {"order_type": OrderType.STOP_LIMIT, "stop_price": stop, "limit_price": round(stop + s * 0.02, 2)}
    elif kind == "trailing":
        fields |= {"order_type": OrderType.TRAILING_STOP, "trail_amount": off}
    else:
        fields |= {"order_type": OrderType.MARKET}
    return [OrderRequest(client_order_id=cid, **fields)]


def _wanted(b: SimBroker, bar: SecondAgg) -> bool:
    timer = b.next_timer()
    t, low, high = b.watch(bar.symbol)
    return (
        (timer is not None and bar.ts_event >= timer)
        or (t is not None and bar.ts_event >= t)
        or bar.low <= low
        or bar.high >= high
    )


@settings(max_examples=300, deadline=None)
@given(path=bars, latency_ms=st.sampled_from([0, 100, 1500]), max_fill=st.one_of(st.none(), st.just(40.0)))
def test_a_broker_given_only_the_watched_bars_emits_the_same_updates(
    path: list[tuple[int, int, int, int, dict[str, Any] | None]], latency_ms: int, max_fill: float | None
) -> None:
    config = SimConfig(latency_ns=latency_ms * 1_000_000, max_fill_qty=max_fill)
    clocks = ReplayClock(T0), ReplayClock(T0)
    every, watched = (SimBroker(c, config, session_close=lambda ts: T0 + 10 * 3600 * SEC) for c in clocks)
    price, skipped, sent = 100.0, 0, 0
    for k, (gap, body, up, down, spec) in enumerate(path):
        start = T0 + k * SEC
        o = max(1.0, round(price + gap / 100, 2))
        c = max(1.0, round(o + body / 100, 2))
        bar = SecondAgg(
            symbol="SPY",
            ts_event=start,
            ts_end=start + SEC,
            open=o,
            high=round(max(o, c) + up / 100, 2),
            low=max(0.5, round(min(o, c) - down / 100, 2)),
            close=c,
        )
        every.on_event(bar)
        if _wanted(watched, bar):
            watched.on_event(bar)
        else:
            skipped += 1
        price = c
        if spec is None:
            continue
        for clock in clocks:
            clock.advance_to(start + SEC)
        cid = f"o{k}"
        if spec["kind"] == "cancel":
            open_ids = [o.client_order_id for o in every.open_orders() if o.request.parent_id is None]
            for b in (every, watched):
                for oid in open_ids[:1]:
                    b.cancel(oid)
            continue
        request = _orders(cid, spec, c, start + SEC)
        sent += 1
        for b in (every, watched):
            if isinstance(request, BracketRequest):
                b.submit_bracket(request)
            else:
                b.submit(request[0])
    assert watched.updates == every.updates
    event(f"bars skipped: {'some' if skipped else 'none'}")
    event(f"fills: {'some' if any(isinstance(u, Fill) for u in every.updates) else 'none'}")
    event(f"orders: {'some' if sent else 'none'}")
