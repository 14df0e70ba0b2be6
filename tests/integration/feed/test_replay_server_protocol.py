"""The replay server speaks the Polygon/Massive session protocol (checked with a raw websockets client)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from scalper.adapters.polygon import Faults, ReplayServer, ServerConfig
from scalper.synthetic.polygon_events import Frame

BASE_MS = 1_709_562_600_000


def _frame(second: int, events: list[dict[str, Any]]) -> Frame:
    data = json.dumps(events, separators=(",", ":")).encode()
    return Frame(send_ns=(BASE_MS + second * 1000) * 1_000_000, data=data, events=len(events))


def index_frames(n: int = 5) -> list[Frame]:
    """Frames mixing V and A events of both indices, like the real indices cluster."""
    frames = []
    for i in range(n):
        t = BASE_MS + i * 1000
        events = [
            {"ev": "V", "val": 5800.0 + i, "T": "I:SPX", "t": t + 120},
            {"ev": "V", "val": 20500.0 + i, "T": "I:NDX", "t": t + 340},
            {
                "ev": "A",
                "sym": "I:SPX",
                "op": 5800.0,
                "o": 5800.0,
                "c": 5801.0,
                "h": 5801.5,
                "l": 5799.5,
                "s": t - 3000,
                "e": t - 2000,
            },
            {
                "ev": "A",
                "sym": "I:NDX",
                "op": 20500.0,
                "o": 20500.0,
                "c": 20501.0,
                "h": 20502.0,
                "l": 20499.0,
                "s": t - 3000,
                "e": t - 2000,
            },
        ]
        frames.append(_frame(i + 1, events))
    return frames


@asynccontextmanager
async def running(frames: list[Frame], **config: Any) -> AsyncIterator[ReplayServer]:
    config.setdefault("speed", 0.0)
    async with ReplayServer({"indices": lambda: frames}, ServerConfig(**config)) as server:
        yield server


async def recv(ws: ClientConnection, timeout: float = 5.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def login(server: ReplayServer, key: str = "k") -> ClientConnection:
    ws = await connect(server.url("indices"))
    assert await recv(ws) == [{"ev": "status", "status": "connected", "message": "Connected Successfully"}]
    await ws.send(json.dumps({"action": "auth", "params": key}))
    assert await recv(ws) == [{"ev": "status", "status": "auth_success", "message": "authenticated"}]
    return ws


async def data_until_close(ws: ClientConnection) -> list[Any]:
    frames = []
    async for message in ws:
        frames.append(json.loads(message))
    return frames


def test_session_connects_authenticates_and_acknowledges_each_topic() -> None:
    async def scenario() -> None:
        async with running(index_frames()) as server:
            ws = await login(server)
            await ws.send(json.dumps({"action": "subscribe", "params": "A.I:SPX,V.I:SPX"}))
            assert await recv(ws) == [
                {"ev": "status", "status": "success", "message": "subscribed to: A.I:SPX"},
                {"ev": "status", "status": "success", "message": "subscribed to: V.I:SPX"},
            ]
            await ws.close()

    asyncio.run(scenario())


def test_actions_before_auth_get_auth_required() -> None:
    async def scenario() -> None:
        async with running(index_frames()) as server, connect(server.url("indices")) as ws:
            await recv(ws)
            await ws.send(json.dumps({"action": "subscribe", "params": "A.I:SPX"}))
            assert (await recv(ws))[0]["status"] == "auth_required"

    asyncio.run(scenario())


def test_malformed_json_and_unknown_action_get_error_statuses() -> None:
    async def scenario() -> None:
        async with running(index_frames()) as server:
            ws = await login(server)
            for bad in ("{not json", json.dumps({"action": "dance", "params": "x"}), "[1,2]"):
                await ws.send(bad)
                reply = await recv(ws)
                assert isinstance(reply, list) and reply[0]["ev"] == "status" and reply[0]["status"] == "error"
            await ws.close()

    asyncio.run(scenario())


def test_wrong_key_gets_auth_failed_in_its_own_frame_then_close() -> None:
    async def scenario() -> None:
        async with running(index_frames(), api_key="right") as server, connect(server.url("indices")) as ws:
            assert (await recv(ws))[0]["status"] == "connected"
            await ws.send(json.dumps({"action": "auth", "params": "wrong"}))
            assert await recv(ws) == [{"ev": "status", "status": "auth_failed", "message": "authentication failed"}]
            with pytest.raises(ConnectionClosed):
                await recv(ws)

    asyncio.run(scenario())


def test_no_auth_in_time_gets_auth_timeout_then_close() -> None:
    async def scenario() -> None:
        async with running(index_frames(), auth_timeout_s=0.2) as server, connect(server.url("indices")) as ws:
            await recv(ws)
            assert (await recv(ws))[0]["status"] == "auth_timeout"
            with pytest.raises(ConnectionClosed):
                await recv(ws)

    asyncio.run(scenario())


def test_unknown_path_is_refused_with_404() -> None:
    async def scenario() -> None:
        async with running(index_frames()) as server:
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"ws://127.0.0.1:{server.port}/crypto")
            assert refused.value.response.status_code == 404

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("topics", "wanted"),
    [
        ("V.I:SPX", {("V", "I:SPX")}),
        ("A.I:NDX,V.I:SPX", {("A", "I:NDX"), ("V", "I:SPX")}),
        ("A.*", {("A", "I:NDX"), ("A", "I:SPX")}),
    ],
)
def test_only_subscribed_events_arrive_as_arrays_with_ms_timestamps(topics: str, wanted: set[tuple[str, str]]) -> None:
    async def scenario() -> list[Any]:
        async with running(index_frames()) as server:
            ws = await login(server)
            await ws.send(json.dumps({"action": "subscribe", "params": topics}))
            await recv(ws)
            return await data_until_close(ws)

    frames = asyncio.run(scenario())
    events = [e for f in frames for e in f]
    assert all(isinstance(f, list) and f for f in frames)
    assert {(e["ev"], e.get("T") or e.get("sym")) for e in events} == wanted
    assert len(events) == 5 * len(wanted)
    stamps = [e.get("t") or e.get("e") for e in events]
    assert all(10**12 < s < 10**13 for s in stamps)  # milliseconds, not seconds or nanoseconds


def test_unsubscribe_is_acknowledged_per_topic() -> None:
    async def scenario() -> None:
        async with running(index_frames()) as server:
            ws = await login(server)
            await ws.send(json.dumps({"action": "unsubscribe", "params": "A.I:SPX,V.*"}))
            assert [s["message"] for s in await recv(ws)] == ["unsubscribed to: A.I:SPX", "unsubscribed to: V.*"]
            await ws.close()

    asyncio.run(scenario())


def test_second_connection_with_same_key_kicks_the_older_with_max_connections() -> None:
    async def scenario() -> None:
        async with running(index_frames()) as server:
            first = await login(server, key="shared")
            second = await login(server, key="shared")
            assert (await recv(first)) == [
                {
                    "ev": "status",
                    "status": "max_connections",
                    "message": "Maximum number of websocket connections exceeded.",
                }
            ]
            with pytest.raises(ConnectionClosed):
                await recv(first)
            assert first.close_code == 1008
            await second.send(json.dumps({"action": "subscribe", "params": "V.I:SPX"}))
            assert (await recv(second))[0]["status"] == "success"
            await second.close()

    asyncio.run(scenario())


def test_other_keys_and_markets_do_not_kick_each_other() -> None:
    async def scenario() -> None:
        async with running(index_frames(), faults=Faults()) as server:
            first = await login(server, key="a")
            await login(server, key="b")
            await first.send(json.dumps({"action": "subscribe", "params": "V.I:SPX"}))
            assert (await recv(first))[0]["status"] == "success"

    asyncio.run(scenario())
