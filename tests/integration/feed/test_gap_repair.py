"""Disconnects on a live timeline leave gaps; the pipeline records them and fills them through REST."""

from __future__ import annotations

import asyncio
from datetime import date

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

DAY = date(2024, 3, 5)


def test_every_second_is_stored_after_drops_are_repaired_through_rest(db_url: str) -> None:
    data = SyntheticDays(DAY, 1, seed=3)

    async def scenario() -> IngestPipeline:
        faults = Faults(drop_after_frames=300)
        config = ServerConfig(speed=2_000, timeline="live", api_key="k", faults=faults)
        async with ReplayServer(synthetic_sources(DAY, 1, 3, data), config, RestApi(data, "k")) as server:
            rest = PolygonRest("k", base_url=server.http_url)
            pipeline = IngestPipeline(
                lambda: psycopg.connect(db_url, autocommit=True), flush_interval_s=0.1, backfill=rest.second_aggs
            )
            settings = {
                "indices": FeedSettings(
                    url=server.url("indices"),
                    api_key=Secret("k"),
                    topics=("A.I:SPX",),
                    backoff=Backoff(base_s=0.4, cap_s=0.5),
                )
            }
            async with Capture(pipeline, settings, LiveClock(), market_open=lambda ns: False, seed=2):
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 90
                while loop.time() < deadline and not server.market("indices").finished:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.5)
            return pipeline

    pipeline = asyncio.run(scenario())
    assert len(pipeline.gaps) >= 2 and pipeline.stats.gaps_repaired == len(pipeline.gaps)
    assert pipeline.stats.rows_repaired > 100
    seconds = data.days()[0].index_seconds
    every = seconds.start_ns[np.flatnonzero(seconds.symbol == INDEX_TICKERS.index("I:SPX"))]
    with psycopg.connect(db_url) as conn:
        stored = [
            r[0]
            for r in conn.execute(
                "SELECT (extract(epoch FROM ts) * 1e9)::int8 FROM agg_1s WHERE symbol = 'I:SPX' ORDER BY ts"
            ).fetchall()
        ]
        gap_rows = conn.execute("SELECT status, rows_repaired FROM ingest_gaps").fetchall()
    first, last = stored[0], stored[-1]
    # Complete between the first and the last second received: every hole left by a drop was filled.
    assert stored == [int(t) for t in every if first <= t <= last]
    assert len(stored) > 5_000
    assert len(gap_rows) == len(pipeline.gaps) and all(status == "repaired" for status, _ in gap_rows)
    assert sum(n for _, n in gap_rows) == pipeline.stats.rows_repaired
