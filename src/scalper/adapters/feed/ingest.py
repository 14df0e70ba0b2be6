"""The capture pipeline: parsed frames → cache, engine queue and batched, idempotent DB writes.

``on_frame`` runs inside the websocket read loop and only appends to memory (the event sink,
the latest-value cache, a bounded engine queue), so it never blocks the socket. ``run`` flushes
the sink every ``flush_interval_s`` (sooner when ``batch_rows`` are waiting) on a worker thread
through the bulk writer, then sends a ``NOTIFY`` so other processes can follow the stream
without a second websocket. A failed write keeps its batches for the next flush; nothing
captured is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from scalper.adapters.feed.cache import LatestValues
from scalper.adapters.feed.parse import Parsed
from scalper.adapters.feed.sink import Batch, EventSink
from scalper.adapters.store.tables import BULK_TABLES
from scalper.adapters.store.writer import BulkWriter
from scalper.core.errors import StoreError
from scalper.core.events import MarketEvent, SecondAgg

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "scalper_feed"
_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Gap:
    """Seconds of ``symbol`` possibly missed while disconnected: [start_ns, end_ns]."""

    symbol: str
    start_ns: int
    end_ns: int
    reason: str


@dataclass
class IngestStats:
    """Counters for the report and the metrics."""

    events: Counter[str] = field(default_factory=Counter)
    rows_written: Counter[str] = field(default_factory=Counter)
    parse_errors: int = 0
    engine_dropped: int = 0
    write_failures: int = 0


class IngestPipeline:
    """Owns the sink, the cache and the writer; fed by one or more FeedClients."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        *,
        flush_interval_s: float = 0.5,
        batch_rows: int = 50_000,
        engine_queue: asyncio.Queue[MarketEvent] | None = None,
    ) -> None:
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = None
        self._sink = EventSink()
        self._retry: list[tuple[str, Batch]] = []
        self._flush_interval_s = flush_interval_s
        self._batch_rows = batch_rows
        self._engine = engine_queue
        self._wake = asyncio.Event()
        self._last_second: dict[str, int] = {}
        self._open_gaps: dict[str, tuple[int, str]] = {}
        self.cache = LatestValues()
        self.stats = IngestStats()
        self.gaps: list[Gap] = []

    def on_frame(self, parsed: Parsed) -> None:
        """Called by the read loop: memory only, O(1) per event."""
        for event in parsed.events:
            self._sink.add(event)
            self.cache.update(event)
            self.stats.events[type(event).__name__] += 1
            if isinstance(event, SecondAgg):
                self._track_second(event)
            if self._engine is not None:
                try:
                    self._engine.put_nowait(event)
                except asyncio.QueueFull:
                    self.stats.engine_dropped += 1
        for error in parsed.errors:
            self.stats.parse_errors += 1
            log.warning("feed: skipped %s", error)
        if self._sink.pending_rows() >= self._batch_rows:
            self._wake.set()

    def on_state(self, state: str, detail: str) -> None:
        """Called by the client: a disconnect opens a possible gap for every symbol seen so far."""
        if state == "disconnected":
            for symbol, last in self._last_second.items():
                self._open_gaps.setdefault(symbol, (last, detail))

    def _track_second(self, bar: SecondAgg) -> None:
        opened = self._open_gaps.pop(bar.symbol, None)
        if opened is not None and bar.ts_event > opened[0] + _S:
            self.gaps.append(Gap(bar.symbol, opened[0] + _S, bar.ts_event - _S, opened[1]))
        if bar.ts_event > self._last_second.get(bar.symbol, -1):
            self._last_second[bar.symbol] = bar.ts_event

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically until ``stop``; then a final flush of everything buffered."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            await self.flush()
        await self.flush(final=True)

    async def flush(self, *, final: bool = False) -> None:
        """Write what is buffered (and what failed before) on a worker thread."""
        batches = self._retry + list(self._sink.take(close_quotes=final).items())
        self._retry = []
        if batches:
            self._retry = await asyncio.to_thread(self._write, batches)

    def _write(self, batches: list[tuple[str, Batch]]) -> list[tuple[str, Batch]]:
        for i, (table, batch) in enumerate(batches):
            try:
                conn = self._connection()
                result = BulkWriter(conn).write(BULK_TABLES[table], batch)
                self._notify(conn, table, result.rows_in)
            except (StoreError, psycopg.Error) as exc:
                self.stats.write_failures += 1
                log.error(
                    "writing %s failed (%s); keeping %d batches for the next attempt", table, exc, len(batches) - i
                )
                self._drop_connection()
                return batches[i:]
            self.stats.rows_written[table] += result.rows_in
        return []

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def _notify(self, conn: psycopg.Connection[Any], table: str, rows: int) -> None:
        payload = json.dumps({"table": table, "rows": rows})
        conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))

    def pending_retry_rows(self) -> int:
        return sum(len(next(iter(b.values()))) for _, b in self._retry)

    def close(self) -> None:
        self._drop_connection()
