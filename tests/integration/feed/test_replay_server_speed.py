"""Replay pacing: ``speed`` 0 streams as fast as the client reads; a finite speed follows ``send_ns``."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date

import pytest
from websockets.asyncio.client import connect

from scalper.adapters.polygon import ReplayServer, ServerConfig, synthetic_sources
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.polygon_events import Frame, render_frames

BASE_NS = 1_709_562_600_000 * 1_000_000


async def stream(server: ReplayServer, topics: str) -> list[tuple[float, str]]:
    """Subscribe and return (arrival time, text) of every data frame until the server ends the replay."""
    async with connect(server.url("indices"), max_size=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "auth", "params": "k"}))
        await ws.recv()
        await ws.send(json.dumps({"action": "subscribe", "params": topics}))
        await ws.recv()
        return [(time.monotonic(), str(message)) async for message in ws]


def test_speed_zero_streams_a_full_session_in_seconds() -> None:
    day = next(generate_market_days(date(2024, 3, 5), 1, seed=3))
    frames = list(render_frames("indices", day))

    async def scenario() -> tuple[list[tuple[float, str]], float, int]:
        async with ReplayServer({"indices": lambda: frames}, ServerConfig(speed=0)) as server:
            started = time.monotonic()
            received = await stream(server, "V.*,A.*,AM.*")
            return received, time.monotonic() - started, server.sent("indices").events

    received, elapsed, sent_events = asyncio.run(scenario())
    assert len(received) == len(frames) > 20_000
    assert [text.encode() for _, text in received] == [f.data for f in frames]  # all subscribed: bytes unchanged
    assert sent_events == sum(f.events for f in frames)
    assert elapsed < 10.0


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_finite_speed_follows_send_ns_spacing(speed: float) -> None:
    offsets_s = [0.0, 0.2, 0.2, 0.6, 1.0]
    frames = [
        Frame(
            send_ns=BASE_NS + int(offset * 1e9),
            data=json.dumps([{"ev": "V", "val": 5800.0 + i, "T": "I:SPX", "t": BASE_NS // 10**6 + i}]).encode(),
            events=1,
        )
        for i, offset in enumerate(offsets_s)
    ]

    async def scenario() -> list[tuple[float, str]]:
        async with ReplayServer({"indices": lambda: frames}, ServerConfig(speed=speed)) as server:
            return await stream(server, "V.I:SPX")

    received = asyncio.run(scenario())
    arrivals = [t - received[0][0] for t, _ in received]
    assert len(arrivals) == len(offsets_s)
    for got, want in zip(arrivals, offsets_s, strict=True):
        assert got == pytest.approx(want / speed, abs=0.05)


def test_synthetic_sources_replay_generated_sessions_from_their_first_frame() -> None:
    async def scenario() -> list[list[dict[str, object]]]:
        sources = synthetic_sources(date(2024, 3, 5), sessions=1, seed=3)
        async with (
            ReplayServer(sources, ServerConfig(speed=0)) as server,
            connect(server.url("stocks"), close_timeout=1) as ws,
        ):
            for message in ({"action": "auth", "params": "k"}, {"action": "subscribe", "params": "T.SPY"}):
                await ws.recv()
                await ws.send(json.dumps(message))
            await ws.recv()
            return [json.loads(await asyncio.wait_for(ws.recv(), 30)) for _ in range(20)]

    frames = asyncio.run(scenario())
    day = next(generate_market_days(date(2024, 3, 5), 1, seed=3))
    received = [e for f in frames for e in f]
    expected = []
    for frame in render_frames("stocks", day):
        expected += [e for e in json.loads(frame.data) if e["ev"] == "T" and e["sym"] == "SPY"]
        if len(expected) >= len(received):
            break
    assert received == expected[: len(received)]


def test_frames_waiting_for_a_slow_reader_go_out_batched_in_order() -> None:
    day = next(generate_market_days(date(2024, 3, 5), 1, seed=3))
    frames = list(render_frames("indices", day))[:3000]

    async def scenario() -> tuple[list[str], int]:
        config = ServerConfig(speed=0, batch_events=500)
        async with ReplayServer({"indices": lambda: frames}, config) as server:
            async with connect(server.url("indices"), max_size=None) as ws:
                await ws.recv()
                await ws.send(json.dumps({"action": "auth", "params": "k"}))
                await ws.recv()
                await ws.send(json.dumps({"action": "subscribe", "params": "V.*,A.*,AM.*"}))
                await ws.recv()
                await asyncio.sleep(0.5)  # the reader is away: frames queue up on the server
                received = [str(message) async for message in ws]
            return received, server.sent("indices").frames

    received, sent_frames = asyncio.run(scenario())
    events = [e for text in received for e in json.loads(text)]
    assert events == [e for f in frames for e in json.loads(f.data)]  # every event, in order
    assert all(len(json.loads(text)) <= 500 for text in received)
    assert sent_frames == len(received) < len(frames) // 3  # batched, and counted as sent


def test_batching_is_off_with_frame_counting_faults() -> None:
    from scalper.adapters.polygon import Faults

    frames = list(render_frames("indices", next(generate_market_days(date(2024, 3, 5), 1, seed=3))))[:400]

    async def scenario() -> int:
        config = ServerConfig(speed=0, batch_events=500, faults=Faults(malformed_every=1000))
        async with ReplayServer({"indices": lambda: frames}, config) as server:
            await asyncio.sleep(0)
            received = await stream(server, "V.*,A.*,AM.*")
            return len(received)

    assert asyncio.run(scenario()) == len(frames)
