"""An anchored live timeline follows the wall clock: a restarted server resumes where the market is."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from scalper.adapters.polygon.replay_server import ReplayServer, ServerConfig
from scalper.adapters.polygon.timeline import Anchor, Timeline, paced
from scalper.core.errors import ConfigError
from scalper.synthetic.polygon_events import Frame

BASE_NS = 1_709_562_600_000 * 1_000_000
S = 1_000_000_000


def value_frames(n: int) -> list[Frame]:
    """``n`` frames one logical second apart, each one ``V`` event whose ``val`` is its index."""
    return [
        Frame(
            send_ns=BASE_NS + i * S,
            data=json.dumps([{"ev": "V", "val": float(i), "T": "I:SPX", "t": (BASE_NS + i * S) // 1_000_000}]).encode(),
            events=1,
        )
        for i in range(n)
    ]


async def released(timeline: Timeline, frames: list[Frame]) -> list[tuple[int, float]]:
    """(frame index, loop time) of each frame ``timeline`` releases."""
    loop = asyncio.get_running_loop()
    return [((f.send_ns - BASE_NS) // S, loop.time()) async for f in paced(frames, timeline)]


def test_an_anchor_in_the_past_skips_what_passed_and_paces_the_rest_on_the_wall_clock() -> None:
    wall = 1_800_000_000 * S  # a fixed wall clock: the open went out exactly 1.5 s before the first frame
    timeline = Timeline(20, Anchor(send_ns=BASE_NS, wall_ns=wall - 1_500_000_000), wall_ns=lambda: wall)

    async def scenario() -> tuple[float, list[tuple[int, float]]]:
        began = asyncio.get_running_loop().time()
        return began, await released(timeline, value_frames(45))

    began, out = asyncio.run(scenario())
    assert [i for i, _ in out] == list(range(30, 45))  # 1.5 s at 20x: the first 30 logical seconds had passed
    assert timeline.resume_ns == BASE_NS + 30 * S
    for i, at in out:  # never early: frame i is due (i - 30) / 20 s after the start
        assert at >= began + (i - 30) / 20 - 0.002
    assert out[-1][1] - began >= 14 / 20 - 0.002


def test_an_anchor_in_the_future_holds_the_first_frame_until_it_is_due() -> None:
    wall = 1_800_000_000 * S
    timeline = Timeline(10, Anchor(send_ns=BASE_NS, wall_ns=wall + 400_000_000), wall_ns=lambda: wall)

    async def scenario() -> tuple[float, list[tuple[int, float]]]:
        began = asyncio.get_running_loop().time()
        return began, await released(timeline, value_frames(3))

    began, out = asyncio.run(scenario())
    assert [i for i, _ in out] == [0, 1, 2]  # nothing had passed
    assert out[0][1] >= began + 0.398 and out[2][1] >= began + 0.598


def test_without_an_anchor_the_first_frame_goes_out_at_once() -> None:
    timeline = Timeline(10)

    async def scenario() -> tuple[float, list[tuple[int, float]]]:
        began = asyncio.get_running_loop().time()
        return began, await released(timeline, value_frames(3))

    began, out = asyncio.run(scenario())
    assert [i for i, _ in out] == [0, 1, 2]
    assert out[0][1] - began < 0.1 <= out[1][1] - began + 0.002
    assert timeline.resume_ns is None


async def subscribe(server: ReplayServer) -> ClientConnection:
    ws = await connect(server.url("indices"), max_size=None)
    await ws.recv()
    await ws.send(json.dumps({"action": "auth", "params": "k"}))
    await ws.recv()
    await ws.send(json.dumps({"action": "subscribe", "params": "V.I:SPX"}))
    await ws.recv()
    return ws


async def values(ws: ClientConnection, seconds: float) -> list[int]:
    """The ``val`` of every event received within ``seconds`` (or until the server closes)."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while (left := deadline - loop.time()) > 0:
            out += json.loads(await asyncio.wait_for(ws.recv(), left))
    except (TimeoutError, ConnectionClosed):
        pass
    return [int(e["val"]) for e in out]


def test_a_server_restarted_with_the_same_anchor_resumes_where_the_wall_clock_says() -> None:
    speed, n = 20.0, 200
    anchor = Anchor(send_ns=BASE_NS, wall_ns=time.time_ns())
    config = ServerConfig(speed=speed, timeline="live", anchor=anchor)

    def logical_now() -> float:
        """Logical seconds since the open, by the wall clock."""
        return (time.time_ns() - anchor.wall_ns) * speed / S

    async def scenario() -> tuple[list[int], float, float, list[int], float]:
        async with ReplayServer({"indices": lambda: value_frames(n)}, config) as server:
            ws = await subscribe(server)
            before = await values(ws, 0.5)
        killed = logical_now()  # the first server is gone: its connection and timeline with it
        await asyncio.sleep(1.0)
        restarted = logical_now()
        async with ReplayServer({"indices": lambda: value_frames(n)}, config) as server:
            ws = await subscribe(server)
            after = await values(ws, 0.5)
            resumed = server.timeline.resume_ns
        assert resumed is not None
        return before, killed, restarted, after, (resumed - BASE_NS) / S

    before, killed, restarted, after, resumed = asyncio.run(scenario())
    assert before and after, (before, after)
    assert before == list(range(before[0], before[-1] + 1)) and after == list(range(after[0], after[-1] + 1))
    assert before[-1] <= killed
    # The restart neither started the day over nor picked up where the first server stopped:
    # what the market passed while no server was up is never sent.
    assert restarted <= resumed <= after[0]
    assert after[0] - before[-1] >= 1.0 * speed
    assert after[-1] <= logical_now()  # and it is not ahead of the wall clock


@pytest.mark.parametrize(
    ("timeline", "speed"), [("replay", 10.0), ("live", 0.0), ("live", float("inf"))], ids=["replay", "unpaced", "inf"]
)
def test_only_a_paced_live_timeline_can_be_anchored(timeline: str, speed: float) -> None:
    with pytest.raises(ConfigError, match="anchor"):
        ServerConfig(speed=speed, timeline=timeline, anchor=Anchor(send_ns=BASE_NS, wall_ns=time.time_ns()))
