"""The trader on a hand-built session: I:SPX and SPY one-second bars, a scripted play, the simulator."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.events import SecondAgg
from scalper.core.orders import Fill, Leg, OrderStatus, OrderType, Side
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.oms import client_order_id
from scalper.plays.base import load_play
from scalper.strategy.thresholds import Level, RiskThresholds, load_thresholds
from scripted_play import PATH, RATIO, T0, S, ScriptedPlay, decision

EQUITY = 100_000.0
HALF_SPREAD = 0.005
SLIPPAGE = 0.001


def bars(spy: list[tuple[float, float]]) -> list[SecondAgg]:
    """Per second (open, close) of SPY; I:SPX moves with it at RATIO. Replay order: the index's bar
    of a second before the proxy's (symbol order at the same delivery time)."""
    out: list[SecondAgg] = []
    for i, (o, c) in enumerate(spy):
        ts = T0 + i * S
        lo, hi = min(o, c), max(o, c)
        out.append(
            SecondAgg(
                symbol="I:SPX",
                ts_event=ts,
                ts_end=ts + S,
                open=o * RATIO,
                high=hi * RATIO,
                low=lo * RATIO,
                close=c * RATIO,
            )
        )
        out.append(
            SecondAgg(
                symbol="SPY",
                ts_event=ts,
                ts_end=ts + S,
                open=o,
                high=hi,
                low=lo,
                close=c,
                volume=1000.0,
                vwap=(o + c) / 2,
            )
        )
    return out


def path(*legs: tuple[int, float]) -> list[tuple[float, float]]:
    """Closes moving linearly between (second, price) points; each bar opens at the previous close."""
    closes: list[float] = []
    for (s0, p0), (s1, p1) in itertools.pairwise(legs):
        for s in range(s0, s1):
            closes.append(round(p0 + (p1 - p0) * (s - s0) / (s1 - s0), 2))
    closes.append(legs[-1][1])
    return [(closes[max(0, i - 1)], c) for i, c in enumerate(closes)]


def risk(**limits: Any) -> RiskThresholds:
    r = load_thresholds().risk
    return r.model_copy(update={"limits": r.limits.model_copy(update=limits)}) if limits else r


def run(
    spy: list[tuple[float, float]],
    *,
    enter_at: tuple[int, ...],
    exit_at: tuple[int, ...] = (),
    level: Level = "normal",
    limits: dict[str, Any] | None = None,
    stop_points: float = 2.0,
) -> tuple[Trader, SimBroker, ScriptedPlay]:
    clock = ReplayClock(T0)
    broker = SimBroker(clock, SimConfig(half_spread=HALF_SPREAD, slippage=SLIPPAGE))
    play = load_play(
        PATH,
        {
            "index": "I:SPX",
            "proxy": "SPY",
            "reward_risk": 2.0,
            "cooldown_s": 0,
            "enter_at": enter_at,
            "exit_at": exit_at,
            "stop_points": stop_points,
        },
        name="SCRIPTED",
    )
    assert isinstance(play, ScriptedPlay)
    ticks = itertools.count(0, 1000)
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=risk(**(limits or {})),
        broker=broker,
        clock=clock,
        equity=EQUITY,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: level,
        perf_counter_ns=lambda: next(ticks),
        expectancy_lower_r={"SCRIPTED": 0.2},
    )
    trader.broker_connected(T0)
    for event in bars(spy):
        trader.on_event(event)
    return trader, broker, play


# SPY at 500 until second 9, 500.05 at 10, 500.10 at 11, then up to 500.60 by second 30
RISING = path((0, 500.0), (9, 500.0), (11, 500.10), (30, 500.60), (40, 500.60))


