"""Live timeline mode: one market clock from server start; a client that is away misses frames."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from scalper.adapters.polygon.replay_rest import RestApi, SyntheticDays, synthetic_sources
from scalper.adapters.polygon.replay_server import ReplayServer, ServerConfig
from scalper.adapters.polygon.rest import PolygonRest
from scalper.synthetic.market import INDEX_TICKERS
from scalper.synthetic.polygon_events import Frame

BASE_MS = 1_709_562_600_000


def value_frames(n: int) -> list[Frame]:
    """``n`` frames one logical second apart, each one ``V`` event whose ``val`` is its index."""
    return [
        Frame(
            send_ns=(BASE_MS + i * 1000) * 1_000_000,
            data=json.dumps([{"ev": "V", "val": float(i + 1), "T": "I:SPX", "t": BASE_MS + i * 1000}]).encode(),
            events=1,
        )
        for i in range(n)
    ]


async def subscribe(server: ReplayServer, topics: str) -> ClientConnection:
    ws = await connect(server.url("indices"), max_size=None)
    await ws.recv()
    await ws.send(json.dumps({"action": "auth", "params": "k"}))
    await ws.recv()
    await ws.send(json.dumps({"action": "subscribe", "params": topics}))
    await ws.recv()
    return ws


async def receive_for(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Events received within ``seconds`` (or until the server closes)."""
    events: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while (left := deadline - loop.time()) > 0:
            events += json.loads(await asyncio.wait_for(ws.recv(), left))
    except (TimeoutError, ConnectionClosed):
        pass
    return events


async def drop(ws: ClientConnection) -> None:
    """Vanish like a client whose network failed (a polite close would wait on a congested socket)."""
    ws.transport.abort()
    await ws.wait_closed()


def test_the_timeline_advances_while_nobody_is_connected() -> None:
    async def scenario() -> tuple[int | None, int | None]:
        config = ServerConfig(speed=20, timeline="live")
        async with ReplayServer({"indices": lambda: value_frames(100)}, config) as server:
            await asyncio.sleep(0.5)
            return server.position_ns("indices"), server.position_ns()

    market, overall = asyncio.run(scenario())
    assert market is not None and market == overall
    assert (BASE_MS + 5_000) * 1_000_000 <= market <= (BASE_MS + 15_000) * 1_000_000  # ~10 logical s in 0.5 s


def test_a_reconnecting_client_misses_exactly_the_frames_released_while_it_was_away() -> None:
    async def scenario() -> tuple[list[float], list[float], int, int]:
        config = ServerConfig(speed=20, timeline="live")
        async with ReplayServer({"indices": lambda: value_frames(60)}, config) as server:
            ws = await subscribe(server, "V.I:SPX")
            before = await receive_for(ws, 0.5)
            await drop(ws)
            left_at = server.position_ns("indices")
            await asyncio.sleep(0.5)
            ws = await subscribe(server, "V.I:SPX")
            back_at = server.position_ns("indices")
            after = await receive_for(ws, 5.0)
            assert ws.close_code == 1000  # the live replay ran to its end
            assert left_at is not None and back_at is not None
            return [e["val"] for e in before], [e["val"] for e in after], left_at, back_at

    before, after, left_at, back_at = asyncio.run(scenario())
    released = {v: (BASE_MS + (int(v) - 1) * 1000) * 1_000_000 for v in before + after}
    missed = set(range(int(before[-1]) + 1, int(after[0])))
    assert before == sorted(before) and after == sorted(after) and after[-1] == 60.0
    assert len(missed) >= 5  # about 10 logical seconds passed while away
    assert all(released[v] > back_at for v in after) and released[before[-1]] <= left_at
    joined_late = {float(v) for v in range(int(before[0]), 61)}  # frames before it joined were never its
    assert set(before) | set(after) | {float(v) for v in missed} == joined_late


def test_at_speed_zero_the_timeline_waits_for_a_subscriber_and_never_drops_its_frames() -> None:
    async def scenario() -> tuple[int | None, list[dict[str, Any]]]:
        config = ServerConfig(speed=0, timeline="live")
        async with ReplayServer({"indices": lambda: value_frames(2_000)}, config) as server:
            await asyncio.sleep(0.2)
            idle = server.position_ns("indices")
            ws = await subscribe(server, "V.*")
            return idle, await receive_for(ws, 20.0)

    idle, events = asyncio.run(scenario())
    assert idle is None
    assert [e["val"] for e in events] == [float(i) for i in range(1, 2_001)]


def test_a_client_joining_after_the_end_is_closed_normally() -> None:
    async def scenario() -> int | None:
        config = ServerConfig(speed=1000, timeline="live")
        async with ReplayServer({"indices": lambda: value_frames(3)}, config) as server:
            await asyncio.sleep(0.2)
            ws = await subscribe(server, "V.*")
            assert await receive_for(ws, 2.0) == []
            return ws.close_code

    assert asyncio.run(scenario()) == 1000


def test_missed_seconds_backfilled_over_rest_complete_the_session() -> None:
    """Seconds before joining and while away come from REST; with the streamed ones: the whole session."""
    data = SyntheticDays(date(2024, 3, 5), 1, seed=3)
    spx = INDEX_TICKERS.index("I:SPX")

    async def scenario() -> tuple[list[int], list[int]]:
        config = ServerConfig(speed=4_000, timeline="live", api_key="k")
        sources = synthetic_sources(date(2024, 3, 5), 1, 3, data)
        async with ReplayServer(sources, config, RestApi(data, "k")) as server:
            while server.position_ns("indices") is None:  # the first day is generated at start
                await asyncio.sleep(0.05)
            ws = await subscribe(server, "A.I:SPX")
            before = [e["s"] for e in await receive_for(ws, 1.0)]
            await drop(ws)
            await asyncio.sleep(1.0)
            ws = await subscribe(server, "A.I:SPX")
            after = [e["s"] for e in await receive_for(ws, 30.0)]
            rest = PolygonRest("k", base_url=server.http_url)
            opened = data.days()[0].window.open_ns
            gaps = [
                (opened, (before[0] - 1000) * 1_000_000),
                ((before[-1] + 1000) * 1_000_000, (after[0] - 1000) * 1_000_000),
            ]
            filled = [bar for gap in gaps for bar in await asyncio.to_thread(rest.second_aggs, "I:SPX", *gap)]
            return before + after, [b.ts_event // 1_000_000 for b in filled]

    streamed, backfilled = asyncio.run(scenario())
    seconds = data.days()[0].index_seconds
    every = (seconds.start_ns[np.flatnonzero(seconds.symbol == spx)] // 1_000_000).tolist()
    assert len(backfilled) > 1_000  # it joined after the open, then ~4,000 logical seconds passed while away
    assert set(streamed).isdisjoint(backfilled)
    assert sorted(streamed + backfilled) == every
