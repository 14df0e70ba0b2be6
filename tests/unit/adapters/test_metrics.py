import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from scalper.adapters.metrics import FeedMetrics, MetricsServer, ParseErrorReason, ReconnectReason, start_http
from scalper.core.clock import ReplayClock
from scalper.core.errors import ConfigError

T0 = 1_735_828_200 * 1_000_000_000
S = 1_000_000_000


def scrape(server: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(server.url, timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(T0)


@pytest.fixture
def metrics(clock: ReplayClock) -> FeedMetrics:
    return FeedMetrics(clock)


@pytest.fixture
def server(metrics: FeedMetrics) -> Iterator[MetricsServer]:
    with start_http(metrics.registry, "127.0.0.1", 0) as srv:
        yield srv


def test_counters_and_gauges_are_served_over_http(metrics: FeedMetrics, server: MetricsServer) -> None:
    metrics.event("A", "I:SPX", 3)
    metrics.event("A", "I:SPX")
    metrics.event("T", "SPY", 2)
    metrics.parse_error(ParseErrorReason.BAD_JSON)
    metrics.reconnect(ReconnectReason.TIMEOUT)
    metrics.reconnect(ReconnectReason.TIMEOUT)
    metrics.set_queue_depth("frames", 17)
    metrics.wrote("agg_1s", 500, 0.02)
    metrics.wrote("agg_1s", 250, 3.0)
    metrics.set_spool_bytes(4096)
    metrics.gap_found(2)
    metrics.gap_filled()
    got = scrape(server)
    assert got[("scalper_feed_events_total", (("symbol", "I:SPX"), ("type", "A")))] == 4
    assert got[("scalper_feed_events_total", (("symbol", "SPY"), ("type", "T")))] == 2
    assert got[("scalper_feed_parse_errors_total", (("reason", "bad_json"),))] == 1
    assert got[("scalper_feed_reconnects_total", (("reason", "timeout"),))] == 2
    assert got[("scalper_queue_depth", (("queue", "frames"),))] == 17
    assert got[("scalper_store_rows_written_total", (("table", "agg_1s"),))] == 750
    assert got[("scalper_store_write_seconds_count", ())] == 2
    assert got[("scalper_store_write_seconds_sum", ())] == pytest.approx(3.02)
    assert got[("scalper_store_write_seconds_bucket", (("le", "0.025"),))] == 1
    assert got[("scalper_store_write_seconds_bucket", (("le", "+Inf"),))] == 2
    assert got[("scalper_spool_bytes", ())] == 4096
    assert got[("scalper_feed_gaps_found_total", ())] == 2
    assert got[("scalper_feed_gaps_filled_total", ())] == 1


def test_seconds_since_last_event_follows_the_clock(
    clock: ReplayClock, metrics: FeedMetrics, server: MetricsServer
) -> None:
    metrics.event("A", "I:SPX")
    clock.advance_to(T0 + 2 * S)
    metrics.event("A", "I:NDX")
    clock.advance_to(T0 + 7 * S + S // 2)
    got = scrape(server)
    key = "scalper_feed_seconds_since_last_event"
    assert got[(key, (("symbol", "I:SPX"),))] == 7.5
    assert got[(key, (("symbol", "I:NDX"),))] == 5.5
    clock.advance_to(T0 + 10 * S)
    metrics.event("A", "I:SPX")
    assert scrape(server)[(key, (("symbol", "I:SPX"),))] == 0.0


def test_label_values_beyond_the_bound_fold_into_other(clock: ReplayClock) -> None:
    metrics = FeedMetrics(clock, max_label_values=2)
    for sym in ("A", "B", "C", "D"):
        metrics.event("T", sym)
    value = metrics.registry.get_sample_value
    assert value("scalper_feed_events_total", {"type": "T", "symbol": "B"}) == 1
    assert value("scalper_feed_events_total", {"type": "T", "symbol": "other"}) == 2
    assert value("scalper_feed_events_total", {"type": "T", "symbol": "C"}) is None


def test_reasons_outside_the_enum_are_refused(metrics: FeedMetrics) -> None:
    with pytest.raises(ValueError, match="nonsense"):
        metrics.parse_error("nonsense")  # type: ignore[arg-type]


def test_metrics_stay_off_the_global_registry(clock: ReplayClock) -> None:
    a, b = FeedMetrics(clock), FeedMetrics(clock)  # two components never collide
    a.gap_found()
    assert b.registry.get_sample_value("scalper_feed_gaps_found_total") == 0
    assert REGISTRY.get_sample_value("scalper_feed_gaps_found_total") is None


def test_a_given_registry_is_used(clock: ReplayClock) -> None:
    registry = CollectorRegistry()
    FeedMetrics(clock, registry).set_spool_bytes(9)
    assert registry.get_sample_value("scalper_spool_bytes") == 9


def test_closing_the_server_frees_its_port_and_thread(metrics: FeedMetrics) -> None:
    before = threading.active_count()
    server = start_http(metrics.registry, "127.0.0.1", 0)
    port = server.port
    assert scrape(server)
    server.close()
    deadline = time.monotonic() + 5  # a request thread may still be finishing its socket
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    with start_http(metrics.registry, "127.0.0.1", port) as again:  # the port is free again
        assert again.port == port


def test_a_port_in_use_is_a_config_error(metrics: FeedMetrics, server: MetricsServer) -> None:
    with pytest.raises(ConfigError, match=f"127.0.0.1:{server.port}"):
        start_http(metrics.registry, "127.0.0.1", server.port)