def test_an_entry_sends_one_bracket_with_deterministic_ids_sized_by_the_risk_rules() -> None:
    trader, _, _ = run(RISING, enter_at=(decision(9),))
    [record] = [r for r in trader.signals if r.kind == "enter"]
    signal_id = f"SCRIPTED-{decision(9)}"
    assert record.accepted and record.signal_id == signal_id and record.level == "normal"
    ids = tuple(client_order_id(signal_id, leg) for leg in (Leg.ENTRY, Leg.STOP, Leg.TARGET))
    assert record.client_order_ids == ids
    # plan in proxy dollars: entry 500.00, stop 2 / 10 = 0.20 below, target 2R = 0.40 above
    assert record.plan is not None
    assert (record.plan.entry, record.plan.stop, record.plan.target) == (500.0, 499.8, 500.4)
    # risk 0.5% x 100k / 0.20 = 2500; notional 2 x 100k / 500 = 400; volatility 2% x 100k / (500 x 0.012) = 333
    assert record.shares == 333
    assert any(r.code == "BOUND_BY" and "volatility" in r.text for r in record.reasons)
    assert tuple(r.code for r in record.reasons[:2]) == ("SCRIPTED", "POLICY")
    orders = trader.book.orders_of_signal(signal_id)
    assert [o.client_order_id for o in orders] == sorted(ids)
    by_leg = {o.request.leg: o.request for o in orders}
    assert by_leg[Leg.ENTRY].order_type is OrderType.MARKET and by_leg[Leg.ENTRY].side is Side.BUY
    assert by_leg[Leg.STOP].stop_price == 499.8 and by_leg[Leg.TARGET].limit_price == 500.4
    assert {o.request.qty for o in orders} == {333.0}
    assert len(trader.book) == 3
    assert record.latency_ns == 1000  # two reads of the injected counter: arrival, then submit


def test_the_entry_fills_after_the_latency_at_a_later_price_and_the_target_closes_the_trade() -> None:
    trader, broker, play = run(RISING, enter_at=(decision(9),))
    signal_id = f"SCRIPTED-{decision(9)}"
    entry, stop, target = (client_order_id(signal_id, leg) for leg in (Leg.ENTRY, Leg.STOP, Leg.TARGET))
    fills = [u for u in broker.updates if isinstance(u, Fill)]
    assert [f.client_order_id for f in fills] == [entry, target]
    entry_fill, target_fill = fills
    # decided at the end of second 9 (T0 + 10 s), arrives 100 ms later: second 10's bar started
    # before the arrival, so the first usable bar is second 11, at its open + half-spread + slippage
    assert entry_fill.ts == T0 + 11 * S
    assert entry_fill.price == pytest.approx(RISING[11][0] + HALF_SPREAD + SLIPPAGE)
    assert RISING[11][0] == 500.05 and RISING[9][1] == 500.0
    assert entry_fill.price == pytest.approx(500.056)  # not the signal bar's close (500.00)
    # the target fills at its limit once the market trades through 500.40; the stop is cancelled (OCO)
    assert target_fill.price == 500.4 and target_fill.qty == 333.0
    assert trader.book.order(stop).status is OrderStatus.CANCELLED
    assert trader.book.order(target).status is OrderStatus.FILLED
    assert trader.positions()["SPY"].is_flat
    assert not trader.in_trade("SCRIPTED") and play.position == 0
    assert play.closed_at == [decision(SPY_SECOND_THROUGH_TARGET)]
    expected = 333 * (500.4 - entry_fill.price) - target_fill.costs
    assert trader.kill_switch.day_pnl == pytest.approx(expected)


#: the first second whose SPY bar trades above 500.40 (the target)
SPY_SECOND_THROUGH_TARGET = next(i for i, (o, c) in enumerate(RISING) if max(o, c) > 500.4)


def test_a_second_identical_run_gives_identical_orders_fills_and_records() -> None:
    first, broker1, _ = run(RISING, enter_at=(decision(9),))
    second, broker2, _ = run(RISING, enter_at=(decision(9),))
    assert broker1.updates == broker2.updates
    assert first.book == second.book
    assert first.signals == second.signals


