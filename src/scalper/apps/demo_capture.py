"""The demo's live-capture step: replay server on loopback → feed consumer → database.

One synthetic session is streamed on a live timeline (a client that is away misses data, as
with the real service) at high speed; the first connection is cut once without warning, the
client reconnects with backoff, and the seconds it missed are backfilled through the server's
REST aggregates. The report compares what was sent with what is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.feed.backoff import Backoff
from scalper.adapters.feed.capture import Capture
from scalper.adapters.feed.client import FeedSettings
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.polygon import Faults, ReplayServer, ServerConfig
from scalper.adapters.polygon.replay_rest import RestApi, SyntheticDays, synthetic_sources
from scalper.adapters.polygon.rest import PolygonRest
from scalper.config.secrets import Secret
from scalper.core.clock import LiveClock
from scalper.synthetic.market import INDEX_TICKERS

KEY = "demo"
TOPICS = {"indices": ("A.I:SPX", "A.I:NDX", "V.I:SPX"), "stocks": ("A.SPY", "A.QQQ", "T.SPY", "Q.SPY")}


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """Sent vs stored for the captured session."""

    day: dt.date
    events_sent: int
    events_received: int
    index_seconds_sent: int
    index_seconds_stored: int
    gaps: int
    gaps_repaired: int
    seconds_backfilled: int
    reconnects: int


async def _capture(url: str, data: SyntheticDays, day: dt.date, speed: float, drop_after: int) -> dict[str, Any]:
    config = ServerConfig(speed=speed, timeline="live", api_key=KEY, faults=Faults(drop_after_frames=drop_after))
    async with ReplayServer(synthetic_sources(day, 1, data.seed, data), config, RestApi(data, KEY)) as server:
        rest = PolygonRest(KEY, base_url=server.http_url)
        pipeline = IngestPipeline(
            lambda: psycopg.connect(url, autocommit=True), flush_interval_s=0.2, backfill=rest.second_aggs
        )
        settings = {
            m: FeedSettings(url=server.url(m), api_key=Secret(KEY), topics=t, backoff=Backoff(base_s=1.0))
            for m, t in TOPICS.items()
        }
        opened = data.days()[0].window.open_ns
        pipeline.expect_from({s: opened for s in ("I:SPX", "I:NDX", "SPY", "QQQ")}, "late start")
        async with Capture(pipeline, settings, LiveClock(), market_open=lambda ns: False) as capture:
            while not all(server.sent(m).connections for m in TOPICS):  # faults are fixed per connection:
                await asyncio.sleep(0.05)
            server.faults = Faults()  # only the first connection of each market is cut
            while not all(server.market(m).finished for m in TOPICS):
                await asyncio.sleep(0.2)
            await _quiet(pipeline)  # the consumer may still be reading what was already sent
            pipeline.close_gaps_at(data.days()[0].window.close_ns)  # a cut with no bar after it still counts
        sent = sum(server.sent(m).events for m in TOPICS)
        return {"pipeline": pipeline, "sent": sent, "reconnects": capture.reconnects()}


async def _quiet(pipeline: IngestPipeline, seconds: float = 1.0) -> None:
    """Wait until no event arrived for ``seconds``."""
    seen = -1
    while (now := sum(pipeline.stats.events.values())) != seen:
        seen = now
        await asyncio.sleep(seconds)


def _forget_day(url: str, day: dt.date) -> None:
    """Remove what an earlier demo captured of ``day`` so the report counts this run only."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for table in ("agg_1s", "trades", "quotes_1s", "bars"):
            conn.execute(f"DELETE FROM {table} WHERE ts >= %s AND ts < %s::date + 1", (day, day))  # our own names
        conn.execute("DELETE FROM ingest_gaps WHERE gap_start >= %s AND gap_start < %s::date + 1", (day, day))


def run_capture(url: str, *, day: dt.date, seed: int, speed: float = 1_500.0, drop_after: int = 2_000) -> CaptureReport:
    """Capture ``day`` of the synthetic market into the database at ``url``."""
    data = SyntheticDays(day, 1, seed)
    _forget_day(url, day)
    result = asyncio.run(_capture(url, data, day, speed, drop_after))
    pipeline: IngestPipeline = result["pipeline"]
    market = data.days()[0]
    spx_ndx = np.isin(market.index_seconds.symbol, [INDEX_TICKERS.index("I:SPX"), INDEX_TICKERS.index("I:NDX")])
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM agg_1s WHERE symbol IN ('I:SPX', 'I:NDX') AND ts >= %s AND ts < %s + 1",
            (day, day),
        ).fetchone()
    stats = pipeline.stats
    return CaptureReport(
        day=market.window.day,
        events_sent=result["sent"],
        events_received=sum(stats.events.values()),
        index_seconds_sent=int(spx_ndx.sum()),
        index_seconds_stored=int(row[0]) if row else 0,
        gaps=len(pipeline.gaps),
        gaps_repaired=stats.gaps_repaired,
        seconds_backfilled=stats.rows_repaired,
        reconnects=result["reconnects"],
    )
