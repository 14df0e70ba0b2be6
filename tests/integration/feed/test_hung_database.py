"""A database that hangs (a lock nobody releases) is a database that is down: writes time out and spool."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.feed.parse import Parsed
from scalper.adapters.spool import Spool
from scalper.adapters.store.database import connect
from scalper.core.events import SecondAgg

S = 1_000_000_000
T0 = 1_741_098_600 * S


def seconds(first: int, n: int) -> Parsed:
    return Parsed(
        events=[
            SecondAgg(symbol="I:SPX", ts_event=T0 + t * S, ts_end=T0 + (t + 1) * S, open=5.0, high=6, low=4, close=5.5)
            for t in range(first, first + n)
        ]
    )


def test_a_statement_timeout_cancels_a_hung_statement(db_url: str) -> None:
    with connect(db_url, statement_timeout_s=0.2) as conn, pytest.raises(psycopg.errors.QueryCanceled):
        conn.execute("SELECT pg_sleep(5)")


def test_writes_blocked_by_a_lock_time_out_spool_and_are_written_once_the_lock_goes(
    db_url: str, tmp_path: Path
) -> None:
    async def scenario(spool: Spool) -> tuple[int, int]:
        pipeline = IngestPipeline(lambda: connect(db_url, statement_timeout_s=0.3), spool=spool)
        with psycopg.connect(db_url) as blocker:
            blocker.execute("LOCK TABLE agg_1s IN ACCESS EXCLUSIVE MODE")  # held until this transaction ends
            pipeline.on_frame(seconds(0, 100))
            await pipeline.flush()  # the write waits on the lock, is cancelled after 0.3 s, and spools
            spooled = spool.pending()
            pipeline.on_frame(seconds(100, 50))
            await pipeline.flush()  # still locked: queued behind the older batch
            blocker.rollback()
        await pipeline.flush()  # the lock is gone: the spool is written in order
        pipeline.close()
        return spooled, pipeline.stats.write_failures

    with Spool(tmp_path / "spool", max_bytes=1 << 26) as spool:
        spooled, failures = asyncio.run(scenario(spool))
        assert spooled >= 1 and failures >= 1
        assert spool.pending() == 0
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT ts) FROM agg_1s WHERE symbol = 'I:SPX'").fetchone()
    assert row == (150, 150)