def test_an_exit_intent_cancels_the_exits_and_sends_a_market_exit() -> None:
    flat = path((0, 500.0), (9, 500.0), (11, 500.10), (40, 500.10))
    trader, _, play = run(flat, enter_at=(decision(9),), exit_at=(decision(20),))
    signal_id = f"SCRIPTED-{decision(9)}"
    exit_id = client_order_id(signal_id, Leg.EXIT)
    [record] = [r for r in trader.signals if r.kind == "exit"]
    assert record.accepted and record.client_order_ids == ()  # decided at T0 + 21 s: first the cancels
    cancelled_at = []
    for leg in (Leg.STOP, Leg.TARGET):
        child = trader.book.order(client_order_id(signal_id, leg))
        assert child.status is OrderStatus.CANCELLED
        cancelled_at.append(child.ts_updated)
    exit_order = trader.book.order(exit_id)
    assert exit_order.status is OrderStatus.FILLED and exit_order.side is Side.SELL and exit_order.qty == 333.0
    # the market exit goes out only once both legs are confirmed cancelled: a leg filling meanwhile
    # would otherwise leave the exit opening a reverse position
    assert exit_order.request.ts_created >= max(cancelled_at) > decision(20)
    [exit_fill] = trader.book.fills(exit_id)
    assert exit_fill.ts > exit_order.request.ts_created
    assert exit_fill.price == pytest.approx(500.10 - HALF_SPREAD - SLIPPAGE)
    assert trader.positions()["SPY"].is_flat and not trader.in_trade("SCRIPTED")
    assert play.closed_at == [decision(20)]  # the play's own exit; not told a second time


def test_a_tripped_kill_switch_flattens_and_blocks_the_next_entry() -> None:
    # 0.05% of 100k = $50: 333 shares bought near 500.06 and marked at 499.85 lose ~$69 (stop at 499.80)
    sagging = path((0, 500.0), (9, 500.0), (11, 500.10), (15, 499.85), (60, 499.85))
    trader, _, play = run(sagging, enter_at=(decision(9), decision(40)), limits={"daily_loss_limit_pct": 0.05})
    assert [t.code for t in trader.kill_switch.trips] == ["DAILY_LOSS_LIMIT"]
    signal_id = f"SCRIPTED-{decision(9)}"
    flatten_id = client_order_id(signal_id, Leg.FLATTEN)
    flatten = trader.book.order(flatten_id)
    assert flatten.status is OrderStatus.FILLED and flatten.side is Side.SELL and flatten.qty == 333.0
    for leg in (Leg.STOP, Leg.TARGET):
        assert trader.book.order(client_order_id(signal_id, leg)).status is OrderStatus.CANCELLED
    assert trader.positions()["SPY"].is_flat and play.position == 0 and not trader.in_trade("SCRIPTED")
    assert [r.kind for r in trader.signals] == ["enter", "flatten", "enter"]
    refused = trader.signals[-1]
    assert not refused.accepted and refused.ts == decision(40)
    assert [(r.code, r.effect) for r in refused.reasons if r.code == "KILL_SWITCH"] == [
        ("KILL_SWITCH", "DAILY_LOSS_LIMIT")
    ]
    assert not trader.book.orders_of_signal(f"SCRIPTED-{decision(40)}")
    assert len(trader.book) == 4  # the bracket and the flatten order


def test_policy_level_off_blocks_entries() -> None:
    trader, broker, _ = run(RISING, enter_at=(decision(9),), level="off")
    assert len(trader.book) == 0 and broker.updates == [] and trader.signals == []
    assert trader.skips[("SCRIPTED", "POLICY_OFF")] == len(RISING)


