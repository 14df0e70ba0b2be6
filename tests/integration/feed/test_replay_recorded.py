"""Recorded sessions served from the database: the official client, our capture into a second database, REST."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, Iterator
from datetime import date
from functools import cache
from typing import Any

import psycopg
import pytest
from massive import RESTClient, WebSocketClient
from massive.websocket.models import EquityAgg, EquityQuote, EquityTrade, IndexValue

from scalper.adapters.feed.backoff import Backoff
from scalper.adapters.feed.capture import Capture
from scalper.adapters.feed.client import FeedSettings
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.polygon import ReplayServer, ServerConfig
from scalper.adapters.polygon.recorded import Connect, RecordedDays, day_bounds_ns, recorded_sources
from scalper.adapters.polygon.replay_rest import RestApi
from scalper.adapters.polygon.testing import running_in_thread
from scalper.adapters.store.migrations import migrate
from scalper.adapters.store.tables import AGG_1S, BARS, OPTION_SNAPSHOTS, QUOTES_1S, TRADES
from scalper.adapters.store.writer import BulkWriter
from scalper.config.secrets import Secret
from scalper.core.clock import LiveClock
from scalper.core.timeutil import NS_PER_S
from scalper.synthetic import columns
from scalper.synthetic.market import MarketConfig, MarketDay, generate_market_days
from scalper.synthetic.options import generate_option_day
from scalper.synthetic.polygon_events import MAX_FRAME_EVENTS, Frame, frame_send_ms

DAY = date(2024, 3, 5)
KEY = "recorded-key"
FAST = Backoff(base_s=0.01, cap_s=0.05, long_s=0.05)
TOPICS = {"indices": ("V.*", "A.*", "AM.*"), "stocks": ("T.*", "Q.*", "A.*", "AM.*")}

# What the store holds, read independently of the module under test.
SECONDS_SQL = (
    "SELECT symbol, (extract(epoch FROM ts) * 1000)::int8, open, high, low, close, volume, vwap FROM agg_1s "
    "WHERE {} ORDER BY symbol, ts"
)
MINUTES_SQL = SECONDS_SQL.replace("FROM agg_1s WHERE", "FROM bars WHERE timeframe = '1m' AND")
TRADES_SQL = (
    "SELECT symbol, (extract(epoch FROM date_trunc('milliseconds', ts)) * 1000)::int8, sequence, price, size, "
    "exchange, trade_id, conditions, tape FROM trades ORDER BY symbol, ts, sequence"
)
QUOTES_SQL = "SELECT symbol, (extract(epoch FROM ts) * 1000)::int8, bid, bid_size, ask, ask_size FROM quotes_1s"
INDEX = "symbol LIKE 'I:%'"
STOCK = "symbol NOT LIKE 'I:%'"


@cache
def market_day() -> MarketDay:
    config = MarketConfig(trades_per_second=1.0, quotes_per_second=1.0)  # a full session, modest volume
    return next(generate_market_days(DAY, 1, seed=3, config=config))


def record(url: str) -> None:
    """Write the synthetic session to the store, as the flat-file loader or a capture would."""
    day = market_day()
    batches = [
        (AGG_1S, columns.seconds(day)),
        (BARS, columns.bars(day)),
        (TRADES, columns.trades(day)),
        (QUOTES_1S, columns.quotes_1s(day)),
        (OPTION_SNAPSHOTS, columns.option_snapshots(generate_option_day(day, 3))),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        writer = BulkWriter(conn)
        for spec, batch in batches:
            writer.write(spec, batch)


def connector(url: str) -> Connect:
    return lambda: psycopg.connect(url, autocommit=True)


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def recorded(db_url: str) -> str:
    record(db_url)
    return db_url


# --- frames ---------------------------------------------------------------------------------------
async def collect(url: str, market: str, window_s: int) -> list[Frame]:
    source = recorded_sources(connector(url), [DAY], window_s=window_s)[market]
    frames = source()
    assert isinstance(frames, AsyncIterable)  # read from the store on the fly, not a ready list
    return [frame async for frame in frames]


@pytest.mark.parametrize("market", ["indices", "stocks"])
def test_frames_follow_the_send_time_rule_whatever_the_read_window(recorded: str, market: str) -> None:
    frames = asyncio.run(collect(recorded, market, window_s=300))
    narrow = asyncio.run(collect(recorded, market, window_s=20))
    assert frames == narrow  # reading in 20-second windows changes nothing
    assert [f.send_ns for f in frames] == sorted(f.send_ns for f in frames)
    for frame in frames:
        events = json.loads(frame.data)
        assert len(events) == frame.events <= MAX_FRAME_EVENTS
        assert all(frame_send_ms([e]) * 1_000_000 == frame.send_ns for e in events)
    stored = len(rows(recorded, SECONDS_SQL.format(INDEX if market == "indices" else STOCK)))
    per_second = {"indices": ("A", "V"), "stocks": ("A",)}[market]
    sent = [e["ev"] for f in frames for e in json.loads(f.data)]
    assert all(sent.count(ev) == stored for ev in per_second)


def test_a_date_without_records_serves_nothing(recorded: str) -> None:
    async def scenario() -> list[Frame]:
        frames = recorded_sources(connector(recorded), [date(2024, 3, 6)])["stocks"]()
        assert isinstance(frames, AsyncIterable)
        return [frame async for frame in frames]

    assert asyncio.run(scenario()) == []


# --- the official client ------------------------------------------------------------------------
async def consume_official(url: str, market: str) -> list[Any]:
    received: list[Any] = []

    async def handler(models: list[Any]) -> None:
        received.extend(models)

    async with ReplayServer(recorded_sources(connector(url), [DAY]), ServerConfig(speed=0, api_key=KEY)) as server:
        client = WebSocketClient(
            api_key=KEY,
            feed=f"127.0.0.1:{server.port}",
            market=market,
            secure=False,
            subscriptions=list(TOPICS[market]),
            max_reconnects=0,
        )
        await asyncio.wait_for(client.connect(handler), timeout=120)
    return received


def aggs(models: list[Any], width_ms: int) -> list[tuple[Any, ...]]:
    picked = [m for m in models if isinstance(m, EquityAgg) and m.end_timestamp - m.start_timestamp == width_ms]
    return sorted((m.symbol, m.start_timestamp, m.open, m.high, m.low, m.close, m.volume, m.vwap) for m in picked)


def test_official_client_receives_every_recorded_index_second_minute_and_value(recorded: str) -> None:
    models = asyncio.run(consume_official(recorded, "indices"))
    seconds = rows(recorded, SECONDS_SQL.format(INDEX))
    assert aggs(models, 1_000) == sorted(seconds)
    assert aggs(models, 60_000) == sorted(rows(recorded, MINUTES_SQL.format(INDEX)))
    values = sorted((m.ticker, m.timestamp, m.value) for m in models if isinstance(m, IndexValue))
    assert values == sorted((r[0], r[1] + 999, r[5]) for r in seconds)  # the second's close at its last ms
    assert {type(m) for m in models} == {EquityAgg, IndexValue}


def test_official_client_receives_every_recorded_stock_trade_quote_and_bar(recorded: str) -> None:
    models = asyncio.run(consume_official(recorded, "stocks"))
    assert aggs(models, 1_000) == sorted(rows(recorded, SECONDS_SQL.format(STOCK)))
    assert aggs(models, 60_000) == sorted(rows(recorded, MINUTES_SQL.format(STOCK)))
    trades = sorted(
        (
            t.symbol,
            t.timestamp,
            t.sequence_number,
            t.price,
            t.size,
            t.exchange,
            t.id,
            ",".join(map(str, t.conditions)),
            t.tape,
        )
        for t in models
        if isinstance(t, EquityTrade)
    )
    assert trades == sorted(rows(recorded, TRADES_SQL))
    quotes = sorted(
        (q.symbol, q.timestamp - 999, q.bid_price, q.bid_size, q.ask_price, q.ask_size)
        for q in models
        if isinstance(q, EquityQuote)
    )
    assert quotes == sorted(rows(recorded, QUOTES_SQL))
    assert all(q.bid_exchange_id is None and q.tape is None for q in models if isinstance(q, EquityQuote))


# --- our capture into a second database ---------------------------------------------------------
def counts(url: str) -> tuple[int, ...]:
    queries = (
        "SELECT count(*) FROM agg_1s",
        "SELECT count(*) FROM bars WHERE timeframe = '1m'",
        "SELECT count(*) FROM trades",
        "SELECT count(*) FROM quotes_1s",
    )
    with psycopg.connect(url) as conn:
        return tuple(int(conn.execute(q).fetchone()[0]) for q in queries)  # type: ignore[index]


async def capture(source_url: str, target_url: str) -> None:
    """Capture both markets from the recorded replay until the target holds as many rows as the source."""
    want = counts(source_url)
    config = ServerConfig(speed=0, api_key=KEY)
    async with ReplayServer(recorded_sources(connector(source_url), [DAY]), config) as server:
        pipeline = IngestPipeline(connector(target_url), flush_interval_s=0.05)
        settings = {
            market: FeedSettings(url=server.url(market), api_key=Secret(KEY), topics=TOPICS[market], backoff=FAST)
            for market in ("indices", "stocks")
        }
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180
        async with Capture(pipeline, settings, LiveClock(), market_open=lambda ns: False, seed=1) as cap:
            while loop.time() < deadline:
                await asyncio.sleep(0.2)
                cap.check()
                got = counts(target_url)
                # quotes of each symbol's last second are written when the capture stops
                if got[:3] == want[:3] and got[3] >= want[3] - 2:
                    break
        assert pipeline.stats.parse_errors == 0


def test_capture_stores_exactly_the_recorded_session_in_a_second_database(recorded: str, empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        migrate(conn)
    asyncio.run(capture(recorded, empty_db_url))
    assert counts(empty_db_url) == counts(recorded)
    every = "TRUE"
    assert rows(empty_db_url, SECONDS_SQL.format(every)) == rows(recorded, SECONDS_SQL.format(every))
    assert rows(empty_db_url, MINUTES_SQL.format(every)) == rows(recorded, MINUTES_SQL.format(every))
    assert rows(empty_db_url, TRADES_SQL) == rows(recorded, TRADES_SQL)
    ordered = QUOTES_SQL + " ORDER BY symbol, ts"
    assert rows(empty_db_url, ordered) == rows(recorded, ordered)
    assert rows(empty_db_url, "SELECT DISTINCT quotes FROM quotes_1s") == [(1,)]  # one NBBO per second was sent


# --- REST -------------------------------------------------------------------------------------------
@pytest.fixture
def rest_server(recorded: str) -> Iterator[ReplayServer]:
    server = ReplayServer({}, ServerConfig(api_key=KEY), RestApi(RecordedDays(connector(recorded), [DAY]), KEY))
    with running_in_thread(server):
        yield server


def rest_rows(server: ReplayServer, ticker: str, timespan: str, limit: int, sort: str = "asc") -> list[tuple[Any, ...]]:
    client = RESTClient(api_key=KEY, base=server.http_url, retries=0)
    got = client.list_aggs(ticker, 1, timespan, DAY.isoformat(), DAY.isoformat(), limit=limit, sort=sort)
    return [(a.timestamp, a.open, a.high, a.low, a.close, a.volume, a.vwap, a.transactions) for a in got]


def stored_aggs(url: str, table: str, ticker: str) -> list[tuple[Any, ...]]:
    frame = "AND timeframe = '1m'" if table == "bars" else ""
    return rows(
        url,
        f"SELECT (extract(epoch FROM ts) * 1000)::int8, open, high, low, close, volume, vwap, trades FROM {table} "
        f"WHERE symbol = '{ticker}' {frame} ORDER BY ts",
    )


@pytest.mark.parametrize(
    ("ticker", "timespan", "table", "limit"),
    [("I:SPX", "second", "agg_1s", 5_000), ("QQQ", "second", "agg_1s", 2_000), ("SPY", "minute", "bars", 100)],
)
def test_official_rest_client_pages_through_exactly_the_recorded_rows(
    recorded: str, rest_server: ReplayServer, ticker: str, timespan: str, table: str, limit: int
) -> None:
    stored = stored_aggs(recorded, table, ticker)
    assert len(stored) > 3 * limit  # several pages
    if ticker.startswith("I:"):  # index aggregates carry no volume, VWAP or transactions
        stored = [(*r[:5], None, None, None) for r in stored]
    assert rest_rows(rest_server, ticker, timespan, limit) == stored
    assert rest_rows(rest_server, ticker, timespan, limit, sort="desc") == stored[::-1]
    assert rest_server.rest is not None
    pages = [path for path, code in rest_server.rest.log if code == 200]
    assert len(pages) == 2 * -(-len(stored) // limit)  # both sort orders, every page once


def grouped(bars: list[tuple[Any, ...]], width_ms: int) -> list[tuple[Any, ...]]:
    """(t, o, h, l, c, v, n) of epoch-aligned windows of ``width_ms`` over stored bars, and their VWAP."""
    windows: dict[int, list[tuple[Any, ...]]] = {}
    for bar in bars:
        windows.setdefault(bar[0] // width_ms * width_ms, []).append(bar)
    out = []
    for start, group in sorted(windows.items()):
        volume = sum(b[5] for b in group)
        ohlc = (group[0][1], max(b[2] for b in group), min(b[3] for b in group), group[-1][4])
        out.append((start, *ohlc, volume, sum(b[7] for b in group), sum(b[5] * b[6] for b in group) / volume))
    return out


@pytest.mark.parametrize(("multiplier", "timespan", "table"), [(5, "minute", "bars"), (15, "second", "agg_1s")])
def test_wider_windows_group_the_recorded_bars(
    recorded: str, rest_server: ReplayServer, multiplier: int, timespan: str, table: str
) -> None:
    client = RESTClient(api_key=KEY, base=rest_server.http_url, retries=0)
    got = list(client.list_aggs("SPY", multiplier, timespan, DAY.isoformat(), DAY.isoformat(), limit=50_000))
    want = grouped(stored_aggs(recorded, table, "SPY"), multiplier * {"minute": 60_000, "second": 1_000}[timespan])
    assert len(got) == len(want) > 70
    for bar, row in zip(got, want, strict=True):
        assert (bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.transactions) == row[:7]
        assert bar.vwap == pytest.approx(row[7], rel=1e-9)


def test_chain_snapshot_answers_the_recorded_chain_or_nothing(recorded: str, rest_server: ReplayServer) -> None:
    client = RESTClient(api_key=KEY, base=rest_server.http_url, retries=0)
    stored = rows(recorded, "SELECT ticker, strike, bid, ask, iv FROM option_snapshots WHERE underlying = 'I:SPX'")
    for name in ("SPX", "I:SPX"):
        got = list(client.list_snapshot_options_chain(name, params={"limit": 250}))
        served = [
            (s.details.ticker, s.details.strike_price, s.last_quote.bid, s.last_quote.ask, s.implied_volatility)
            for s in got
        ]
        assert sorted(served) == sorted(stored) and len(served) > 250
    assert list(client.list_snapshot_options_chain("QQQ")) == []


def test_rest_serves_only_the_served_dates(recorded: str) -> None:
    lo, hi = day_bounds_ns(DAY)
    elsewhere = RecordedDays(connector(recorded), [date(2024, 3, 6)])
    assert elsewhere.agg_rows("SPY", NS_PER_S, lo, hi, descending=False, limit=10) == []
    assert elsewhere.chain_results("SPX") == []
    served = RecordedDays(connector(recorded), [DAY])
    first = served.agg_rows("SPY", NS_PER_S, lo, hi, descending=False, limit=10)
    assert [r["t"] for r in first] == [r[0] for r in stored_aggs(recorded, "agg_1s", "SPY")[:10]]
