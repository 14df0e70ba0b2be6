"""``scalper bench feed`` measures what it claims: every event sent reaches the engine and the database."""

from __future__ import annotations

import psycopg

from scalper.bench import feed


def test_a_small_feed_benchmark_loses_nothing_and_cleans_up(pg_server_url: str) -> None:
    with psycopg.connect(pg_server_url) as conn:
        before = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    result = feed.run(pg_server_url, frames=400)
    expected_events, _ = feed._expected_events(400)
    expected_rows = feed._expected_rows(400)
    assert result["name"] == "feed"
    assert result["events"] == expected_events > 0
    assert result["lost"] == 0 and result["rows_missing"] == 0
    assert result["rows_stored"] == sum(expected_rows.values())
    assert result["events_per_s"] > 0 and result["p99_ms_at_2k"] > 0
    with psycopg.connect(pg_server_url) as conn:
        after = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert not {d for d in after - before if d.startswith("scalper_bench_")}  # the scratch database is gone
