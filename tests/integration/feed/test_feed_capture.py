"""The feed consumer against the replay server and a real PostgreSQL: capture, reconnects, bad frames."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest

from scalper.adapters.feed.backoff import Backoff
from scalper.adapters.feed.capture import Capture
from scalper.adapters.feed.client import FeedClient, FeedSettings
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.polygon import Faults, ReplayServer, ServerConfig
from scalper.adapters.spool import Spool
from scalper.config.secrets import Secret
from scalper.core.clock import LiveClock
from scalper.core.errors import FeedAuthError
from scalper.core.events import MarketEvent, Quote, Trade
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.polygon_events import Frame, render_frames

FAST = Backoff(base_s=0.01, cap_s=0.05, long_s=0.05)
TOPICS = {"indices": ("A.I:SPX", "A.I:NDX", "AM.I:SPX", "V.I:SPX"), "stocks": ("A.SPY", "AM.SPY", "T.SPY", "Q.SPY")}


@cache
def frames(market: str, n: int = 1500) -> tuple[Frame, ...]:
    day = next(generate_market_days(date(2025, 3, 4), 1, seed=5))
    return tuple(render_frames(market, day))[:n]


def sent_seconds(market: str, first_frames: int | None = None) -> set[tuple[str, int, float]]:
    wanted = {t.split(".", 1)[1] for t in TOPICS[market] if t.startswith("A.")}
    out = set()
    for frame in frames(market)[:first_frames]:
        for e in json.loads(frame.data):
            if e["ev"] == "A" and e["sym"] in wanted:
                out.add((e["sym"], e["s"] * 1_000_000, e["c"]))
    return out


def stored_seconds(url: str) -> set[tuple[str, int, float]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT symbol, (extract(epoch FROM ts) * 1e9)::int8, close FROM agg_1s").fetchall()
    return {(r[0], int(r[1]), float(r[2])) for r in rows}


async def capture(
    url: str,
    market: str,
    faults: Faults,
    *,
    key: str = "k",
    until_connections: int = 1,
    timeout: float = 60,
    expect_frames: int | None = None,
    compression: Literal["none", "deflate"] = "none",
    engine: asyncio.Queue[list[MarketEvent]] | None = None,
    timeline: str = "replay",
) -> tuple[IngestPipeline, FeedClient, ReplayServer]:
    """Capture ``market`` from a replay server until every expected second is stored (or ``timeout``)."""
    config = ServerConfig(speed=0, api_key="k", faults=faults, timeline=timeline)
    async with ReplayServer({market: lambda: frames(market)}, config) as server:
        pipeline = IngestPipeline(
            lambda: psycopg.connect(url, autocommit=True), flush_interval_s=0.05, engine_queue=engine
        )
        settings = {
            market: FeedSettings(
                url=server.url(market),
                api_key=Secret(key),
                topics=TOPICS[market],
                backoff=FAST,
                compression=compression,
            )
        }
        expected = {(e[0], e[1]) for e in sent_seconds(market, expect_frames)}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with Capture(pipeline, settings, LiveClock(), market_open=lambda ns: False, seed=1) as cap:
            while loop.time() < deadline:
                await asyncio.sleep(0.1)
                cap.check()
                got = {(e[0], e[1]) for e in stored_seconds(url)}
                if server.sent(market).connections >= until_connections and expected <= got:
                    break
        return pipeline, cap.clients[market], server


@pytest.mark.parametrize("market", ["indices", "stocks"])
def test_every_second_sent_is_stored(db_url: str, market: str) -> None:
    pipeline, _, _ = asyncio.run(capture(db_url, market, Faults()))
    assert sent_seconds(market) <= stored_seconds(db_url)
    assert pipeline.stats.parse_errors == 0
    assert pipeline.stats.rows_written["agg_1s"] >= len(sent_seconds(market))


def _sent(market: str, ev: str, symbol: str) -> list[dict[str, Any]]:
    return [e for f in frames(market) for e in json.loads(f.data) if e["ev"] == ev and e["sym"] == symbol]


@pytest.mark.parametrize("compression", ["none", "deflate"])
def test_stocks_capture_stores_trades_quote_seconds_and_bars_exactly(
    db_url: str, compression: Literal["none", "deflate"]
) -> None:
    engine: asyncio.Queue[list[MarketEvent]] = asyncio.Queue()
    # Live timeline: a reconnect after the end of the stream does not replay it (a second's quotes re-sent in
    # part would rewrite its row with a partial count).
    pipeline, _, _ = asyncio.run(
        capture(db_url, "stocks", Faults(), compression=compression, engine=engine, timeline="live")
    )
    trades, quotes = _sent("stocks", "T", "SPY"), _sent("stocks", "Q", "SPY")
    with psycopg.connect(db_url) as conn:
        stored_trades = conn.execute(
            "SELECT (extract(epoch FROM ts) * 1e3)::int8, sequence, price, size, exchange, trade_id, conditions "
            "FROM trades WHERE symbol = 'SPY' ORDER BY ts, sequence"
        ).fetchall()
        stored_quotes = conn.execute(
            "SELECT (extract(epoch FROM ts))::int8, bid, bid_size, ask, ask_size, quotes "
            "FROM quotes_1s WHERE symbol = 'SPY' ORDER BY ts"
        ).fetchall()
        minutes = conn.execute("SELECT count(*) FROM bars WHERE symbol = 'SPY' AND timeframe = '1m'").fetchone()
    assert [tuple(r) for r in stored_trades] == sorted(
        (t["t"], t["q"], t["p"], t["s"], t["x"], t["i"], ",".join(map(str, t["c"]))) for t in trades
    )
    last_of_second: dict[int, tuple[Any, ...]] = {}  # the last NBBO of each second, and how many updates it had
    for q in quotes:
        second = q["t"] // 1000
        count = last_of_second.get(second, (0,) * 5)[-1] + 1
        last_of_second[second] = (q["bp"], q["bs"], q["ap"], q["as"], count)
    assert [tuple(r) for r in stored_quotes] == [(s, *v) for s, v in sorted(last_of_second.items())]
    assert minutes is not None and minutes[0] == len(_sent("stocks", "AM", "SPY"))
    received: list[MarketEvent] = []
    while not engine.empty():
        received.extend(engine.get_nowait())
    seen = {(e.ts_event // 10**6, e.sequence) for e in received if isinstance(e, Trade) and e.symbol == "SPY"}
    assert seen == {(t["t"], t["q"]) for t in trades}  # the engine got every trade
    latest = pipeline.cache.get("SPY", Quote)
    assert isinstance(latest, Quote) and latest.bid == quotes[-1]["bp"] and latest.ts_event == quotes[-1]["t"] * 10**6


def test_reconnects_after_abrupt_drops_and_loses_nothing(db_url: str) -> None:
    # Each connection replays from the start and is cut after 400 frames, abruptly (no close frame).
    _, client, server = asyncio.run(
        capture(db_url, "indices", Faults(drop_after_frames=400), until_connections=3, expect_frames=400)
    )
    assert server.sent("indices").connections >= 3
    assert sum(client.reconnects.values()) >= 2
    assert sent_seconds("indices", 400) <= stored_seconds(db_url)
    keys = [(s, t) for s, t, _ in stored_seconds(db_url)]
    assert len(keys) == len(set(keys))


def test_malformed_frames_are_counted_and_the_stream_continues(db_url: str) -> None:
    pipeline, _, server = asyncio.run(capture(db_url, "indices", Faults(malformed_every=50)))
    assert 0 < pipeline.stats.parse_errors <= server.sent("indices").malformed
    assert sent_seconds("indices") <= stored_seconds(db_url)


def test_corrected_bars_replace_the_first_print(db_url: str) -> None:
    asyncio.run(capture(db_url, "indices", Faults(correct_every=25, duplicate_every=30)))
    stored = stored_seconds(db_url)
    keys = [(s, t) for s, t, _ in stored]
    assert len(keys) == len(set(keys))  # nothing duplicated
    assert {(s, t) for s, t, _ in sent_seconds("indices")} <= set(keys)


def test_a_refused_key_is_fatal_and_not_retried(db_url: str) -> None:
    with pytest.raises(FeedAuthError, match="refused the API key"):
        asyncio.run(capture(db_url, "indices", Faults(), key="wrong", timeout=10))


def test_max_connections_backs_off_long(db_url: str) -> None:
    _, client, _ = asyncio.run(
        capture(db_url, "indices", Faults(max_connections_after_frames=200), until_connections=2, expect_frames=200)
    )
    assert client.reconnects.get("max_connections", 0) >= 1


def test_a_database_outage_spools_to_disk_and_loses_nothing(db_url: str, tmp_path: Path) -> None:
    """The writer's connection is killed and reconnects are refused for a while: batches go to the spool."""
    state = {"up": True, "spooled_max": 0}
    refused = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(db_url if state["up"] else refused, autocommit=True)

    async def scenario() -> IngestPipeline:
        config = ServerConfig(speed=200, api_key="k")  # 200 s of session a second: the outage spans data
        async with ReplayServer({"indices": lambda: frames("indices")}, config) as server:
            with Spool(tmp_path / "spool", max_bytes=50_000_000) as spool:
                pipeline = IngestPipeline(connect, flush_interval_s=0.05, spool=spool)
                settings = {
                    "indices": FeedSettings(
                        url=server.url("indices"), api_key=Secret("k"), topics=TOPICS["indices"], backoff=FAST
                    )
                }
                async with Capture(pipeline, settings, LiveClock(), market_open=lambda ns: False, seed=1):
                    await asyncio.sleep(1.0)
                    state["up"] = False
                    with psycopg.connect(db_url, autocommit=True) as admin:  # kill the writer's session
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    for _ in range(30):
                        await asyncio.sleep(0.1)
                        state["spooled_max"] = max(state["spooled_max"], spool.pending())
                    state["up"] = True
                    deadline = asyncio.get_running_loop().time() + 60
                    while asyncio.get_running_loop().time() < deadline:
                        await asyncio.sleep(0.2)
                        if server.sent("indices").frames >= len(frames("indices")) and spool.pending() == 0:
                            break
                assert spool.pending() == 0
                return pipeline

    pipeline = asyncio.run(scenario())
    assert state["spooled_max"] > 0  # the outage really happened and was spooled
    assert pipeline.stats.write_failures > 0
    assert sent_seconds("indices") <= stored_seconds(db_url)


@pytest.mark.parametrize(("market_open", "stalls"), [(True, True), (False, False)])
def test_silence_is_a_stall_only_while_the_market_is_open(db_url: str, market_open: bool, stalls: bool) -> None:
    async def scenario() -> FeedClient:
        config = ServerConfig(speed=0, api_key="k", faults=Faults(pause_after_frames=50, pause_s=2.0))
        async with ReplayServer({"indices": lambda: frames("indices")}, config) as server:
            pipeline = IngestPipeline(lambda: psycopg.connect(db_url, autocommit=True), flush_interval_s=0.1)
            settings = {
                "indices": FeedSettings(
                    url=server.url("indices"),
                    api_key=Secret("k"),
                    topics=TOPICS["indices"],
                    stall_after_s=0.5,
                    backoff=FAST,
                )
            }
            async with Capture(pipeline, settings, LiveClock(), market_open=lambda ns: market_open, seed=1) as cap:
                await asyncio.sleep(1.8)  # inside the 2 s pause
            return cap.clients["indices"]

    client = asyncio.run(scenario())
    assert (client.reconnects.get("stall", 0) >= 1) is stalls
