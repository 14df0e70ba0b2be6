"""The options cluster: its ``Q`` rules (1,000 contracts, no wildcard) and its frames through the official client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from functools import cache
from typing import Any

import pytest
from massive import WebSocketClient
from massive.websocket.models import EquityAgg, EquityTrade
from websockets.asyncio.client import ClientConnection, connect

from scalper.adapters.polygon import ReplayServer, ServerConfig
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.options import OptionDay, generate_option_day
from scalper.synthetic.polygon_events import Frame, render_frames

FRAMES = 2_000  # the session's first ~35 minutes of option trades and bars
LIMIT = 1_000  # POLYGON.md: options Q, at most 1,000 contracts per connection


@cache
def option_day() -> OptionDay:
    return generate_option_day(next(generate_market_days(date(2024, 3, 5), 1, seed=3)), 3)


@cache
def option_frames() -> list[Frame]:
    day = next(generate_market_days(date(2024, 3, 5), 1, seed=3))
    return list(render_frames("options", day, option_day()))[:FRAMES]


def contracts(n: int) -> list[str]:
    tickers = list(option_day().chain.ticker)
    assert len(tickers) > n
    return tickers[:n]


@asynccontextmanager
async def session(market: str = "options", speed: float = 0) -> AsyncIterator[ClientConnection]:
    """An authenticated raw connection to a replay server of the synthetic option frames.

    ``speed=0`` sends every frame at once and closes when done; tests of subscriptions alone pace
    the replay at market speed so it cannot finish (and close the socket) while they talk to it.
    """
    async with ReplayServer({market: option_frames}, ServerConfig(speed=speed)) as server:
        ws = await connect(server.url(market), max_size=None)
        await recv(ws)  # connected
        await ws.send(json.dumps({"action": "auth", "params": "k"}))
        assert (await recv(ws))[0]["status"] == "auth_success"
        yield ws
        await ws.close()


async def recv(ws: ClientConnection) -> list[dict[str, Any]]:
    message: list[dict[str, Any]] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


async def subscribe(ws: ClientConnection, topics: list[str], action: str = "subscribe") -> list[dict[str, Any]]:
    """Send one (un)subscribe and return its statuses (the acknowledgement frame comes before any data)."""
    await ws.send(json.dumps({"action": action, "params": ",".join(topics)}))
    statuses = await recv(ws)
    assert all(s["ev"] == "status" for s in statuses)
    return statuses


def outcome(statuses: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(status, topic) of each acknowledgement; the topic is the text after the last ': '."""
    return [(s["status"], s["message"].rsplit(": ", 1)[1]) for s in statuses]


def test_wildcard_quotes_are_refused_on_options_while_trades_and_bars_are_served() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with session() as ws:
            statuses = await subscribe(ws, ["Q.*", "T.*", "A.*"])
            data = await recv(ws)
            return statuses, data

    statuses, data = asyncio.run(scenario())
    assert outcome(statuses) == [("error", "Q.*"), ("success", "T.*"), ("success", "A.*")]
    assert "wildcard" in statuses[0]["message"]
    assert data and {e["ev"] for e in data} <= {"T", "A"} and all(e["sym"].startswith("O:") for e in data)


def test_the_1001st_quoted_contract_is_refused() -> None:
    tickers = contracts(LIMIT + 2)

    async def scenario() -> list[list[dict[str, Any]]]:
        async with session(speed=1) as ws:
            first = await subscribe(ws, [f"Q.{t}" for t in tickers[: LIMIT + 1]])
            again = await subscribe(ws, [f"Q.{tickers[0]}", f"Q.{tickers[LIMIT + 1]}", f"T.{tickers[LIMIT + 1]}"])
            freed = await subscribe(ws, [f"Q.{tickers[1]}"], action="unsubscribe")
            after = await subscribe(ws, [f"Q.{tickers[LIMIT + 1]}"])
            return [first, again, freed, after]

    first, again, freed, after = asyncio.run(scenario())
    assert outcome(first) == [("success", f"Q.{t}") for t in tickers[:LIMIT]] + [("error", f"Q.{tickers[LIMIT]}")]
    assert "1000" in first[-1]["message"]
    # re-subscribing a held contract takes no new slot; trades are not limited
    assert outcome(again) == [
        ("success", f"Q.{tickers[0]}"),
        ("error", f"Q.{tickers[LIMIT + 1]}"),
        ("success", f"T.{tickers[LIMIT + 1]}"),
    ]
    assert outcome(freed) == [("success", f"Q.{tickers[1]}")]
    assert outcome(after) == [("success", f"Q.{tickers[LIMIT + 1]}")]  # an unsubscribe frees a slot


def test_the_quote_rules_apply_to_the_options_cluster_only() -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with session("stocks", speed=1) as ws:
            return await subscribe(ws, ["Q.*", *(f"Q.S{i}" for i in range(LIMIT + 1))])

    statuses = asyncio.run(scenario())
    assert len(statuses) == LIMIT + 2 and {s["status"] for s in statuses} == {"success"}


def test_official_client_receives_the_option_trades_and_bars_that_were_sent() -> None:
    topics = ["T.*", "A.*", "AM.*", *(f"Q.{t}" for t in contracts(10))]

    async def scenario() -> tuple[list[Any], int]:
        received: list[Any] = []

        async def handler(models: list[Any]) -> None:
            received.extend(models)

        async with ReplayServer({"options": option_frames}, ServerConfig(speed=0)) as server:
            client = WebSocketClient(
                api_key="k",
                feed=f"127.0.0.1:{server.port}",
                market="options",
                secure=False,
                subscriptions=topics,
                max_reconnects=0,
            )
            await asyncio.wait_for(client.connect(handler), timeout=60)
            return received, server.sent("options").events

    received, sent = asyncio.run(scenario())
    events = [e for frame in option_frames() for e in json.loads(frame.data)]
    models = {"T": EquityTrade, "A": EquityAgg, "AM": EquityAgg}
    assert len(received) == len(events) == sent
    for model, event in zip(received, events, strict=True):
        assert type(model) is models[event["ev"]]
        assert model == models[event["ev"]].from_dict(event)
    first_trade = next(m for m in received if isinstance(m, EquityTrade))
    trade = next(e for e in events if e["ev"] == "T")
    assert (first_trade.symbol, first_trade.price, first_trade.size, first_trade.timestamp) == (
        trade["sym"],
        trade["p"],
        trade["s"],
        trade["t"],
    )
    assert {type(m) for m in received} == {EquityTrade, EquityAgg}


@pytest.mark.parametrize("topic", ["Q.*", "Q.O:SPY240315C00500000"])
def test_unsubscribing_quotes_is_always_acknowledged(topic: str) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with session() as ws:
            return await subscribe(ws, [topic], action="unsubscribe")

    assert outcome(asyncio.run(scenario())) == [("success", topic)]
