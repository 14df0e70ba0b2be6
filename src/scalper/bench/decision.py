"""``scalper bench decision``: event-to-order-decision latency inside the live runner.

A whole ``scalper run`` paper session, offline: an embedded PostgreSQL of its own (a temporary
directory) holding six synthetic sessions of history, the replay server in its own process
serving the next session over the Polygon/Massive websocket protocol on its live timeline at
``speed``× real time (the open sent as the run starts), and :func:`scalper.apps.run.run_trading`
— feed capture into the database, the sequencer, the trader (features, the four plays, session
policy, risk, order book with its journal written ahead, the simulated broker) — for ``seconds``
of wall time.

Timed, by the runner itself (:attr:`LiveTrading.latencies_ns`): for every index one-second bar
(the events the plays decide on), from the moment the engine takes the event (released by the
sequencer) to the trader's return, including any order built, recorded in the database and sent.
Keys: ``name``, ``events`` (index bars timed), ``p50_us``, ``p99_us``, ``max_us``, ``signals``
(entries decided), ``fills``, ``engine_events`` (all events given to the trader).
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from scalper.adapters.store.embedded import embedded_server
from scalper.adapters.store.migrations import migrate
from scalper.adapters.store.synthetic_history import store_synthetic_sessions
from scalper.apps.context import AppContext
from scalper.config import load_config
from scalper.config.secrets import Secret, Secrets
from scalper.core.errors import FeedError

SEED = 7
HISTORY_START = dt.date(2025, 9, 8)  # six sessions: 9/8 to 9/15
SESSION = dt.date(2025, 9, 16)  # inside the shipped economic calendar's coverage
KEY = "bench-key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FeedError(f"bench decision: the replay server exited with {proc.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise FeedError(f"bench decision: the replay server did not listen on port {port} within {timeout_s:.0f} s")


def run(*, seconds: float = 60.0, speed: float = 300.0) -> dict[str, Any]:
    """A paper session of ``seconds`` wall seconds through the live runner; its decision latencies."""
    from scalper.apps.run import run_trading

    with tempfile.TemporaryDirectory(prefix="scalper-bench-decision-") as tmp:
        root = Path(tmp)
        with embedded_server(root / "pgdata") as url, psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            store_synthetic_sessions(conn, HISTORY_START, 6, SEED)
        port = _free_port()
        args = ["replay-server", "--port", str(port), "--speed", f"{speed:g}", "--timeline", "live"]
        args += ["--api-key", KEY, "--start", SESSION.isoformat(), "--seed", str(SEED)]
        server = subprocess.Popen(
            [sys.executable, "-m", "scalper", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_port(port, server)
            env = {
                "SCALPER_FEED__WS_URL": f"ws://127.0.0.1:{port}",
                "SCALPER_METRICS__ENABLED": "false",
                "SCALPER_FEED__SPOOL_DIR": str(root / "spool"),
                "SCALPER_DATABASE__EMBEDDED_DIR": str(root / "pgdata"),
                "SCALPER_LOG__LEVEL": "WARNING",
            }
            ctx = AppContext(config=load_config(None, env), secrets=Secrets(market_data_api_key=Secret(KEY)))
            report = run_trading(ctx, seconds, run_id="bench-decision")
        finally:
            server.terminate()
            server.wait(30)
    latency = report.latency_us()
    trading = report.trading
    if latency is None or trading is None:
        raise FeedError("bench decision: no index bar reached the engine (is the replay server serving?)")
    trader = trading.trader
    return {
        "name": "decision",
        "events": int(latency["events"]),
        "p50_us": latency["p50_us"],
        "p99_us": latency["p99_us"],
        "max_us": latency["max_us"],
        "signals": sum(1 for r in trader.signals if r.kind == "enter" and r.accepted),
        "fills": len(trader.book.fills()),
        "engine_events": trading.events,
    }
