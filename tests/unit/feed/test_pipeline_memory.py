"""The in-memory half of the ingest pipeline: cache, counters, engine queue and gap bookkeeping."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.feed.parse import Parsed
from scalper.core.events import MarketEvent, Quote, SecondAgg, Trade

S = 1_000_000_000


def _no_database() -> psycopg.Connection[object]:
    raise AssertionError("these tests never write")


def second(symbol: str, t: int, close: float = 10.0) -> SecondAgg:
    return SecondAgg(symbol=symbol, ts_event=t * S, ts_end=(t + 1) * S, open=close, high=close, low=close, close=close)


def frame(*events: MarketEvent) -> Parsed:
    return Parsed(events=list(events))


def test_cache_keeps_the_newest_event_per_symbol_and_type_and_counts_events() -> None:
    pipeline = IngestPipeline(_no_database)
    old = Quote(symbol="SPY", ts_event=5 * S, bid=1.0, bid_size=1, ask=1.1, ask_size=1)
    new = Quote(symbol="SPY", ts_event=6 * S, bid=2.0, bid_size=1, ask=2.1, ask_size=1)
    trade = Trade(symbol="SPY", ts_event=5 * S, price=1.05, size=100)
    pipeline.on_frame(frame(new, trade, old))  # an older quote arriving late does not replace the newer one
    assert pipeline.cache.get("SPY", Quote) is new
    assert pipeline.cache.get("SPY", Trade) is trade
    assert pipeline.cache.get("QQQ", Quote) is None
    assert pipeline.stats.events == {"Quote": 2, "Trade": 1}


def test_the_engine_gets_whole_frames_in_order_and_overflow_is_counted() -> None:
    async def run() -> tuple[list[list[MarketEvent]], int]:
        engine: asyncio.Queue[list[MarketEvent]] = asyncio.Queue(maxsize=2)
        pipeline = IngestPipeline(_no_database, engine_queue=engine)
        frames = [[second("I:SPX", t), second("I:NDX", t)] for t in range(3)]
        for events in frames:
            pipeline.on_frame(Parsed(events=events))
        got = [engine.get_nowait() for _ in range(engine.qsize())]
        return got, pipeline.stats.engine_dropped

    got, dropped = asyncio.run(run())
    assert [[e.ts_event for e in f] for f in got] == [[0, 0], [S, S]]
    assert dropped == 2  # the third frame's two events: the engine is behind, capture goes on


def test_a_disconnect_opens_a_gap_that_the_next_bar_closes() -> None:
    pipeline = IngestPipeline(_no_database)
    pipeline.on_frame(frame(second("I:SPX", 100), second("I:SPX", 101)))
    pipeline.on_state("disconnected", "closed")
    pipeline.on_frame(frame(second("I:SPX", 105)))
    [gap] = pipeline.gaps
    assert (gap.symbol, gap.start_ns, gap.end_ns, gap.reason) == ("I:SPX", 102 * S, 104 * S, "closed")


@pytest.mark.parametrize(
    ("close_at", "expected"),
    [
        (None, (102 * S, 199 * S)),  # no calendar: up to the stop
        (150 * S, (102 * S, 149 * S)),  # the session closed before the stop
        (-1, None),  # the missing seconds are outside regular hours: no gap
    ],
)
def test_gaps_still_open_at_the_stop_end_at_the_stop_or_the_session_close(
    close_at: int | None, expected: tuple[int, int] | None
) -> None:
    pipeline = IngestPipeline(_no_database)
    pipeline.on_frame(frame(second("I:SPX", 100), second("I:SPX", 101)))
    pipeline.on_state("disconnected", "stall")
    if close_at is None:
        pipeline.close_gaps_at(200 * S)
    else:
        pipeline.close_gaps_at(200 * S, session_close=lambda ts: None if close_at < 0 else close_at)
    assert [(g.start_ns, g.end_ns) for g in pipeline.gaps] == ([expected] if expected else [])
    pipeline.close_gaps_at(300 * S)  # closing again finds nothing open
    assert len(pipeline.gaps) == (1 if expected else 0)


def test_queue_depths_are_reported_after_each_flush() -> None:
    from scalper.adapters.metrics import FeedMetrics
    from scalper.core.clock import ReplayClock
    from scalper.core.events import IndexValue

    async def run() -> dict[str, float]:
        metrics = FeedMetrics(ReplayClock(0))
        engine: asyncio.Queue[list[MarketEvent]] = asyncio.Queue()
        pipeline = IngestPipeline(_no_database, engine_queue=engine, metrics=metrics)
        for t in range(3):  # index values are not stored: the flush has nothing to write
            pipeline.on_frame(frame(IndexValue(symbol="I:SPX", ts_event=t * S, value=5000.0)))
        await pipeline.flush()
        return {
            s.labels["queue"]: s.value
            for m in metrics.registry.collect()
            if m.name == "scalper_queue_depth"
            for s in m.samples
        }

    assert asyncio.run(run()) == {"engine": 3.0, "writer_rows": 0.0, "writer_batches_waiting": 0.0}
