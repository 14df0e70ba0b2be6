"""The capture pipeline: parsed frames → cache, engine queue and batched, idempotent DB writes.

``on_frame`` runs inside the websocket read loop and only appends to memory (the event sink,
the latest-value cache, a bounded engine queue), so it never blocks the socket. ``run`` flushes
the sink every ``flush_interval_s`` (sooner when ``batch_rows`` are waiting) on a worker thread
through the bulk writer, then sends a ``NOTIFY`` so other processes can follow the stream
without a second websocket. When a write fails (the database is down), the batches go to the
on-disk spool (fsync'd) — or, without a spool, stay in memory — and are written, in order,
before anything newer once the database is back: nothing captured is dropped, and the
idempotent writer makes the effect exactly-once.
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

import pandas as pd
import psycopg

from scalper.adapters.feed import gaps as gap_repair
from scalper.adapters.feed.cache import LatestValues
from scalper.adapters.feed.gaps import Gap
from scalper.adapters.feed.parse import Parsed
from scalper.adapters.feed.reasons import ReconnectReason
from scalper.adapters.feed.sink import Batch, EventSink, PendingRows
from scalper.adapters.metrics import FeedMetrics
from scalper.adapters.spool import Spool
from scalper.adapters.store.tables import BULK_TABLES
from scalper.adapters.store.writer import BulkWriter
from scalper.core.errors import FeedError, StoreError
from scalper.core.events import MarketEvent, Quote, SecondAgg

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "scalper_feed"
_S = 1_000_000_000


def notice_payload(table: str, batch: Batch) -> str:
    """What a NOTIFY says about a committed batch: table, rows, time range and symbols (< 8000 bytes)."""
    ts = batch["ts"]
    symbols = sorted(str(s) for s in pd.unique(batch["symbol"]))[:50]
    return json.dumps(
        {"table": table, "rows": int(ts.size), "from_ns": int(ts.min()), "to_ns": int(ts.max()), "symbols": symbols}
    )


@dataclass
class IngestStats:
    """Counters for the report and the metrics."""

    events: Counter[str] = field(default_factory=Counter)
    rows_written: Counter[str] = field(default_factory=Counter)
    parse_errors: int = 0
    engine_dropped: int = 0
    write_failures: int = 0
    gaps_repaired: int = 0
    rows_repaired: int = 0


class IngestPipeline:
    """Owns the sink, the cache and the writer; fed by one or more FeedClients."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        *,
        flush_interval_s: float = 0.5,
        batch_rows: int = 50_000,
        engine_queue: asyncio.Queue[list[MarketEvent]] | None = None,
        spool: Spool | None = None,
        metrics: FeedMetrics | None = None,
        backfill: gap_repair.Fetch | None = None,
        cluster_of: Callable[[str], str] = lambda symbol: "indices" if symbol.startswith("I:") else "stocks",
    ) -> None:
        self._connect = connect
        self._spool = spool
        self._metrics = metrics
        self._backfill = backfill
        self._cluster_of = cluster_of
        self._unrepaired: list[Gap] = []
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
        """Called by the read loop: memory only, a few dictionary operations per event."""
        events = parsed.events
        if events:
            self._sink.add(events)
            counts = self.cache.update_all(events)
            for (kind, symbol), n in counts.items():
                self.stats.events[kind.__name__] += n
                if self._metrics is not None:
                    self._metrics.event(kind.__name__, symbol, n)
            if any(kind is SecondAgg for kind, _ in counts):
                for event in events:
                    if type(event) is SecondAgg:
                        self._track_second(event)
            if self._engine is not None:
                try:
                    self._engine.put_nowait(events)
                except asyncio.QueueFull:
                    self.stats.engine_dropped += len(events)
        for issue in parsed.errors:
            self.stats.parse_errors += 1
            if self._metrics is not None:
                self._metrics.parse_error(issue.reason)
            log.warning("feed: skipped %s", issue)
        if self._sink.pending_rows() >= self._batch_rows:
            self._wake.set()

    def expect_from(self, starts: dict[str, int], reason: str = "restart") -> None:
        """Seconds of each symbol from ``starts[symbol]`` (ns) on should be stored: the span up to the
        first bar received becomes a gap to repair (a restart, or a late start into the session)."""
        for symbol, start_ns in starts.items():
            self._open_gaps[symbol] = (start_ns - _S, reason)

    def close_gaps_at(self, end_ns: int, *, session_close: Callable[[int], int | None] | None = None) -> None:
        """Gaps still open (no bar since the disconnect) end at ``end_ns`` (exclusive): queue them for repair,
        e.g. when capture stops. With ``session_close`` (a second → the close of its regular session, or None
        outside regular hours) a gap ends at its session's close and seconds outside regular hours are no gap."""
        for symbol, (last, reason) in self._open_gaps.items():
            first, end = last + _S, end_ns
            if session_close is not None:
                close = session_close(first)
                if close is None:
                    continue
                end = min(end, close)
            if first < end:
                gap = Gap(self._cluster_of(symbol), symbol, first, end - _S, reason)
                self.gaps.append(gap)
                self._unrepaired.append(gap)
                if self._metrics is not None:
                    self._metrics.gap_found()
        self._open_gaps.clear()

    def on_state(self, state: str, detail: str) -> None:
        """Called by the client: a disconnect opens a possible gap for every symbol seen so far."""
        if state == "disconnected":
            if self._metrics is not None and detail in ReconnectReason.__members__.values():
                self._metrics.reconnect(ReconnectReason(detail))
            for symbol, last in self._last_second.items():
                self._open_gaps.setdefault(symbol, (last, detail))

    def _track_second(self, bar: SecondAgg) -> None:
        opened = self._open_gaps.pop(bar.symbol, None)
        if opened is not None and bar.ts_event > opened[0] + _S:
            gap = Gap(self._cluster_of(bar.symbol), bar.symbol, opened[0] + _S, bar.ts_event - _S, opened[1])
            self.gaps.append(gap)
            self._unrepaired.append(gap)
            if self._metrics is not None:
                self._metrics.gap_found()
        if bar.ts_event > self._last_second.get(bar.symbol, -1):
            self._last_second[bar.symbol] = bar.ts_event

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically until ``stop``; then a final flush of everything buffered."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            await self.flush()
            await self.repair_gaps()
        await self.flush(final=True)
        await self.repair_gaps()

    async def repair_gaps(self) -> None:
        """Record every new gap in ``ingest_gaps`` and, with a backfill source, fill it through REST."""
        todo, self._unrepaired = self._unrepaired, []
        if todo:
            leftover = await asyncio.to_thread(self._repair, todo)
            self._unrepaired = leftover + self._unrepaired  # gaps found meanwhile stay queued

    def _repair(self, todo: list[Gap]) -> list[Gap]:
        for i, gap in enumerate(todo):
            try:
                conn = self._connection()
                if self._backfill is None:
                    gap_repair.record(conn, gap)
                    continue
                self.stats.rows_repaired += gap_repair.repair(conn, gap, self._backfill)
                self.stats.gaps_repaired += 1
                if self._metrics is not None:
                    self._metrics.gap_filled()
            except (StoreError, FeedError, psycopg.Error) as exc:
                log.error("gap %s %s..%s not repaired yet: %s", gap.symbol, gap.start_ns, gap.end_ns, exc)
                self._drop_connection()
                return todo[i:]
        return []

    async def flush(self, *, final: bool = False) -> None:
        """Write what is buffered (after anything that failed before) on a worker thread."""
        pending = self._sink.take(close_quotes=final)
        held = await asyncio.to_thread(self._build_and_write, pending)
        self._sink.give_back(held)
        self._report_depths()

    def _build_and_write(self, pending: PendingRows) -> list[Quote]:
        built, held = pending.build()
        batches = list(built.items())
        if self._spool is not None:
            self._write_spooled(batches)
        else:
            batches, self._retry = self._retry + batches, []
            if batches:
                self._retry = self._write(batches)
        return held

    def _report_depths(self) -> None:
        if self._metrics is None:
            return
        if self._engine is not None:
            self._metrics.set_queue_depth("engine", self._engine.qsize())
        self._metrics.set_queue_depth("writer_rows", self._sink.pending_rows())
        self._metrics.set_queue_depth("writer_batches_waiting", self.pending_batches())

    def _write_spooled(self, batches: list[tuple[str, Batch]]) -> None:
        spool = self._spool
        assert spool is not None
        if spool.pending():
            for table, batch in batches:  # older spooled batches go first: keep the order
                spool.append(table, batch)
            with contextlib.suppress(StoreError, psycopg.Error):
                spool.replay(self._write_one)
        else:
            for table, batch in self._write(batches):
                spool.append(table, batch)
        if self._metrics is not None:
            self._metrics.set_spool_bytes(spool.bytes())

    def _write(self, batches: list[tuple[str, Batch]]) -> list[tuple[str, Batch]]:
        """Write in order; returns the batches from the first failure on."""
        for i, (table, batch) in enumerate(batches):
            try:
                self._write_one(table, batch)
            except (StoreError, psycopg.Error) as exc:
                log.error("writing %s failed (%s); keeping %d batches for later", table, exc, len(batches) - i)
                return batches[i:]
        return []

    def _write_one(self, table: str, batch: Batch) -> None:
        try:
            conn = self._connection()
            result = BulkWriter(conn).write(BULK_TABLES[table], batch)
            conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, notice_payload(table, batch)))
        except (StoreError, psycopg.Error):
            self.stats.write_failures += 1
            self._drop_connection()
            raise
        self.stats.rows_written[table] += result.rows_in
        if self._metrics is not None:
            self._metrics.wrote(table, result.rows_in, result.seconds)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def pending_batches(self) -> int:
        """Batches waiting for the database (in memory or in the spool)."""
        return self._spool.pending() if self._spool is not None else len(self._retry)

    def close(self) -> None:
        self._drop_connection()
