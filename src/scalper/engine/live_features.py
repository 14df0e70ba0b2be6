"""Live features: market events from the feed → the feature engine → snapshots in ``features``.

The feed's ingest pipeline hands over whole frames of parsed events (the engine queue);
:class:`LiveFeatures` puts them into the replay order (:class:`~scalper.engine.sequencer.Sequencer`:
events of different sockets known at the same instant are applied as a replay applies them) and
applies them through the same compiled step as replay,
keeps the latest snapshot per symbol in memory, and collects the snapshots due at the configured
cadence, which :meth:`LiveFeatures.flush` writes through the bulk writer. Events the engine
refuses (a second already processed, e.g. one backfilled over REST after a disconnect) are
counted, never applied twice.

What reaches the engine: one-second aggregates, the feed's minute bars (checked against the built
ones), trades that count in volume and NBBO quotes (Lee–Ready delta). Index ``V`` values are not
used: the one-second aggregate is the index's bar.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from scalper.adapters.store.tables import FEATURES
from scalper.adapters.store.writer import BulkWriter
from scalper.core.errors import StoreError
from scalper.core.events import MarketEvent, MinuteAgg, OptionQuote, OptionTrade, Quote, SecondAgg, Trade
from scalper.engine.sequencer import Sequencer
from scalper.features.engine import FeatureEngine
from scalper.features.recorder import SnapshotRecorder
from scalper.marketdata.conditions import counts_in_volume

log = logging.getLogger(__name__)


class LiveFeatures:
    """The feature engine on the live event stream, with the snapshots due for storage."""

    def __init__(self, engine: FeatureEngine, recorder: SnapshotRecorder, sequencer: Sequencer | None = None) -> None:
        self.engine = engine
        self.recorder = recorder
        self.sequencer = sequencer
        self.events = 0
        self.snapshots_written = 0
        self._known = set(engine.symbols)

    def apply(self, events: Sequence[MarketEvent]) -> None:
        """Apply one frame's events in order."""
        engine, recorder, known = self.engine, self.recorder, self._known
        for ev in events:
            if ev.symbol not in known or isinstance(ev, OptionQuote | OptionTrade):
                continue
            if isinstance(ev, SecondAgg):
                status = engine.on_second(
                    ev.symbol, ev.ts_event, ev.open, ev.high, ev.low, ev.close, ev.volume, ev.vwap
                )
                if status == 0 and recorder.due(ev.symbol, ev.ts_event):
                    recorder.add(ev.symbol, ev.ts_event, engine.latest(ev.symbol))
            elif isinstance(ev, Trade):
                if counts_in_volume(ev.conditions):
                    engine.on_trade(ev.symbol, ev.ts_event, ev.price, ev.size)
            elif isinstance(ev, Quote):
                engine.on_quote(ev.symbol, ev.ts_event, ev.bid, ev.ask)
            elif isinstance(ev, MinuteAgg):
                engine.on_minute(ev.symbol, ev.ts_event, ev.open, ev.high, ev.low, ev.close, ev.volume)
            else:
                continue
            self.events += 1

    def _take(self, frame: Sequence[MarketEvent], now: int) -> None:
        if self.sequencer is None or not frame:
            self.apply(frame)
            return
        stream = "indices" if frame[0].symbol.startswith("I:") else "stocks"
        self.apply(self.sequencer.push(stream, frame, now))  # late events go at once

    def flush(self, writer: BulkWriter) -> int:
        """Write the collected snapshots; returns how many. On a database error they are kept for the next try."""
        if not len(self.recorder):
            return 0
        pending = self.recorder.peek()
        writer.write(FEATURES, pending)
        n = len(pending["ts"])
        self.recorder.drop(n)
        self.snapshots_written += n
        return n

    async def run(
        self,
        queue: asyncio.Queue[list[MarketEvent]],
        connect: Callable[[], psycopg.Connection[Any]],
        *,
        now_ns: Callable[[], int],
        flush_every_s: float = 5.0,
        release_every_s: float = 0.02,
    ) -> None:
        """Consume the engine queue until cancelled, flushing snapshots every ``flush_every_s`` and at the end.

        With a sequencer, held events are released at least every ``release_every_s``.
        """
        conn: psycopg.Connection[Any] | None = None
        loop = asyncio.get_running_loop()
        next_flush = loop.time() + flush_every_s

        async def flush() -> None:
            nonlocal conn
            try:
                if conn is None or conn.closed:
                    conn = await asyncio.to_thread(connect)
                await asyncio.to_thread(self.flush, BulkWriter(conn))
            except (StoreError, psycopg.Error) as exc:  # the snapshots wait in memory for the next flush
                log.warning("features: storing snapshots failed, will retry: %s", exc)
                if conn is not None:
                    conn.close()
                    conn = None

        seq = self.sequencer
        try:
            while True:
                timeout = max(0.0, next_flush - loop.time())
                if seq is not None and len(seq):
                    timeout = min(timeout, release_every_s)
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout)
                    self._take(frame, now_ns())
                    while not queue.empty():  # after a stall, every waiting frame is seen before a release
                        self._take(queue.get_nowait(), now_ns())
                except TimeoutError:
                    pass
                if seq is not None:
                    self.apply(seq.release(now_ns()))
                if loop.time() >= next_flush:
                    await flush()
                    next_flush = loop.time() + flush_every_s
        finally:
            while not queue.empty():
                self._take(queue.get_nowait(), now_ns())
            if seq is not None:
                self.apply(seq.drain())
            await asyncio.shield(flush())
            if conn is not None:
                conn.close()
