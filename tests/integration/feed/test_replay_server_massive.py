"""The official ``massive`` client consumes the replay server: the proof it speaks the real protocol."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from functools import cache
from typing import Any

import pytest
from massive import WebSocketClient
from massive.exceptions import AuthError
from massive.websocket.models import EquityAgg, EquityQuote, EquityTrade, IndexValue

from scalper.adapters.polygon import ReplayServer, ServerConfig, Subscriptions
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.polygon_events import Frame, render_frames

FRAMES_PER_MARKET = 3_000  # the session's first ~50 minutes: enough variety, quick to parse
MODELS = {"A": EquityAgg, "AM": EquityAgg, "V": IndexValue, "T": EquityTrade, "Q": EquityQuote}


@cache
def session_frames(market: str) -> list[Frame]:
    day = next(generate_market_days(date(2024, 3, 4), 1, seed=11))
    return list(render_frames(market, day))[:FRAMES_PER_MARKET]


def expected_events(frames: list[Frame], topics: list[str]) -> list[dict[str, Any]]:
    """The source's events that match ``topics``, in send order (filtered independently of the server)."""
    wanted = {tuple(t.split(".", 1)) for t in topics}
    out = []
    for frame in frames:
        for event in json.loads(frame.data):
            ticker = event["T"] if event["ev"] == "V" else event["sym"]
            if (event["ev"], ticker) in wanted or (event["ev"], "*") in wanted:
                out.append(event)
    return out


async def consume(server: ReplayServer, market: str, topics: list[str], key: str = "key") -> list[Any]:
    """Run the official client until the server ends the replay with a normal close."""
    received: list[Any] = []

    async def handler(models: list[Any]) -> None:
        received.extend(models)

    client = WebSocketClient(
        api_key=key,
        feed=f"127.0.0.1:{server.port}",
        market=market,
        secure=False,
        subscriptions=topics,
        max_reconnects=0,
    )
    await asyncio.wait_for(client.connect(handler), timeout=30)
    return received


@pytest.mark.parametrize(
    ("market", "topics"),
    [
        ("indices", ["A.I:SPX", "V.I:SPX", "AM.I:NDX", "V.I:NDX"]),
        ("stocks", ["T.SPY", "Q.SPY", "A.*", "AM.QQQ"]),
    ],
)
def test_official_client_receives_exactly_the_subscribed_events(market: str, topics: list[str]) -> None:
    frames = session_frames(market)

    async def scenario() -> tuple[list[Any], ReplayServer]:
        async with ReplayServer({market: lambda: frames}, ServerConfig(speed=0)) as server:
            return await consume(server, market, topics), server

    received, server = asyncio.run(scenario())
    expected = expected_events(frames, topics)
    assert len(received) == len(expected) == server.sent(market).events > 0
    for model, event in zip(received, expected, strict=True):
        cls = MODELS[event["ev"]]
        assert type(model) is cls
        assert model == cls.from_dict(event)
    assert {type(m) for m in received} == {MODELS[t.split(".")[0]] for t in topics}


def test_official_client_model_fields_carry_the_sent_values() -> None:
    frames = session_frames("indices")

    async def scenario() -> list[Any]:
        async with ReplayServer({"indices": lambda: frames}, ServerConfig(speed=0)) as server:
            return await consume(server, "indices", ["V.I:SPX", "A.I:SPX"])

    received = asyncio.run(scenario())
    first_value = next(m for m in received if isinstance(m, IndexValue))
    first_bar = next(m for m in received if isinstance(m, EquityAgg))
    sent = expected_events(frames, ["V.I:SPX", "A.I:SPX"])
    v = next(e for e in sent if e["ev"] == "V")
    a = next(e for e in sent if e["ev"] == "A")
    assert (first_value.ticker, first_value.value, first_value.timestamp) == (v["T"], v["val"], v["t"])
    assert (first_bar.symbol, first_bar.close, first_bar.start_timestamp, first_bar.volume) == (
        a["sym"],
        a["c"],
        a["s"],
        None,  # index bars carry no volume
    )


def test_official_client_raises_auth_error_on_wrong_key() -> None:
    async def scenario() -> None:
        config = ServerConfig(speed=0, api_key="right")
        async with ReplayServer({"indices": lambda: session_frames("indices")}, config) as server:
            with pytest.raises(AuthError, match="authentication failed"):
                await consume(server, "indices", ["V.I:SPX"], key="wrong")

    asyncio.run(scenario())


def test_subscriptions_filter_matches_the_test_filter() -> None:
    subs = Subscriptions()
    good, bad = Subscriptions.parse("A.*, V.I:SPX,junk")
    for topic in good:
        subs.add(topic)
    assert bad == ["junk"]
    frame = session_frames("indices")[200]
    cut = subs.filter(frame.data)
    assert cut is not None
    wanted = expected_events([frame], ["A.*", "V.I:SPX"])
    assert 0 < cut[1] == len(wanted) < len(json.loads(frame.data))  # the frame was cut
    assert json.loads(cut[0]) == wanted
    assert subs.filter(b'[{"ev":"T","sym":"SPY","p":1}]') is None
