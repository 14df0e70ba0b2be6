"""``scalper bench decision``: event-to-order-decision latency inside the live runner.

A whole ``scalper run`` paper session, offline (:func:`scalper.apps.paper.paper_session`): an
embedded PostgreSQL of its own (a temporary directory) holding six synthetic sessions of history,
the replay server in its own process serving the next session over the Polygon/Massive websocket
protocol on its live timeline at ``speed``× real time (the open sent as the run starts), and
:func:`scalper.apps.run.run_trading`
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

import tempfile
from pathlib import Path
from typing import Any

import psycopg

from scalper.adapters.store.embedded import embedded_server
from scalper.adapters.store.migrations import migrate
from scalper.core.errors import FeedError


def run(*, seconds: float = 60.0, speed: float = 300.0) -> dict[str, Any]:
    """A paper session of ``seconds`` wall seconds through the live runner; its decision latencies."""
    from scalper.apps.paper import paper_session

    with tempfile.TemporaryDirectory(prefix="scalper-bench-decision-") as tmp:
        root = Path(tmp)
        with embedded_server(root / "pgdata") as url:
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
            report = paper_session(url, root, seconds=seconds, speed=speed, run_id="bench-decision")
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
