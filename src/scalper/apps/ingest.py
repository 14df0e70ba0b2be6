"""``scalper ingest``: capture the live feed into the database (no trading).

One websocket per cluster (indices: A/AM/V for the index symbols; stocks: A/AM/T/Q for the
proxies), one ingest pipeline writing through the bulk writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import psycopg

from scalper.adapters.feed.capture import Capture
from scalper.adapters.feed.client import FeedClient, FeedSettings
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.metrics import FeedMetrics, start_http
from scalper.adapters.polygon.rest import PolygonRest
from scalper.adapters.spool import Spool
from scalper.adapters.store import connect
from scalper.adapters.store.feature_history import warm_up
from scalper.adapters.store.migrations import migrate
from scalper.apps.context import AppContext
from scalper.config.model import FeedConfig
from scalper.core.clock import LiveClock
from scalper.core.errors import ConfigError
from scalper.core.events import MarketEvent
from scalper.engine.live_features import LiveFeatures
from scalper.engine.sequencer import Sequencer
from scalper.features.engine import FeatureEngine
from scalper.features.recorder import SnapshotRecorder, feature_version
from scalper.marketdata.calendar import is_regular_hours, session_at

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestReport:
    """What a capture run did (``interrupted``: it ended with Ctrl-C, after flushing what it held)."""

    pipeline: IngestPipeline
    clients: dict[str, FeedClient]
    features: LiveFeatures | None = None
    interrupted: bool = False


def topics(feed: FeedConfig) -> dict[str, tuple[str, ...]]:
    """The subscriptions per cluster from the configuration."""
    return {
        "indices": tuple(f"{ch}.{sym}" for ch in feed.index_channels for sym in feed.index_symbols),
        "stocks": tuple(f"{ch}.{sym}" for ch in feed.stock_channels for sym in feed.proxy_symbols),
    }


def spool_dir(feed: FeedConfig) -> Path:
    """Where batches wait while the database is down."""
    return feed.spool_dir or Path(platformdirs.user_state_dir("scalper")) / "spool"


def session_close(ts_ns: int) -> int | None:
    """The close (ns) of the regular session open at ``ts_ns``; None outside regular hours."""
    session = session_at(ts_ns)
    return None if session is None else session[1]


def restart_starts(conn: psycopg.Connection[Any], symbols: Sequence[str], now_ns: int) -> dict[str, int]:
    """Where each symbol's capture must resume so that today's session has no hole: the second after the
    last one stored today, or the open. Empty outside regular hours (history is the flat files' job)."""
    session = session_at(now_ns)
    if session is None:
        return {}
    opened = session[0]
    starts = dict.fromkeys(symbols, opened)
    rows = conn.execute(
        "SELECT symbol, (EXTRACT(EPOCH FROM max(ts)) * 1000000)::int8 * 1000 FROM agg_1s "
        "WHERE symbol = ANY(%s) AND ts >= 'epoch'::timestamptz + (%s::bigint / 1000) * interval '1 microsecond' "
        "GROUP BY symbol",
        (list(symbols), opened),
    ).fetchall()
    for symbol, last_ns in rows:
        starts[symbol] = int(last_ns) + 1_000_000_000
    return starts


Consumer = Callable[[asyncio.Queue[list[MarketEvent]]], Coroutine[Any, Any, None]]


async def capture(
    ctx: AppContext,
    url: str,
    duration_s: float | None,
    spool: Spool,
    metrics: FeedMetrics,
    starts: dict[str, int],
    reports: list[IngestReport],
    consume: Consumer | None = None,
    features: LiveFeatures | None = None,
) -> None:
    """Capture the feed into the database for ``duration_s`` (None: until cancelled), appending the
    live report to ``reports`` once connected. With ``consume``, the parsed frames also go to an
    engine queue that ``consume`` reads until it is cancelled at the end (it then applies what is
    queued)."""
    key = ctx.secrets.market_data_api_key
    if key is None:
        raise ConfigError("no market data API key: set MASSIVE_API_KEY (or POLYGON_API_KEY, or *_FILE)")
    timeout, write_timeout = ctx.config.database.connect_timeout_s, ctx.config.writer.write_timeout_s
    rest = PolygonRest(key.reveal(), base_url=ctx.config.feed.rest_base())
    queue: asyncio.Queue[list[MarketEvent]] | None = asyncio.Queue(maxsize=10_000) if consume else None
    pipeline = IngestPipeline(
        lambda: connect(url, timeout_s=timeout, statement_timeout_s=write_timeout),
        batch_rows=ctx.config.writer.batch_rows,
        spool=spool,
        metrics=metrics,
        backfill=rest.second_aggs,
        engine_queue=queue,
    )
    settings = {
        market: FeedSettings(
            url=f"{ctx.config.feed.websocket_base()}/{market}",
            api_key=key,
            topics=subs,
            stall_after_s=ctx.config.feed.stall_after_s,
            compression=ctx.config.feed.compression,
        )
        for market, subs in topics(ctx.config.feed).items()
        if subs
    }
    pipeline.expect_from(starts, "restart")
    clock = LiveClock()
    consumer = None if consume is None or queue is None else asyncio.create_task(consume(queue))
    try:
        async with Capture(pipeline, settings, clock, market_open=is_regular_hours) as capture:
            reports.append(IngestReport(pipeline, capture.clients, features))  # live counters
            try:
                await capture.wait(duration_s)  # a fatal feed error (refused key) ends the capture with its message
            finally:  # what is still missing since a disconnect is repaired before the process ends
                pipeline.close_gaps_at(clock.now_ns(), session_close=session_close)
    finally:
        if consumer is not None:  # applies what is queued and stores the last snapshots
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer


def live_features(ctx: AppContext, conn: psycopg.Connection[Any], symbols: Sequence[str], now_ns: int) -> LiveFeatures:
    """The feature engine for the captured symbols, warmed up from the stored seconds up to ``now_ns``."""
    from scalper.apps.features import feature_params

    params = feature_params(ctx.config.features)
    engine = FeatureEngine(symbols, params)
    applied = warm_up(engine, conn, now_ns=now_ns, sessions=ctx.config.features.seed_sessions)
    log.info("features: warmed up on %d stored seconds (%d sessions back)", applied, ctx.config.features.seed_sessions)
    recorder = SnapshotRecorder(symbols, every_s=ctx.config.features.snapshot_every_s, version=feature_version(params))
    streams = [market for market, subs in topics(ctx.config.feed).items() if subs]
    delay_ns = ctx.config.feed.aggregate_delay_ms * 1_000_000
    grace_ns = ctx.config.feed.sequencer_grace_ms * 1_000_000
    return LiveFeatures(
        engine, recorder, Sequencer(streams, engine.codes, aggregate_delay_ns=delay_ns, grace_ns=grace_ns)
    )


def run_ingest(ctx: AppContext, duration_s: float | None, *, features: bool = False) -> IngestReport:
    """Capture until interrupted (or for ``duration_s``); returns the counters either way.

    With ``features``, the feature engine runs on the captured events and stores its snapshots.
    """
    cfg = ctx.config
    metrics = FeedMetrics(LiveClock())
    with contextlib.ExitStack() as stack:
        url, conn = stack.enter_context(ctx.database())
        migrate(conn)
        spool = stack.enter_context(Spool(spool_dir(cfg.feed), max_bytes=cfg.feed.spool_max_mb * 1024 * 1024))
        if cfg.metrics.enabled:
            server = stack.enter_context(start_http(metrics.registry, cfg.metrics.host, cfg.metrics.port))
            log.info("metrics on %s", server.url)
        symbols = [*cfg.feed.index_symbols, *cfg.feed.proxy_symbols]
        starts = restart_starts(conn, symbols, LiveClock().now_ns())
        reports: list[IngestReport] = []
        try:
            now = LiveClock().now_ns()
            live = live_features(ctx, conn, symbols, now) if features else None
            consume: Consumer | None = None
            if live is not None:
                timeout, write_timeout = cfg.database.connect_timeout_s, cfg.writer.write_timeout_s
                connect_features = lambda: connect(url, timeout_s=timeout, statement_timeout_s=write_timeout)  # noqa: E731
                consume = functools.partial(live.run, connect=connect_features, now_ns=LiveClock().now_ns)
            asyncio.run(capture(ctx, url, duration_s, spool, metrics, starts, reports, consume, live))
        except KeyboardInterrupt:  # the capture was stopped and flushed by the cancellation
            if not reports:
                raise
            reports[0].interrupted = True
        return reports[0]
    raise AssertionError("unreachable")
