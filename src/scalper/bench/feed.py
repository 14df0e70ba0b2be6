"""``scalper bench feed``: replay server at full speed → websocket consumer → database.

The server runs in its own process (as the real service is elsewhere) and streams the first
``frames`` frames of a synthetic stocks session (trades, quotes, second and minute bars of SPY
and QQQ) as fast as the consumer reads; frames that wait for the consumer go out together (up to
``BATCH_EVENTS`` events a frame), as a real server sends what accumulated. The consumer is the
production path: ``FeedClient`` (parse) → ``IngestPipeline`` (sink, cache, engine queue) → bulk
writer, into a scratch database that is dropped afterwards. Then a second run paces the server at
about 2,000 events/s and measures, per event, the time from frame receipt to the engine's dequeue.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import multiprocessing as mp
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from scalper.adapters.feed.backoff import Backoff
from scalper.adapters.feed.capture import Capture
from scalper.adapters.feed.client import FeedSettings
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.store.migrations import migrate
from scalper.config.secrets import Secret
from scalper.core.clock import LiveClock
from scalper.core.events import MarketEvent

MARKET = "stocks"
TOPICS = ("A.*", "AM.*", "T.*", "Q.*")
KEY = "bench"
BATCH_EVENTS = 1_000  # a client that falls behind gets what accumulated in bigger frames, as from the real service


def _frames(frames: int) -> list[Any]:
    from scalper.synthetic.market import generate_market_days
    from scalper.synthetic.polygon_events import render_frames

    day = next(generate_market_days(dt.date(2025, 3, 4), 1, seed=21))
    return list(render_frames(MARKET, day))[:frames]


def _serve(frames: int, speed: float, ports: Any) -> None:
    from scalper.adapters.polygon import ReplayServer, ServerConfig

    data = _frames(frames)

    async def main() -> None:
        config = ServerConfig(speed=speed, api_key=KEY, batch_events=BATCH_EVENTS)
        async with ReplayServer({MARKET: lambda: data}, config) as server:
            ports.put(server.port)
            await asyncio.Event().wait()

    asyncio.run(main())


@contextlib.contextmanager
def _server(frames: int, speed: float) -> Iterator[int]:
    ctx = mp.get_context("spawn")
    ports = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(frames, speed, ports), daemon=True)
    proc.start()
    try:
        yield int(ports.get(timeout=120))
    finally:
        proc.terminate()
        proc.join(10)
        ports.close()
        ports.join_thread()


@contextlib.contextmanager
def _scratch_database(admin_url: str) -> Iterator[str]:
    name = f"scalper_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _consume(port: int, url: str, expected: int, latencies: list[int] | None) -> tuple[int, float]:
    clock = LiveClock()
    queue: asyncio.Queue[list[MarketEvent]] = asyncio.Queue(maxsize=100_000)
    pipeline = IngestPipeline(lambda: psycopg.connect(url, autocommit=True), engine_queue=queue, batch_rows=20_000)
    settings = {
        MARKET: FeedSettings(
            url=f"ws://127.0.0.1:{port}/{MARKET}",
            api_key=Secret(KEY),
            topics=TOPICS,
            backoff=Backoff(base_s=0.05, cap_s=0.5),
        )
    }
    received, first = 0, 0.0
    async with Capture(pipeline, settings, clock, market_open=lambda ns: False):
        while received < expected:
            try:
                frames = [await asyncio.wait_for(queue.get(), 30)]
            except TimeoutError:
                break
            while not queue.empty():  # an engine drains what is there, then waits again
                frames.append(queue.get_nowait())
            now = clock.now_ns()
            if received == 0:
                first = time.perf_counter()
            for events in frames:
                received += len(events)
                if latencies is not None:
                    latencies.extend(now - e.ts_recv for e in events if e.ts_recv is not None)
    return received, time.perf_counter() - first


def _expected_events(frames: int) -> tuple[int, float]:
    import json

    data = _frames(frames)
    events = sum(len(json.loads(f.data)) for f in data)
    span_s = (data[-1].send_ns - data[0].send_ns) / 1e9
    return events, events / max(span_s, 1e-9)


def _expected_rows(frames: int) -> dict[str, int]:
    """Rows the database must hold after capturing ``frames``: one per distinct natural key sent."""
    import json

    keys: dict[str, set[tuple[Any, ...]]] = {"agg_1s": set(), "bars": set(), "trades": set(), "quotes_1s": set()}
    for frame in _frames(frames):
        for e in json.loads(frame.data):
            ev = e["ev"]
            if ev == "A":
                keys["agg_1s"].add((e["sym"], e["s"]))
            elif ev == "AM":
                keys["bars"].add((e["sym"], e["s"]))
            elif ev == "T":
                keys["trades"].add((e["sym"], e["t"], e["q"]))
            elif ev == "Q":
                keys["quotes_1s"].add((e["sym"], e["t"] // 1000))
    return {table: len(k) for table, k in keys.items()}


def _stored_rows(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])  # type: ignore[index]
            for table in ("agg_1s", "bars", "trades", "quotes_1s")
        }


def run(admin_url: str, frames: int = 20_000) -> dict[str, Any]:
    """Measure on the server of ``admin_url`` (a scratch database is created and dropped).

    ``lost`` counts the events the engine never received plus the rows the database lacks (one row per
    distinct second, minute, trade and quoted second sent); both must be zero.
    """
    expected, per_session_second = _expected_events(frames)
    expected_rows = _expected_rows(frames)
    with _scratch_database(admin_url) as url:
        with _server(frames, 0.0) as port:
            received, elapsed = asyncio.run(_consume(port, url, expected, None))
        stored = _stored_rows(url)
        latencies: list[int] = []
        paced_frames = max(200, int(frames / 10))
        with _server(paced_frames, 2_000.0 / per_session_second) as port:
            paced_expected = _expected_events(paced_frames)[0]
            asyncio.run(_consume(port, url, paced_expected, latencies))
    p99 = float(np.percentile(np.array(latencies) / 1e6, 99)) if latencies else float("nan")
    missing_rows = sum(max(expected_rows[t] - stored[t], 0) for t in expected_rows)
    return {
        "name": "feed",
        "events": received,
        "events_per_s": round(received / elapsed),
        "lost": max(expected - received, 0) + missing_rows,
        "p99_ms_at_2k": round(p99, 3),
        "rows_stored": sum(stored.values()),
        "rows_missing": missing_rows,
    }
