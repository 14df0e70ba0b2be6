"""``PolygonRest`` against the replay server: typed values, retries on 429, clear auth failures."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest

from scalper.adapters.polygon.faults import Faults
from scalper.adapters.polygon.replay_rest import RestApi, SyntheticDays
from scalper.adapters.polygon.replay_server import ReplayServer, ServerConfig
from scalper.adapters.polygon.rest import PolygonRest, RetryPolicy
from scalper.adapters.polygon.testing import running_in_thread
from scalper.core.errors import FeedAuthError, FeedError
from scalper.core.events import MinuteAgg, SecondAgg
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS

KEY = "secret-key-123"
DATA = SyntheticDays(date(2024, 3, 5), 1, seed=3)
FAST = RetryPolicy(attempts=4, base_s=0.001, max_s=0.01)


@contextlib.contextmanager
def running(faults: Faults | None = None) -> Iterator[ReplayServer]:
    """A REST-serving replay server on its own event loop in a thread (the client is sync)."""
    server = ReplayServer({}, ServerConfig(api_key=KEY, faults=faults or Faults()), RestApi(DATA, KEY))
    with running_in_thread(server):
        yield server


def client(server: ReplayServer, key: str = KEY, delays: list[float] | None = None) -> PolygonRest:
    sleep = delays.append if delays is not None else (lambda _s: None)
    return PolygonRest(key, base_url=server.http_url, retry=FAST, sleep=sleep, rng=random.Random(1))


def session_bounds() -> tuple[int, int]:
    window = DATA.days()[0].window
    return window.open_ns, window.close_ns - 1


def test_second_aggs_of_an_index_equal_the_days_bars_without_volume() -> None:
    start, end = session_bounds()
    with running() as server:
        bars = client(server).second_aggs("I:SPX", start, end)
    seconds = DATA.days()[0].index_seconds
    rows = np.flatnonzero(seconds.symbol == INDEX_TICKERS.index("I:SPX"))
    assert all(isinstance(b, SecondAgg) for b in bars) and len(bars) == rows.size > 20_000
    assert [b.ts_event for b in bars] == seconds.start_ns[rows].tolist()
    assert [b.close for b in bars] == seconds.close[rows].tolist()
    assert all(b.ts_end == b.ts_event + 10**9 and b.volume is None and b.vwap is None for b in bars)


def test_minute_aggs_of_a_stock_carry_volume_and_vwap() -> None:
    start, end = session_bounds()
    with running() as server:
        bars = client(server).minute_aggs("QQQ", start, end)
    minutes = DATA.days()[0].stock_minutes
    rows = np.flatnonzero(minutes.symbol == STOCK_TICKERS.index("QQQ"))
    assert all(isinstance(b, MinuteAgg) for b in bars) and len(bars) == rows.size == 390
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == list(
        zip(
            minutes.open[rows].tolist(),
            minutes.high[rows].tolist(),
            minutes.low[rows].tolist(),
            minutes.close[rows].tolist(),
            minutes.volume[rows].tolist(),
            strict=True,
        )
    )
    assert bars[0].ts_end - bars[0].ts_event == 60 * 10**9 and bars[0].vwap == pytest.approx(minutes.vwap[rows[0]])


def test_options_snapshot_returns_the_raw_filtered_results() -> None:
    with running() as server:
        results = client(server).options_snapshot("I:SPX", strike_price_gte=5600, strike_price_lte=5650)
    assert results and all(5600 <= r["details"]["strike_price"] <= 5650 for r in results)
    assert {"greeks", "last_quote", "underlying_asset", "day"} <= set(results[0])


def test_rate_limited_requests_are_retried_with_backoff_then_succeed() -> None:
    start, end = session_bounds()
    delays: list[float] = []
    with running(Faults(rest_rate_limit_after=0, rest_rate_limit_count=2)) as server:
        bars = client(server, delays=delays).minute_aggs("SPY", start, end)
        statuses = [status for _, status in server.rest.log] if server.rest else []
    assert len(bars) == 390
    assert statuses == [429, 429, 200]
    assert len(delays) == 2 and delays[1] > delays[0] > 0  # exponential (jitter at most +-50%)


def test_rate_limit_that_outlasts_the_attempts_is_a_feed_error() -> None:
    start, end = session_bounds()
    with running(Faults(rest_rate_limit_after=0, rest_rate_limit_count=100)) as server:
        with pytest.raises(FeedError, match="429 after 4 attempts") as info:
            client(server).minute_aggs("SPY", start, end)
        assert server.rest is not None and len(server.rest.log) == FAST.attempts
    assert not isinstance(info.value, FeedAuthError)


def test_forbidden_index_data_is_an_auth_error_without_retries() -> None:
    start, end = session_bounds()
    with running(Faults(rest_forbidden=True)) as server:
        with pytest.raises(FeedAuthError, match="not entitled: real-time index data needs an indices plan") as info:
            client(server).second_aggs("I:NDX", start, end)
        assert server.rest is not None and [status for _, status in server.rest.log] == [403]
    assert KEY not in str(info.value)


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key() -> None:
    with running() as server, pytest.raises(FeedAuthError, match="401") as info:
        client(server, key="wrong-key-456").options_snapshot("SPY")
    assert "wrong-key-456" not in str(info.value) and KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is not None  # raised "from None"


def test_bad_parameters_are_a_feed_error_naming_status_and_url() -> None:
    with running() as server, pytest.raises(FeedError, match=r"HTTP 400 at http://127\.0\.0\.1:\d+/v3/snapshot"):
        client(server).options_snapshot("SPY", contract_type="straddle")
