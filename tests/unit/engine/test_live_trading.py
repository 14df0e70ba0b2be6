"""Live trading: frames through the sequencer to a real trader and simulator; warm-up, filters, latency,
the watchdog on a silent feed, the asyncio loop and wake-ups from another thread."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable

import pytest

from scalper.brokers.sim import SimBroker
from scalper.core.clock import ReplayClock
from scalper.core.events import MarketEvent, MinuteAgg, OptionQuote, OptionTrade, Quote, SecondAgg, Trade
from scalper.engine.live_trading import LiveTrading
from scalper.engine.sequencer import Sequencer
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.strategy.thresholds import load_thresholds

S = 1_000_000_000
#: Monday 2025-03-03 10:00 New York (15:00 UTC): inside a regular session
T0 = int(dt.datetime(2025, 3, 3, 15, 0, tzinfo=dt.UTC).timestamp()) * S
OPTION = "O:SPY250303C00500000"


class Counter:
    """A clock read by the code under test: returns ``now`` and moves it by ``step`` per read."""

    def __init__(self, now: int = 0, step: int = 0) -> None:
        self.now, self.step, self.reads = now, step, 0

    def __call__(self) -> int:
        value = self.now
        self.now += self.step
        self.reads += 1
        return value


def second(symbol: str, t: int, price: float = 500.0) -> SecondAgg:
    k = 10.0 if symbol.startswith("I:") else 1.0
    p = price * k
    return SecondAgg(
        symbol=symbol, ts_event=T0 + t * S, ts_end=T0 + (t + 1) * S, open=p, high=p, low=p, close=p, volume=100.0
    )


def make(
    *,
    wall: Counter | None = None,
    perf: Counter | None = None,
    warm_up: Callable[[int], int] | None = None,
    poll: Callable[[], int] | None = None,
    monitor: Callable[[], None] | None = None,
    watchdog_s: float = 1.0,
    sequencer: bool = True,
) -> LiveTrading:
    clock = ReplayClock(T0)
    engine = FeatureEngine(("I:SPX", "SPY"))
    trader = Trader(
        features=engine,
        plays=[],
        risk=load_thresholds().risk,
        broker=SimBroker(clock),
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=lambda: 0,
    )
    trader.broker_connected(T0)
    return LiveTrading(
        trader,
        Sequencer(["indices", "stocks"], engine.codes) if sequencer else None,
        perf_ns=perf or Counter(step=7),
        wall_ns=wall or Counter(now=T0),
        warm_up=warm_up,
        poll=poll,
        monitor=monitor,
        watchdog_s=watchdog_s,
    )


def test_the_warm_up_runs_once_with_the_first_known_time_before_the_trader_sees_it() -> None:
    seen: list[tuple[int, int | None]] = []
    trading: LiveTrading

    def warm(known: int) -> int:
        seen.append((known, trading.trader.now))
        return 42

    trading = make(warm_up=warm)
    before = trading.trader.now
    # an option trade first: it does not reach the trader, so it is not the first event
    trading.apply([OptionTrade(symbol=OPTION, ts_event=T0 + S // 2, price=2.5, size=1.0), second("I:SPX", 0)])
    assert seen == [(T0 + S, before)]  # the bar's end (its known time); the trader had not moved yet
    assert trading.warmed_up == 42
    trading.apply([second("SPY", 0), second("I:SPX", 1)])
    assert len(seen) == 1 and trading.trader.now == T0 + 2 * S


def test_option_events_and_trades_outside_volume_do_not_reach_the_trader() -> None:
    trading = make()
    trading.apply(
        [
            second("I:SPX", 0),
            second("SPY", 0),
            Trade(symbol="SPY", ts_event=T0 + S + 100, price=500.1, size=100.0, conditions=(0,)),  # regular sale
            Trade(symbol="SPY", ts_event=T0 + 2 * S, price=480.0, size=100.0, conditions=(15,)),  # official close
            OptionTrade(symbol=OPTION, ts_event=T0 + 3 * S, price=2.5, size=1.0),
            OptionQuote(symbol=OPTION, ts_event=T0 + 4 * S, bid=2.4, bid_size=1.0, ask=2.6, ask_size=1.0),
        ]
    )
    assert trading.events == 3
    assert trading.trader.now == T0 + S + 100  # the later, filtered events did not move its time
    assert trading.trader.features.latest_dict("SPY")["close"] == 500.0


def test_a_latency_is_kept_for_each_index_second_only() -> None:
    trading = make(perf=Counter(step=7))
    trading.apply(
        [
            second("I:SPX", 0),
            second("SPY", 0),
            Quote(symbol="SPY", ts_event=T0 + S + 1, bid=499.99, bid_size=1.0, ask=500.01, ask_size=1.0),
            Trade(symbol="SPY", ts_event=T0 + S + 2, price=500.0, size=10.0),
            second("I:SPX", 1),
            second("SPY", 1),
            MinuteAgg(symbol="I:SPX", ts_event=T0, ts_end=T0 + 60 * S, open=5e3, high=5e3, low=5e3, close=5e3),
        ]
    )
    assert trading.events == 7
    assert list(trading.latencies_ns) == [7, 7]  # one read before, one after each index second


def test_the_watchdog_moves_the_trader_clock_through_a_silent_feed() -> None:
    wall = Counter(now=T0 + 5 * S)
    polls: list[int] = []
    monitored: list[int] = []
    trading = make(wall=wall, poll=lambda: polls.append(1) or 0, monitor=lambda: monitored.append(1))
    trading.watchdog()  # before any event: nothing to move
    assert trading.trader.now == T0  # (the broker connection's time)
    trading.apply([second("I:SPX", 0), second("SPY", 0)])
    assert trading.trader.now == T0 + S
    wall.now += S // 2  # half a period of silence
    trading.watchdog()
    assert trading.trader.now == T0 + S
    wall.now += 20 * S - S // 2  # 20 s without an event
    trading.watchdog()
    assert trading.trader.now == T0 + 21 * S
    assert [t.code for t in trading.trader.kill_switch.trips] == ["STALE_DATA"]  # the kill switch saw the time
    assert len(polls) == 3 and len(monitored) == 3


def test_the_loop_applies_frames_until_cancelled_then_what_is_queued_and_held() -> None:
    trading = make(wall=Counter(now=T0 + 5 * S))  # the wall clock stands still: held events wait for the watermark
    seq = trading.sequencer
    assert seq is not None

    async def main() -> None:
        queue: asyncio.Queue[list[MarketEvent]] = asyncio.Queue()
        task = asyncio.create_task(trading.run(queue, release_every_s=0.005))
        queue.put_nowait([second("I:SPX", t) for t in range(4)])
        queue.put_nowait([second("SPY", t) for t in range(4)])
        for _ in range(400):
            if trading.events >= 6:
                break
            await asyncio.sleep(0.005)
        # seconds 0..2 of both are released (keys below both streams' latest); second 3 is held
        assert trading.events == 6 and trading.trader.now == T0 + 3 * S
        assert len(seq) == 2 and not task.done()
        queue.put_nowait([second("I:SPX", 4)])
        task.cancel()  # before the loop took the last frame
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert trading.events == 9 and len(seq) == 0
    assert trading.trader.now == T0 + 5 * S


def test_wake_from_another_thread_makes_the_loop_poll() -> None:
    calls: list[int] = []

    def poll() -> int:
        calls.append(threading.get_ident())
        return 0

    trading = make(poll=poll, watchdog_s=60.0)
    trading.wake()  # no loop yet: nothing happens
    loop_thread = threading.get_ident()

    async def main() -> None:
        queue: asyncio.Queue[list[MarketEvent]] = asyncio.Queue()
        task = asyncio.create_task(trading.run(queue))
        await asyncio.sleep(0.05)
        assert calls == []  # nothing to do for 60 s: the loop waits
        waker = threading.Thread(target=trading.wake)
        waker.start()
        waker.join()
        for _ in range(200):
            if calls:
                break
            await asyncio.sleep(0.005)
        assert calls == [loop_thread]  # polled on the loop's thread, not the waker's
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert calls[-1] == loop_thread and len(calls) == 2  # and once more at shutdown


class FailingSim(SimBroker):
    """The simulator, failing on one event (as a bug or an impossible update would)."""

    def __init__(self, clock: ReplayClock, fail_at: int) -> None:
        super().__init__(clock)
        self.fail_at = fail_at
        self.seen = 0

    def on_event(self, event: MarketEvent) -> None:
        if event.ts_event == self.fail_at and event.symbol == "SPY":
            raise RuntimeError("simulated engine failure")
        self.seen += 1
        super().on_event(event)


def test_an_error_on_an_event_trips_the_kill_switch_and_later_events_still_apply() -> None:
    live = make(sequencer=False)
    clock = ReplayClock(T0)
    broker = FailingSim(clock, fail_at=T0 + 2 * S)
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[],
        risk=load_thresholds().risk,
        broker=broker,
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=lambda: 0,
    )
    trader.broker_connected(T0)
    live.trader = trader
    live.apply([second(symbol, t) for t in range(5) for symbol in ("I:SPX", "SPY")])
    assert live.errors == 1 and live.events == 10
    assert [t.code for t in trader.kill_switch.trips] == ["UNRECOVERABLE_ERROR"]
    assert "simulated engine failure" in trader.kill_switch.trips[0].text
    assert broker.seen == 9  # every event after the failing one reached the broker
    assert not trader.kill_switch.entry_check(trader.now or 0, "normal").allowed
