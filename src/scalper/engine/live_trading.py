"""Live trading: market events from the feed → the trader, in the replay's order.

The feed's ingest pipeline hands over whole frames of parsed events (the engine queue).
:class:`LiveTrading` puts them into the replay order (:class:`~scalper.engine.sequencer.Sequencer`)
and hands each event to :meth:`Trader.on_event <scalper.engine.trader.Trader.on_event>` — the
same calls a backtest makes, so live and replay decide alike. What reaches the trader: one-second
aggregates, minute bars, trades that count in volume and NBBO quotes (as
:class:`~scalper.engine.live_features.LiveFeatures`); option events do not.

Before the first event the trader's features are warmed up by ``warm_up(first known time)``
(stored history up to the first event, whatever the market day the feed serves).

Time. The trader's clock is the market's: it moves with the events. When no event has come for
``watchdog_s`` of wall time, the watchdog moves it by the wall time elapsed since the last event
(:meth:`Trader.tick`), so the kill switch notices stale data and the close even on a silent feed.

An error raised while handling an event (a bug, an impossible broker update) is logged with its
traceback and reported to the trader as unrecoverable: the kill switch trips (entries blocked,
positions flattened) and the following events are still applied, so the flatten completes.

Latency: for every index one-second bar (the events the plays decide on) the wall time from the
moment the engine takes the event (released by the sequencer) to the trader's return, including
any order built, recorded and sent, is kept in :attr:`LiveTrading.latencies_ns`.

A broker that reports on its own thread (Alpaca) is drained on the loop: ``poll`` delivers its
queued updates to the trader (then :meth:`Trader.settle`), after every frame and on every wake-up;
:meth:`wake` may be called from any thread to have the loop poll soon (it queues an empty frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from array import array
from collections.abc import Callable, Sequence

from scalper.core.events import MarketEvent, OptionQuote, OptionTrade, SecondAgg, Trade
from scalper.engine.sequencer import Sequencer
from scalper.engine.trader import Trader
from scalper.features.engine import is_index
from scalper.marketdata.conditions import counts_in_volume

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


class LiveTrading:
    """The trader on the live event stream (see the module docstring)."""

    def __init__(
        self,
        trader: Trader,
        sequencer: Sequencer | None,
        *,
        perf_ns: Callable[[], int],
        wall_ns: Callable[[], int],
        warm_up: Callable[[int], int] | None = None,
        poll: Callable[[], int] | None = None,
        monitor: Callable[[], None] | None = None,
        watchdog_s: float = 1.0,
    ) -> None:
        self.trader = trader
        self.sequencer = sequencer
        self.events = 0
        #: events whose handling raised (each trips the kill switch: entries blocked, positions flattened)
        self.errors = 0
        self.warmed_up: int | None = None
        self.latencies_ns = array("q")
        self._perf = perf_ns
        self._wall = wall_ns
        self._warm_up = warm_up
        self._poll = poll
        self._monitor = monitor
        self._watchdog_ns = int(watchdog_s * NS_PER_S)
        self._last_ts: int | None = None
        self._last_wall = 0
        self._queue: asyncio.Queue[list[MarketEvent]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def apply(self, events: Sequence[MarketEvent]) -> None:
        """Hand events (already in replay order) to the trader."""
        trader, perf = self.trader, self._perf
        for ev in events:
            if isinstance(ev, OptionQuote | OptionTrade):
                continue
            if isinstance(ev, Trade) and not counts_in_volume(ev.conditions):
                continue
            if self.warmed_up is None:
                self._first(ev)
            try:
                if isinstance(ev, SecondAgg) and is_index(ev.symbol):
                    started = perf()
                    trader.on_event(ev)
                    self.latencies_ns.append(perf() - started)
                else:
                    trader.on_event(ev)
            except Exception as exc:  # the engine cannot go on safely: trip, flatten, keep applying events
                self._fail(ev, exc)
            self.events += 1
            now = trader.now
            if now is not None:
                self._last_ts = now
                self._last_wall = self._wall()

    def _fail(self, ev: MarketEvent, exc: Exception) -> None:
        self.errors += 1
        log.exception("trading: %s %s at %d failed", type(ev).__name__, ev.symbol, ev.ts_event)
        now = self.trader.now
        if now is None:
            raise exc
        try:
            self.trader.report_error(now, f"{type(exc).__name__} on {type(ev).__name__} {ev.symbol}: {exc}")
        except Exception:
            log.exception("trading: the kill switch could not flatten after the error")

    def _first(self, ev: MarketEvent) -> None:
        known = ev.ts_end if isinstance(ev, SecondAgg) else ev.ts_event
        self.warmed_up = 0 if self._warm_up is None else self._warm_up(known)
        log.info("trading: warmed up on %d stored events before the first event", self.warmed_up)

    def watchdog(self) -> None:
        """Move the trader's clock by the wall time elapsed since the last event, when that exceeds the
        watchdog period (a silent feed); act on broker updates; run the monitor (alerts)."""
        self.poll()
        if self._last_ts is not None:
            silent = self._wall() - self._last_wall
            if silent >= self._watchdog_ns:
                self.trader.tick(self._last_ts + silent)
        if self._monitor is not None:
            self._monitor()

    def poll(self) -> int:
        """Deliver the broker's queued updates to the trader and act on them."""
        if self._poll is None:
            return 0
        n = self._poll()
        if n:
            self.trader.settle()
        return n

    def wake(self) -> None:
        """Ask the loop to poll the broker soon (any thread)."""
        loop, queue = self._loop, self._queue
        if loop is not None and queue is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_put_empty, queue)

    def _take(self, frame: Sequence[MarketEvent], now: int) -> None:
        if self.sequencer is None or not frame:
            self.apply(frame)
            return
        stream = "indices" if frame[0].symbol.startswith("I:") else "stocks"
        self.apply(self.sequencer.push(stream, frame, now))

    async def run(self, queue: asyncio.Queue[list[MarketEvent]], *, release_every_s: float = 0.02) -> None:
        """Consume the engine queue until cancelled; then apply what is queued and held."""
        self._loop, self._queue = asyncio.get_running_loop(), queue
        loop, seq = self._loop, self.sequencer
        period = self._watchdog_ns / NS_PER_S
        next_watch = loop.time() + period
        try:
            while True:
                timeout = max(0.0, next_watch - loop.time())
                if seq is not None and len(seq):
                    timeout = min(timeout, release_every_s)
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout)
                    self._take(frame, self._wall())
                    while not queue.empty():  # after a stall, every waiting frame is seen before a release
                        self._take(queue.get_nowait(), self._wall())
                except TimeoutError:
                    pass
                if seq is not None:
                    self.apply(seq.release(self._wall()))
                self.poll()
                if loop.time() >= next_watch:
                    self.watchdog()
                    next_watch = loop.time() + period
        finally:
            self._queue = None
            while not queue.empty():
                self._take(queue.get_nowait(), self._wall())
            if seq is not None:
                self.apply(seq.drain())
            self.poll()


def _put_empty(queue: asyncio.Queue[list[MarketEvent]]) -> None:
    with contextlib.suppress(asyncio.QueueFull):  # a full queue: the loop is busy and polls after each frame
        queue.put_nowait([])
