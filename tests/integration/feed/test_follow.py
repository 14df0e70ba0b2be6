"""Another process follows the capture through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import psycopg

from scalper.adapters.feed.follow import BatchNotice, follow
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.adapters.feed.parse import parse_frame


def test_a_follower_is_told_about_every_committed_batch(db_url: str) -> None:
    notices: list[BatchNotice] = []
    ready = threading.Event()

    def listen() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            stream = follow(conn, timeout_s=20, stop_after=1)
            ready.set()
            notices.extend(stream)

    thread = threading.Thread(target=listen)
    thread.start()
    pipeline = IngestPipeline(lambda: psycopg.connect(db_url, autocommit=True))
    frame = (
        '[{"ev":"A","sym":"I:SPX","o":1,"h":2,"l":1,"c":2,"s":1000,"e":2000},'
        '{"ev":"A","sym":"I:SPX","o":2,"h":3,"l":2,"c":3,"s":2000,"e":3000}]'
    )
    pipeline.on_frame(parse_frame(frame, 0))
    assert ready.wait(10)
    asyncio.run(pipeline.flush())
    thread.join(30)
    pipeline.close()
    assert notices == [BatchNotice("agg_1s", 2, 1_000_000_000, 2_000_000_000, ("I:SPX",))]
    with psycopg.connect(db_url) as conn:
        rows: Any = conn.execute(
            "SELECT count(*) FROM agg_1s WHERE ts BETWEEN to_timestamp(1) AND to_timestamp(2)"
        ).fetchone()
    assert rows[0] == notices[0].rows
