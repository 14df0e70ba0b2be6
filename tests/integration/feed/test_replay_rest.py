"""The replay server's REST API, driven by the official ``massive.RESTClient`` and by raw HTTP."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pytest
from massive import RESTClient

from scalper.adapters.polygon.faults import Faults
from scalper.adapters.polygon.replay_rest import RestApi, SyntheticDays
from scalper.adapters.polygon.replay_server import ReplayServer, ServerConfig
from scalper.adapters.polygon.testing import running_in_thread
from scalper.marketdata.aggregate import TradeBars, ValueBars
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS, MarketDay
from scalper.synthetic.polygon_events import snapshot_results

DAY = date(2024, 3, 5)
KEY = "replay-key"
DATA = SyntheticDays(DAY, 1, seed=3)


@contextlib.contextmanager
def running(faults: Faults | None = None) -> Iterator[ReplayServer]:
    """A REST-serving replay server on its own event loop in a thread (the clients here are sync)."""
    server = ReplayServer({}, ServerConfig(api_key=KEY, faults=faults or Faults()), RestApi(DATA, KEY))
    with running_in_thread(server):
        yield server


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with running() as srv:
        yield srv


def get(server: ReplayServer, target: str, key: str | None = KEY) -> tuple[int, dict[str, Any]]:
    """Raw ``GET`` (Bearer auth unless ``key`` is None): status and decoded JSON body."""
    request = urllib.request.Request(server.http_url + target)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def day() -> MarketDay:
    return DATA.days()[0]


def expected_rows(ticker: str, bars: ValueBars) -> list[tuple[float, ...]]:
    """(t ms, o, h, l, c[, v, n]) of ``ticker`` straight from the synthetic day's bars."""
    index = ticker in INDEX_TICKERS
    code = (INDEX_TICKERS if index else STOCK_TICKERS).index(ticker)
    rows = []
    for i in np.flatnonzero(bars.symbol == code).tolist():
        ohlc = (float(a[i]) for a in (bars.open, bars.high, bars.low, bars.close))
        row: tuple[float, ...] = (int(bars.start_ns[i]) // 10**6, *ohlc)
        if isinstance(bars, TradeBars):
            row += (float(bars.volume[i]), int(bars.transactions[i]))
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("ticker", "timespan", "limit"),
    [("I:SPX", "second", 5_000), ("SPY", "second", 5_000), ("I:NDX", "minute", 100), ("QQQ", "minute", 100)],
)
def test_official_client_pages_through_exactly_the_days_bars(
    server: ReplayServer, ticker: str, timespan: str, limit: int
) -> None:
    client = RESTClient(api_key=KEY, base=server.http_url, retries=0)
    got = list(client.list_aggs(ticker, 1, timespan, "2024-03-05", "2024-03-05", limit=limit))
    bars = {
        "second": day().index_seconds if ticker.startswith("I:") else day().stock_seconds,
        "minute": day().index_minutes if ticker.startswith("I:") else day().stock_minutes,
    }[timespan]
    want = expected_rows(ticker, bars)
    assert len(want) > 3 * limit  # several pages
    rows = []
    for agg in got:
        row: tuple[float, ...] = (agg.timestamp, agg.open, agg.high, agg.low, agg.close)
        if not ticker.startswith("I:"):
            row += (agg.volume, agg.transactions)
        else:
            assert agg.volume is None and agg.vwap is None
        rows.append(row)
    assert rows == want


def test_multiplier_windows_equal_bars_built_from_the_trades(server: ReplayServer) -> None:
    status, body = get(server, "/v2/aggs/ticker/SPY/range/5/minute/2024-03-05/2024-03-05?limit=50000")
    assert status == 200
    minutes = expected_rows("SPY", day().stock_minutes)
    assert body["resultsCount"] == 78  # 390 minutes / 5
    first, five = body["results"][0], minutes[:5]
    assert (first["t"], first["o"], first["c"]) == (five[0][0], five[0][1], five[-1][4])
    assert first["h"] == max(m[2] for m in five) and first["l"] == min(m[3] for m in five)
    assert first["v"] == sum(m[5] for m in five) and first["n"] == sum(m[6] for m in five)


def test_aggregate_bodies_have_the_exact_keys_and_the_last_page_has_no_next_url(server: ReplayServer) -> None:
    target = "/v2/aggs/ticker/SPY/range/1/minute/2024-03-05/2024-03-05?limit=300"
    status, page1 = get(server, target)
    assert status == 200
    assert set(page1) == {
        "ticker",
        "queryCount",
        "resultsCount",
        "adjusted",
        "status",
        "request_id",
        "results",
        "next_url",
    }
    assert page1["status"] == "OK" and page1["resultsCount"] == 300 == len(page1["results"])
    assert set(page1["results"][0]) == {"o", "h", "l", "c", "v", "vw", "n", "t"}
    assert page1["next_url"].startswith(server.http_url)
    status, page2 = get(server, page1["next_url"][len(server.http_url) :])
    assert status == 200 and page2["resultsCount"] == 90 and "next_url" not in page2
    _, index = get(server, "/v2/aggs/ticker/I:SPX/range/1/day/2024-03-05/2024-03-05")
    assert set(index["results"][0]) == {"o", "h", "l", "c", "t"} and "next_url" not in index


