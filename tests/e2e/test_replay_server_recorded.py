"""``scalper replay-server --source db``: a real process serving what the database recorded."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
from massive import RESTClient
from processes import cli_env, free_port, scalper_process, wait_listening
from websockets.sync.client import connect as ws_connect

from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter
from scalper.synthetic import columns
from scalper.synthetic.market import MarketConfig, generate_market_days

DAY = date(2024, 3, 5)


def test_the_replay_server_serves_recorded_seconds_over_websocket_and_rest(db_url: str, tmp_path: Path) -> None:
    day = next(generate_market_days(DAY, 1, seed=11, config=MarketConfig(trades_per_second=1.0)))
    with psycopg.connect(db_url, autocommit=True) as conn:
        BulkWriter(conn).write(AGG_1S, columns.seconds(day))
        stored = conn.execute(
            "SELECT (extract(epoch FROM ts) * 1000)::int8, open, high, low, close FROM agg_1s "
            "WHERE symbol = 'I:SPX' ORDER BY ts"
        ).fetchall()
    assert len(stored) > 20_000
    port = free_port()
    env = cli_env(SCALPER_DATABASE_URL=db_url)
    args = ["replay-server", "--source", "db", "--start", DAY.isoformat(), "--speed", "0", "--port", str(port)]
    with scalper_process("replay-server", args, env, tmp_path) as server:
        wait_listening(server, port)
        with ws_connect(f"ws://127.0.0.1:{port}/indices") as ws:
            assert json.loads(ws.recv())[0]["status"] == "connected"
            ws.send(json.dumps({"action": "auth", "params": "any-key"}))
            assert json.loads(ws.recv())[0]["status"] == "auth_success"
            ws.send(json.dumps({"action": "subscribe", "params": "A.I:SPX"}))
            assert json.loads(ws.recv())[0]["status"] == "success"
            streamed: list[dict[str, object]] = []
            while len(streamed) < 100:
                streamed += json.loads(ws.recv())
        assert [(e["s"], e["o"], e["h"], e["l"], e["c"]) for e in streamed[:100]] == [tuple(r) for r in stored[:100]]
        client = RESTClient(api_key="any-key", base=f"http://127.0.0.1:{port}", retries=0)
        first, last = stored[0][0], stored[999][0]
        aggs = list(client.list_aggs("I:SPX", 1, "second", first, last, limit=300))  # four pages
        assert [(a.timestamp, a.open, a.high, a.low, a.close) for a in aggs] == [tuple(r) for r in stored[:1000]]
        assert server.alive(), server.logs()