def test_a_size_of_zero_is_refused_with_its_reason_and_the_play_is_told() -> None:
    # a 2000-point stop = 200 proxy dollars; at 'reduced' (x0.5) for an unproven play (x0.25):
    # 0.5% x 100k x 0.5 x 0.25 / 200 = 0.31 -> 0 shares
    trader, _, _ = run(RISING, enter_at=(decision(9),), level="reduced")
    assert trader.signals[0].accepted  # a normal stop still sizes > 0 at reduced
    huge = load_play(
        PATH,
        {
            "index": "I:SPX",
            "proxy": "SPY",
            "reward_risk": 0.1,
            "cooldown_s": 0,
            "enter_at": (decision(9),),
            "stop_points": 2000.0,
        },
        name="SCRIPTED",
    )
    clock = ReplayClock(T0)
    broker = SimBroker(clock)
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[huge],
        risk=risk(),
        broker=broker,
        clock=clock,
        equity=EQUITY,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "reduced",
        perf_counter_ns=lambda: 0,
    )
    trader.broker_connected(T0)
    for event in bars(RISING[:12]):
        trader.on_event(event)
    [record] = trader.signals
    assert not record.accepted and record.shares == 0
    assert record.reasons[-1].code == "SIZE_ZERO"
    assert len(trader.book) == 0 and huge.position == 0


def test_the_trailing_exit_moves_to_breakeven_after_1r_and_closes_on_the_pullback() -> None:
    # long from 500.00 (plan), stop 499.80 (R = 0.20); the best price reaches 500.25 (> +1R): the
    # trail goes to breakeven (500.00, [risk.trailing] breakeven_after_r = 1, offset 0) and the
    # pullback to 499.95 reaches it, before the bracket's stop (499.80) or target (500.40)
    pullback = path((0, 500.0), (9, 500.0), (11, 500.10), (14, 500.25), (18, 499.95), (40, 499.95))
    trader, _, play = run(pullback, enter_at=(decision(9),))
    signal_id = f"SCRIPTED-{decision(9)}"
    [record] = [r for r in trader.signals if r.kind == "exit"]
    assert [r.code for r in record.reasons] == ["TRAIL_STOP"] and "500.00" in record.reasons[0].text
    crossing = next(i for i, (_, c) in enumerate(pullback) if i > 14 and c <= 500.0)
    assert record.ts == decision(crossing)  # the first bar closing at or below the trail
    exit_order = trader.book.order(client_order_id(signal_id, Leg.EXIT))
    assert exit_order.status is OrderStatus.FILLED and exit_order.qty == 333.0
    for leg in (Leg.STOP, Leg.TARGET):
        assert trader.book.order(client_order_id(signal_id, leg)).status is OrderStatus.CANCELLED
    assert trader.positions()["SPY"].is_flat and not trader.in_trade("SCRIPTED") and play.position == 0


def test_the_trailing_exit_can_be_switched_off() -> None:
    pullback = path((0, 500.0), (9, 500.0), (11, 500.10), (14, 500.25), (18, 499.95), (40, 499.95))
    r = load_thresholds().risk
    off = r.model_copy(update={"trailing": r.trailing.model_copy(update={"rule": "off"})})
    clock = ReplayClock(T0)
    play = load_play(
        PATH,
        {"index": "I:SPX", "proxy": "SPY", "reward_risk": 2.0, "cooldown_s": 0, "enter_at": (decision(9),)},
        name="SCRIPTED",
    )
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=off,
        broker=SimBroker(clock, SimConfig(half_spread=HALF_SPREAD, slippage=SLIPPAGE)),
        clock=clock,
        equity=EQUITY,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=itertools.count().__next__,
        expectancy_lower_r={"SCRIPTED": 0.2},
    )
    trader.broker_connected(T0)
    for event in bars(pullback):
        trader.on_event(event)
    assert [r.kind for r in trader.signals] == ["enter"]  # no exit: the bracket still holds the trade
    assert trader.in_trade("SCRIPTED") and trader.positions()["SPY"].qty == 333.0


def test_the_policy_level_scales_the_size_of_the_same_entry() -> None:
    # a 20-point stop ($2 on SPY): the risk budget binds, not the notional or volatility caps
    shares = {}
    for level in ("reduced", "normal", "aggressive"):
        trader, _, _ = run(RISING, enter_at=(decision(9),), level=level, stop_points=20.0)
        [record] = [r for r in trader.signals if r.kind == "enter"]
        assert record.accepted and record.level == level
        shares[level] = record.shares
    assert 0 < shares["reduced"] < shares["normal"] < shares["aggressive"] <= 333, shares