def test_descending_sort_with_ms_bounds_returns_the_newest_first(server: ReplayServer) -> None:
    start_ms = expected_rows("I:SPX", day().index_minutes)[0][0]
    target = f"/v2/aggs/ticker/I:SPX/range/1/minute/{start_ms}/{start_ms + 9 * 60_000}?sort=desc&apiKey={KEY}"
    status, body = get(server, target, key=None)
    assert status == 200
    assert [r["t"] for r in body["results"]] == [start_ms + k * 60_000 for k in range(9, -1, -1)]


def test_official_client_lists_the_filtered_chain_across_pages(server: ReplayServer) -> None:
    client = RESTClient(api_key=KEY, base=server.http_url, retries=0)
    params = {"strike_price.gte": 560, "strike_price.lte": 570, "contract_type": "call", "limit": 7}
    got = list(client.list_snapshot_options_chain("SPY", params=params))
    every = snapshot_results(DATA.options(day()), day(), 1)
    want = [
        r["details"]["ticker"]
        for r in every
        if 560 <= r["details"]["strike_price"] <= 570 and r["details"]["contract_type"] == "call"
    ]
    assert len(want) > 2 * 7
    assert [c.details.ticker for c in got] == want


@pytest.mark.parametrize("underlying", ["SPX", "I:SPX"])
def test_spx_chain_answers_under_both_names(server: ReplayServer, underlying: str) -> None:
    expiry = str(DATA.options(day()).chain.expiry[0])
    status, body = get(server, f"/v3/snapshot/options/{underlying}?expiration_date={expiry}&limit=250")
    assert status == 200 and body["results"]
    assert {r["details"]["expiration_date"] for r in body["results"]} == {expiry}
    assert body["results"][0]["underlying_asset"]["ticker"] == "I:SPX"


@pytest.mark.parametrize(
    ("target", "key", "code", "needle"),
    [
        ("/v2/aggs/ticker/SPY/range/1/minute/2024-03-05/2024-03-05", None, 401, "not provided"),
        ("/v2/aggs/ticker/SPY/range/1/minute/2024-03-05/2024-03-05", "wrong", 401, "Unknown API Key"),
        ("/v2/aggs/ticker/SPY/range/1/fortnight/2024-03-05/2024-03-05", KEY, 400, "timespan"),
        ("/v2/aggs/ticker/SPY/range/1/minute/yesterday/2024-03-05", KEY, 400, "from"),
        ("/v2/aggs/ticker/SPY/range/1/minute/2024-03-05/2024-03-05?limit=-1", KEY, 400, "limit"),
        ("/v2/aggs/ticker/SPY/range/2/day/2024-03-05/2024-03-05", KEY, 400, "multiplier"),
        ("/v3/snapshot/options/SPY?limit=251", KEY, 400, "limit"),
        ("/v3/snapshot/options/SPY?strike_price.gte=abc", KEY, 400, "strike_price.gte"),
        ("/v3/snapshot/options/SPY?contract_type=straddle", KEY, 400, "contract_type"),
        ("/v2/nothing/here", KEY, 404, "route"),
    ],
)
def test_errors_answer_with_the_error_body(
    server: ReplayServer, target: str, key: str | None, code: int, needle: str
) -> None:
    status, body = get(server, target, key)
    assert status == code
    assert set(body) == {"status", "request_id", "error"} and body["status"] == "ERROR"
    assert needle in body["error"]


def test_rate_limit_answers_429_for_the_configured_requests_then_serves_again() -> None:
    target = "/v2/aggs/ticker/SPY/range/1/day/2024-03-05/2024-03-05"
    with running(Faults(rest_rate_limit_after=2, rest_rate_limit_count=3)) as srv:
        codes = [get(srv, target)[0] for _ in range(7)]
    assert codes == [200, 200, 429, 429, 429, 200, 200]


def test_rate_limit_body_is_an_error_body() -> None:
    with running(Faults(rest_rate_limit_after=0)) as srv:
        status, body = get(srv, "/v3/snapshot/options/SPY")
    assert status == 429
    assert body["status"] == "ERROR" and "exceeded" in body["error"] and body["request_id"]


def test_forbidden_refuses_index_aggregates_but_serves_stocks() -> None:
    with running(Faults(rest_forbidden=True)) as srv:
        index_status, body = get(srv, "/v2/aggs/ticker/I:SPX/range/1/minute/2024-03-05/2024-03-05")
        stock_status, _ = get(srv, "/v2/aggs/ticker/SPY/range/1/minute/2024-03-05/2024-03-05")
    assert (index_status, stock_status) == (403, 200)
    assert body["status"] == "NOT_AUTHORIZED" and "not entitled" in body["message"]
