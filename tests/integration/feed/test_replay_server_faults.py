"""Each fault knob of the replay server has the effect the real feed's misbehaviour has."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from scalper.adapters.polygon import Faults, ReplayServer, ServerConfig
from scalper.core.errors import ConfigError
from scalper.synthetic.polygon_events import Frame

BASE_MS = 1_709_562_600_000


def bar_frames(n: int = 6) -> list[Frame]:
    """``n`` one-second frames, each one index value and one second bar."""
    frames = []
    for i in range(n):
        t = BASE_MS + i * 1000
        events = [
            {"ev": "V", "val": 5800.0 + i, "T": "I:SPX", "t": t + 100},
            {
                "ev": "A",
                "sym": "I:SPX",
                "op": 5800.0,
                "o": 5800.0 + i,
                "c": 5800.5 + i,
                "h": 5801.0 + i,
                "l": 5799.5 + i,
                "s": t - 3000,
                "e": t - 2000,
            },
        ]
        data = json.dumps(events, separators=(",", ":")).encode()
        frames.append(Frame(send_ns=(t + 1000) * 1_000_000, data=data, events=2))
    return frames


async def subscribed(server: ReplayServer, topics: str = "V.*,A.*", **kwargs: Any) -> ClientConnection:
    ws = await connect(server.url("indices"), **kwargs)
    await ws.recv()
    await ws.send(json.dumps({"action": "auth", "params": "k"}))
    await ws.recv()
    await ws.send(json.dumps({"action": "subscribe", "params": topics}))
    await ws.recv()
    return ws


async def read_all(ws: ClientConnection) -> list[tuple[float, str]]:
    """(arrival time, raw text) of every frame until the connection ends, normally or not."""
    out: list[tuple[float, str]] = []
    try:
        async for message in ws:
            out.append((time.monotonic(), str(message)))
    except ConnectionClosedError:
        pass
    return out


def run(faults: Faults, topics: str = "V.*,A.*", n: int = 6) -> tuple[list[tuple[float, str]], ClientConnection, Any]:
    async def scenario() -> tuple[list[tuple[float, str]], ClientConnection, Any]:
        frames = bar_frames(n)
        async with ReplayServer({"indices": lambda: frames}, ServerConfig(speed=0)) as server:
            server.faults = faults  # knobs may change between connections
            ws = await subscribed(server, topics)
            return await read_all(ws), ws, server.sent("indices")

    return asyncio.run(scenario())


def test_drop_ends_the_connection_without_a_close_frame() -> None:
    received, ws, sent = run(Faults(drop_after_frames=2))
    assert len(received) == 2 == sent.frames
    assert ws.protocol.close_rcvd is None  # abrupt: TCP closed, no websocket close frame
    assert ws.close_code == 1006


def test_max_connections_fault_sends_the_status_then_closes() -> None:
    received, ws, _ = run(Faults(max_connections_after_frames=3))
    assert len(received) == 4
    assert json.loads(received[-1][1])[0]["status"] == "max_connections"
    assert ws.close_code == 1008


def test_pause_stalls_the_stream_for_pause_s() -> None:
    received, _, _ = run(Faults(pause_after_frames=2, pause_s=0.5))
    gaps = [b[0] - a[0] for a, b in zipped(received)]
    assert len(received) == 6
    assert gaps[1] >= 0.5
    assert max(gaps[:1] + gaps[2:]) < 0.2


def zipped(items: list[Any]) -> list[tuple[Any, Any]]:
    return list(itertools.pairwise(items))


def test_malformed_frames_arrive_and_the_stream_continues() -> None:
    received, ws, sent = run(Faults(malformed_every=2))
    texts = [text for _, text in received]
    bad = []
    for i, text in enumerate(texts):
        try:
            json.loads(text)
        except ValueError:
            bad.append(i)
    assert bad == [2, 5, 8]  # after data frames 2, 4, 6
    assert len(texts) - len(bad) == 6 == sent.frames and sent.malformed == 3
    assert ws.close_code == 1000  # the stream ran to the end


def bar_keys(received: list[tuple[float, str]]) -> list[tuple[tuple[str, str, int], dict[str, Any]]]:
    return [((e["ev"], e["sym"], e["s"]), e) for _, text in received for e in json.loads(text)]


def test_duplicate_resends_the_same_aggregate() -> None:
    received, _, sent = run(Faults(duplicate_every=2), topics="A.I:SPX")
    bars = bar_keys(received)
    seen: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for key, bar in bars:
        seen.setdefault(key, []).append(bar)
    twice = [v for v in seen.values() if len(v) == 2]
    assert len(twice) == 3 == sent.duplicates
    assert all(a == b for a, b in twice)


def test_correction_resends_a_bar_with_a_changed_close() -> None:
    received, _, sent = run(Faults(correct_every=3), topics="A.I:SPX")
    seen: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for key, bar in bar_keys(received):
        seen.setdefault(key, []).append(bar)
    corrected = [v for v in seen.values() if len(v) == 2]
    assert len(corrected) == 2 == sent.corrections
    for first, second in corrected:
        assert second["c"] != first["c"]
        assert second["l"] <= second["c"] <= second["h"]
        assert {k: v for k, v in second.items() if k not in "chl"} == {k: v for k, v in first.items() if k not in "chl"}


def big_frames(n: int, events: int) -> list[Frame]:
    """``n`` frames of ``events`` index values each, 1 ms apart: far more than a stalled reader absorbs."""
    frames = []
    for i in range(n):
        t = BASE_MS + i
        body = [{"ev": "V", "val": 5800.0 + j / 100, "T": "I:SPX", "t": t} for j in range(events)]
        frames.append(Frame(send_ns=t * 1_000_000, data=json.dumps(body).encode(), events=events))
    return frames


def small_window_socket(port: int) -> socket.socket:
    """A client socket with a fixed 64 KiB receive window (no autotuning), so a stalled reader backs up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def test_slow_consumer_is_told_and_disconnected() -> None:
    frames = big_frames(300, 2_000)  # ~37 MB in 0.3 s (uncompressed: the client declines permessage-deflate)

    async def scenario() -> tuple[list[tuple[float, str]], ClientConnection]:
        config = ServerConfig(speed=1.0, faults=Faults(slow_consumer_queue=5))
        async with ReplayServer({"indices": lambda: frames}, config) as server:
            ws = await subscribed(
                server, "V.*", max_size=None, max_queue=2, compression=None, sock=small_window_socket(server.port)
            )
            await asyncio.sleep(1.0)  # stop reading: the socket buffers fill and the server's queue grows
            return await read_all(ws), ws

    received, ws = asyncio.run(scenario())
    assert json.loads(received[-1][1]) == [{"ev": "status", "status": "slow_consumer", "message": "consumer too slow"}]
    assert len(received) - 1 < len(frames)
    assert ws.close_code == 1008


@pytest.mark.parametrize("bad", [{"drop_after_frames": 0}, {"pause_after_frames": 2}, {"malformed_every": -1}])
def test_invalid_fault_knobs_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Faults(**bad)
