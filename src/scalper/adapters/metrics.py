"""Prometheus metrics of the feed/ingest process, and the HTTP endpoint that serves them.

Metrics live on a :class:`CollectorRegistry` the caller owns (a fresh one by default, never the
process-global registry), so tests and several components never collide. Label sets stay bounded:
reasons are fixed enums, and symbols / event types / queues / tables beyond ``max_label_values``
distinct values are folded into ``"other"``. "Seconds since the last event" is computed at scrape
time from the last event's arrival on the injected :class:`Clock`, so it keeps growing while the
feed is silent (which is what an alert wants) and follows a ``ReplayClock`` in tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scalper.adapters.feed.reasons import ParseErrorReason, ReconnectReason
from scalper.core.clock import Clock
from scalper.core.errors import ConfigError

OTHER = "other"
__all__ = ["FeedMetrics", "MetricsServer", "ParseErrorReason", "ReconnectReason", "TradingMetrics", "start_http"]
_NS = 1_000_000_000
DECISION_LATENCY_BUCKETS = (25e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3)
WRITE_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Bounded:
    """Passes the first ``limit`` distinct label values through, folds the rest into ``other``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


class _SinceLastEvent(Collector):
    """Gauge per symbol, computed at scrape time: clock now minus the last event's arrival."""

    NAME = "scalper_feed_seconds_since_last_event"

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()  # scrapes run on the HTTP server's threads

    def mark(self, symbol: str, now_ns: int) -> None:
        with self._lock:
            self._last[symbol] = now_ns

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.NAME, "Seconds since the last feed event, by symbol", labels=["symbol"])
        now = self._clock.now_ns()
        with self._lock:
            last = dict(self._last)
        for symbol, ts in sorted(last.items()):
            family.add_metric([symbol], max(now - ts, 0) / _NS)
        yield family

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(self.NAME, "Seconds since the last feed event, by symbol", labels=["symbol"])


class FeedMetrics:
    """Every metric the feed and ingest path report, registered on one registry."""

    def __init__(self, clock: Clock, registry: CollectorRegistry | None = None, *, max_label_values: int = 32) -> None:
        if max_label_values < 1:
            raise ConfigError(f"metrics: max_label_values must be at least 1, was {max_label_values}")
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._symbol, self._type = _Bounded(max_label_values), _Bounded(max_label_values)
        self._queue, self._table = _Bounded(max_label_values), _Bounded(max_label_values)
        r = self.registry
        self.events = Counter("scalper_feed_events", "Feed events received", ["type", "symbol"], registry=r)
        self.parse_errors = Counter("scalper_feed_parse_errors", "Unparseable feed messages", ["reason"], registry=r)
        self.reconnects = Counter("scalper_feed_reconnects", "Feed reconnects", ["reason"], registry=r)
        self.queue_depth = Gauge("scalper_queue_depth", "Items waiting in a queue", ["queue"], registry=r)
        self.rows_written = Counter("scalper_store_rows_written", "Rows written to the database", ["table"], registry=r)
        self.write_latency = Histogram(
            "scalper_store_write_seconds", "Latency of one bulk write", buckets=WRITE_LATENCY_BUCKETS, registry=r
        )
        self.spool_bytes = Gauge("scalper_spool_bytes", "Bytes waiting in the disk spool", registry=r)
        self.gaps_found = Counter("scalper_feed_gaps_found", "Gaps found in the captured data", registry=r)
        self.gaps_filled = Counter("scalper_feed_gaps_filled", "Gaps filled by a backfill", registry=r)
        self._since = _SinceLastEvent(clock)
        self._event_children: dict[tuple[str, str], tuple[Any, str]] = {}
        r.register(self._since)

    def event(self, event_type: str, symbol: str, n: int = 1) -> None:
        """Count ``n`` events of one type for one symbol, and note they arrived now (called per frame:
        the labelled child is looked up once per type and symbol, not per call)."""
        found = self._event_children.get((event_type, symbol))
        if found is None:
            sym = self._symbol(symbol)
            found = self._event_children[(event_type, symbol)] = (
                self.events.labels(type=self._type(event_type), symbol=sym),
                sym,
            )
        child, sym = found
        child.inc(n)
        self._since.mark(sym, self._clock.now_ns())

    def parse_error(self, reason: ParseErrorReason) -> None:
        self.parse_errors.labels(reason=ParseErrorReason(reason).value).inc()

    def reconnect(self, reason: ReconnectReason) -> None:
        self.reconnects.labels(reason=ReconnectReason(reason).value).inc()

    def set_queue_depth(self, queue: str, depth: int) -> None:
        self.queue_depth.labels(queue=self._queue(queue)).set(depth)

    def wrote(self, table: str, rows: int, seconds: float) -> None:
        """Record one bulk write: rows written and how long it took."""
        self.rows_written.labels(table=self._table(table)).inc(rows)
        self.write_latency.observe(seconds)

    def set_spool_bytes(self, n: int) -> None:
        self.spool_bytes.set(n)

    def gap_found(self, n: int = 1) -> None:
        self.gaps_found.inc(n)

    def gap_filled(self, n: int = 1) -> None:
        self.gaps_filled.inc(n)


class TradingMetrics:
    """The trading engine's state for Prometheus, on the feed's registry: set from a snapshot of the
    engine about once a second (``scalper run``'s monitor), never from the decision path.

    Plays, symbols and order statuses are bounded sets (the configured plays and proxies, the order
    state machine's statuses)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = self.registry = registry
        self.signals = Gauge(
            "scalper_trading_signals", "Entry signals decided by this process", ["play", "outcome"], registry=r
        )
        self.orders = Gauge("scalper_trading_orders", "Orders of the run by status", ["status"], registry=r)
        self.fills = Gauge("scalper_trading_fills", "Fills of the run", registry=r)
        self.position = Gauge("scalper_trading_position_shares", "Net position", ["symbol"], registry=r)
        self.realised = Gauge("scalper_trading_realised_pnl_dollars", "Realised PnL net of costs", registry=r)
        self.day_pnl = Gauge(
            "scalper_trading_day_pnl_dollars", "Realised + unrealised PnL of the session (kill switch)", registry=r
        )
        self.tripped = Gauge("scalper_trading_kill_switch_tripped", "1 while the kill switch is tripped", registry=r)
        self.journal_waiting = Gauge(
            "scalper_trading_journal_waiting", "Trading records waiting for the database", registry=r
        )
        self.events_late = Gauge(
            "scalper_trading_events_late", "Events applied out of the replay order (sequencer)", registry=r
        )
        self.errors = Gauge(
            "scalper_trading_errors", "Events whose handling raised (each trips the kill switch)", registry=r
        )
        self.decision_latency = Histogram(
            "scalper_trading_decision_seconds",
            "Event taken by the engine to decision returned, per index one-second bar",
            buckets=DECISION_LATENCY_BUCKETS,
            registry=r,
        )

    def observe_latencies(self, latencies_ns: Iterable[int]) -> None:
        for ns in latencies_ns:
            self.decision_latency.observe(ns / _NS)


class MetricsServer:
    """A running ``/metrics`` HTTP endpoint; :meth:`close` stops it and frees the socket."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving, close the listening socket and join the server thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def start_http(registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` on a daemon thread (port 0: any free port)."""
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"metrics: cannot listen on {host}:{port}: {exc}") from exc
    return MetricsServer(server, thread)
