"""The target-strategy engine: the reference strategy through the order book and the simulated broker
gives the known answer, the same trades as backtrader (the cross-check) and the same book as a loop
that hands every bar to the broker."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scalper.bench.reference import NO_COSTS, SYMBOL, ema_cross_scan, ema_cross_state, run_engine
from scalper.bench.reference_bars import ema_cross_reference, make_bars
from scalper.bench.reference_peer import run as run_backtrader
from scalper.brokers.sim import SimBroker
from scalper.core.clock import ReplayClock
from scalper.core.errors import InvariantError
from scalper.core.events import SecondAgg
from scalper.core.orders import Fill, Leg, OrderRequest, OrderType, Side, TimeInForce
from scalper.engine.target_strategy import NS_PER_MIN, NS_PER_S, run_target_strategy
from scalper.oms import OrderBook, client_order_id


@pytest.fixture(scope="module")
def two_days() -> dict[str, np.ndarray]:
    return make_bars(2, 7)


def triples(fills: list[Fill]) -> list[tuple[int, float, float]]:
    return [(f.ts, f.signed_qty, f.price) for f in fills]


def test_cross_check_the_engine_and_backtrader_make_the_same_trades(two_days: dict[str, Any]) -> None:
    ours = run_engine(two_days)
    peer = run_backtrader(two_days)
    assert len(ours.fills) > 100
    assert triples(ours.fills) == peer["fills"]  # same bars, same sizes, same prices
    assert ours.position.qty == peer["position"]
    assert round(ours.pnl, 2) == round(peer["pnl"], 2)
    fills, units, position, pnl = ema_cross_reference(two_days["open"], two_days["close"])
    assert (len(ours.fills), ours.units, ours.position.qty) == (fills, units, position)
    assert ours.pnl == pytest.approx(pnl, abs=1e-6)


def test_the_reference_workload_gives_the_known_answer_every_fill_at_the_next_open() -> None:
    bars = make_bars(43, 7)
    run = run_engine(bars)
    assert (len(run.fills), run.units, run.position.qty) == (10_427, 20_853, -1)
    assert round(run.pnl, 2) == 123.59
    assert run.decisions == 10_427
    index = {ts: i for i, ts in enumerate(bars["ts_ns"].tolist())}
    gaps = 0
    for fill in run.fills:
        decided = run.book.order(fill.client_order_id).request.ts_created
        k = index[fill.ts]
        # decided at the close of bar k - 1, filled at the open of bar k (the next session's first
        # bar when the decision came at a close), never at the decision bar's close
        assert bars["ts_ns"][k - 1] + NS_PER_S == decided
        assert fill.price == bars["open"][k]
        assert fill.costs == 0.0
        gaps += fill.ts != decided
    assert gaps > 0  # some decisions at a session's last bar filled across the overnight gap
    assert len(run.book) == 10_427 and run.book.open_orders() == []


def test_a_decision_on_the_final_bar_is_sent_and_stays_working(two_days: dict[str, Any]) -> None:
    whole = run_engine(two_days)
    last = whole.fills[-1]
    j = int(np.searchsorted(two_days["ts_ns"], last.ts)) - 1  # the bar whose close decided it
    cut = run_engine({k: v[: j + 1] for k, v in two_days.items()})
    assert cut.decisions == whole.decisions
    assert triples(cut.fills) == triples(whole.fills[:-1])
    (working,) = cut.book.open_orders()
    assert working.request.ts_created == last.ts and working.request.qty == abs(last.signed_qty)


def test_skipping_the_broker_while_nothing_works_changes_nothing(two_days: dict[str, Any]) -> None:
    """The same strategy with every bar handed to the broker, one bar at a time, gives the same book."""
    ts, o, h, lo, c, v = (
        np.asarray(two_days[k], dtype=float) for k in ("ts_ns", "open", "high", "low", "close", "volume")
    )
    ts_ns = two_days["ts_ns"].astype(np.int64)
    clock = ReplayClock(int(ts_ns[0]))
    broker = SimBroker(clock, NO_COSTS)
    book = OrderBook()
    broker.subscribe(book.apply)
    state, out = ema_cross_state(), np.zeros(1)
    position = 0.0
    for i in range(len(ts)):
        broker.on_event(
            SecondAgg(
                symbol=SYMBOL,
                ts_event=int(ts_ns[i]),
                ts_end=int(ts_ns[i]) + NS_PER_S,
                open=o[i],
                high=h[i],
                low=lo[i],
                close=c[i],
                volume=v[i],
            )
        )
        position = sum(f.signed_qty for f in book.fills())
        if ema_cross_scan(o, h, lo, c, v, state, i, i + 1, position, out) == i:
            decided = int(ts_ns[i]) + NS_PER_S
            clock.advance_to(decided)
            signal = f"{SYMBOL}-{decided}"
            qty = out[0] - position
            request = OrderRequest(
                client_order_id=client_order_id(signal, Leg.ENTRY),
                signal_id=signal,
                leg=Leg.ENTRY,
                symbol=SYMBOL,
                side=Side.BUY if qty > 0 else Side.SELL,
                order_type=OrderType.MARKET,
                qty=abs(qty),
                ts_created=decided,
                time_in_force=TimeInForce.GTC,
                decision_price=float(c[i]),
            )
            book.submit(request)
            broker.submit(request)
    fast = run_engine(two_days)
    assert fast.book == book
    assert triples(fast.fills) == triples(book.fills())


def test_minute_bars_go_to_the_broker_as_minute_aggregates_and_fill_at_the_next_open() -> None:
    seconds = make_bars(1, 3)
    per = 60
    m = len(seconds["ts_ns"]) // per
    minutes = {
        "ts_ns": seconds["ts_ns"][::per][:m],
        "open": seconds["open"][::per][:m],
        "high": seconds["high"][: m * per].reshape(m, per).max(axis=1),
        "low": seconds["low"][: m * per].reshape(m, per).min(axis=1),
        "close": seconds["close"][per - 1 :: per][:m],
        "volume": seconds["volume"][: m * per].reshape(m, per).sum(axis=1),
    }
    state = ema_cross_state(fast=5, slow=20, warmup=20)
    run = run_target_strategy(minutes, ema_cross_scan, state, symbol=SYMBOL, config=NO_COSTS, bar_ns=NS_PER_MIN)
    assert len(run.fills) > 5
    opens = dict(zip(minutes["ts_ns"].tolist(), minutes["open"].tolist(), strict=True))
    assert all(
        f.price == opens[f.ts] and f.ts == run.book.order(f.client_order_id).request.ts_created for f in run.fills
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"close": None}, "missing columns close"),
        ({"open": np.ones(3)}, "unequal length"),
        ({"ts_ns": np.array([3, 2, 1, 4], dtype=np.int64)}, "strictly increasing"),
    ],
)
def test_bad_bars_are_refused_with_what_is_wrong(change: dict[str, Any], message: str) -> None:
    bars: dict[str, Any] = {"ts_ns": np.arange(4, dtype=np.int64) * NS_PER_S}
    bars |= {k: np.full(4, 100.0) for k in ("open", "high", "low", "close", "volume")}
    for key, value in change.items():
        if value is None:
            del bars[key]
        else:
            bars[key] = value
    with pytest.raises(InvariantError, match=message):
        run_target_strategy(bars, ema_cross_scan, ema_cross_state(), symbol=SYMBOL, config=NO_COSTS)
    bars = {"ts_ns": np.arange(4, dtype=np.int64)} | {
        k: np.full(4, 1.0) for k in ("open", "high", "low", "close", "volume")
    }
    with pytest.raises(InvariantError, match="bar_ns"):
        run_target_strategy(bars, ema_cross_scan, ema_cross_state(), symbol=SYMBOL, config=NO_COSTS, bar_ns=5)
