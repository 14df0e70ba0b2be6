"""An offline paper session: ``scalper run`` against the replay server, and the table of its trades.

:func:`paper_session` stores six synthetic sessions of history in the given database, starts the
replay server in its own process serving the next session on its live timeline at ``speed``×
real time, and runs :func:`scalper.apps.run.run_trading` (paper, simulated broker) for ``seconds``
of wall time. Used by ``scalper bench decision`` and by the demo. The session (2025-09-16) lies
inside the shipped economic calendar's coverage, so the session policy lets the plays trade.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
from rich.table import Table

from scalper.adapters.store.synthetic_history import store_synthetic_sessions
from scalper.apps.context import AppContext
from scalper.apps.run import RunReport, run_trading
from scalper.config import load_config
from scalper.config.secrets import Secret, Secrets
from scalper.core.errors import FeedError
from scalper.core.orders import Fill, Leg
from scalper.core.timeutil import NEW_YORK, ns_to_datetime
from scalper.engine.trader import Trader

SEED = 7
HISTORY_START = dt.date(2025, 9, 8)  # six sessions: 9/8 to 9/15
HISTORY_SESSIONS = 6
SESSION = dt.date(2025, 9, 16)
KEY = "paper-session-key"
LEAD_S = 4.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FeedError(f"paper session: the replay server exited with {proc.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise FeedError(f"paper session: the replay server did not listen on port {port} within {timeout_s:.0f} s")


def paper_session(
    url: str,
    work_dir: Path,
    *,
    seconds: float,
    speed: float,
    run_id: str,
    log_level: str = "WARNING",
    settings: Mapping[str, str] | None = None,
    faults: Sequence[str] = (),
    webhook_url: str | None = None,
) -> RunReport:
    """History into ``url``, the replay server serving :data:`SESSION` from its open (sent
    :data:`LEAD_S` after the call), ``scalper run`` until ``seconds`` after the open; returns the
    run's report (its book, signals and latencies). ``settings``: more ``SCALPER_*`` overrides;
    ``faults``: the replay server's ``--fault NAME=VALUE`` items; ``webhook_url``: where the run
    delivers its alerts (a Discord-compatible webhook, e.g. a local capture)."""
    with psycopg.connect(url, autocommit=True) as conn:
        store_synthetic_sessions(conn, HISTORY_START, HISTORY_SESSIONS, SEED)
    port = _free_port()
    # the open goes out LEAD_S after now: the runner is connected by then and sees the whole session
    # live, so its plays observe it from the open whatever the start-up took (same trades every run)
    anchor = time.time_ns() + int(LEAD_S * 1e9)
    args = ["replay-server", "--port", str(port), "--speed", f"{speed:g}", "--timeline", "live"]
    args += ["--api-key", KEY, "--start", SESSION.isoformat(), "--seed", str(SEED), "--anchor-epoch-ns", str(anchor)]
    for fault in faults:
        args += ["--fault", fault]
    server = subprocess.Popen(
        [sys.executable, "-m", "scalper", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port, server)
        env = {
            "SCALPER_FEED__WS_URL": f"ws://127.0.0.1:{port}",
            "SCALPER_METRICS__ENABLED": "false",
            "SCALPER_FEED__SPOOL_DIR": str(work_dir / "spool"),
            "SCALPER_LOG__LEVEL": log_level,
            **(settings or {}),
        }
        secrets = Secrets(
            market_data_api_key=Secret(KEY),
            database_url=Secret(url),
            discord_webhook_url=None if webhook_url is None else Secret(webhook_url),
        )
        ctx = AppContext(config=load_config(None, env), secrets=secrets)
        return run_trading(ctx, seconds + LEAD_S, run_id=run_id)
    finally:
        server.terminate()
        server.wait(30)


def trades_table(trader: Trader, run_id: str) -> Table:
    """One row per entry signal taken: play, side, shares, entry and exit fills, how it ended, PnL."""
    table = Table(
        "time",
        "play",
        "side",
        "shares",
        "entry",
        "exit",
        "ended by",
        "pnl $",
        title=f"trades of run {run_id}",
    )
    book = trader.book
    total = 0.0
    for record in trader.signals:
        if record.kind != "enter" or not record.accepted:
            continue
        orders = book.orders_of_signal(record.signal_id)
        fills = [f for o in orders for f in book.fills(o.request.client_order_id)]
        entries = [f for o in orders if o.request.leg is Leg.ENTRY for f in book.fills(o.request.client_order_id)]
        exits = [f for f in fills if f not in entries]
        cash = sum(-f.signed_qty * f.price - f.commission - f.fees for f in fills)
        net = sum(f.signed_qty for f in fills)
        closed = bool(entries) and abs(net) < 1e-9
        by = ", ".join(sorted({str(o.request.leg) for o in orders if o.request.leg is not Leg.ENTRY and o.filled_qty}))
        total += cash if closed else 0.0

        table.add_row(
            ns_to_datetime(record.ts).astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S"),
            record.play,
            "long" if record.direction > 0 else "short",
            str(record.shares),
            _average_price(entries),
            _average_price(exits),
            by or ("open" if entries else "not filled"),
            f"{cash:+.2f}" if closed else "open",
        )
    table.caption = f"closed trades' PnL after costs: {total:+.2f} $"
    return table


def _average_price(fills: list[Fill]) -> str:
    qty = sum(f.qty for f in fills)
    return "—" if not qty else f"{sum(f.qty * f.price for f in fills) / qty:.2f}"
