"""``scalper run`` as a real process: a paper session on the replay server, killed mid-position and
restarted; the Alpaca broker (a local server speaking Alpaca's protocol) rejecting orders and
dropping its stream.

The market: six synthetic sessions stored as history, then 2025-09-16 served by the replay server
on its live timeline at 240× (four market minutes per wall second), the open sent 20 wall seconds
before the test starts, so the runner joins at about 10:50 and fetches the morning over REST.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from processes import Process, cli_env, free_port, scalper_process, wait_listening, wait_until

from scalper.adapters.store.synthetic_history import store_synthetic_sessions
from scalper.brokers.alpaca_server import AlpacaServer
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days

pytestmark = pytest.mark.e2e

SEED = 7
SESSION = dt.date(2025, 9, 16)
KEY_ID, SECRET = "e2e-key-id", "e2e-secret-value-never-printed"


def seed_history(url: str) -> None:
    """Six sessions before SESSION (features and sizing need history)."""
    with psycopg.connect(url, autocommit=True) as conn:
        days = store_synthetic_sessions(conn, dt.date(2025, 9, 8), 6, SEED)
    assert days[-1] < SESSION


def proxy_prices_at_eleven() -> dict[str, float]:
    """SPY and QQQ near 11:00 on SESSION in the synthetic market (the Alpaca server's static prices)."""
    (day,) = generate_market_days(SESSION, 1, SEED)
    sec = columns.seconds(day)
    eleven = int(dt.datetime(2025, 9, 16, 15, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    out = {}
    for symbol in ("SPY", "QQQ"):
        mask = (sec["symbol"] == symbol) & (sec["ts"] <= eleven)
        out[symbol] = round(float(np.asarray(sec["close"])[mask][-1]), 2)
    return out


@pytest.fixture
def market(tmp_path: Path, db_url: str) -> Iterator[int]:
    """The replay server's port, the history stored in ``db_url``."""
    seed_history(db_url)
    port = free_port()
    anchor = time.time_ns() - 20 * 1_000_000_000
    args = ["replay-server", "--port", str(port), "--speed", "240", "--timeline", "live", "--api-key", "k"]
    args += ["--start", SESSION.isoformat(), "--anchor-epoch-ns", str(anchor)]
    with scalper_process("replay-server", args, cli_env(), tmp_path) as server:
        wait_listening(server, port)
        yield port


def run_env(db_url: str, port: int, tmp_path: Path, **extra: str) -> dict[str, str]:
    return cli_env(
        SCALPER_DATABASE_URL=db_url,
        SCALPER_FEED__WS_URL=f"ws://127.0.0.1:{port}",
        MASSIVE_API_KEY="k",
        SCALPER_METRICS__PORT="0",
        SCALPER_FEED__SPOOL_DIR=str(tmp_path / "spool"),
        **extra,
    )


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def open_bracket(url: str, run_id: str) -> tuple[str, str] | None:
    """(signal id, stop client id) of a bracket whose entry has filled and whose stop works."""
    found = rows(
        url,
        "SELECT e.signal_id, s.client_order_id FROM orders e JOIN orders s "
        "ON s.run_id = e.run_id AND s.parent_id = e.client_order_id AND s.leg = 'stop' "
        "WHERE e.run_id = %s AND e.leg = 'entry' AND e.status = 'filled' AND s.status = 'accepted' LIMIT 1",
        run_id,
    )
    return (found[0][0], found[0][1]) if found else None


def kill_mid_position(process: Process, url: str, run_id: str) -> tuple[str, str]:
    held: list[tuple[str, str]] = []

    def in_position() -> bool:
        if not process.alive():
            raise AssertionError(f"scalper run exited early\n{process.logs()}")
        bracket = open_bracket(url, run_id)
        if bracket is not None:
            held.append(bracket)
        return bool(held)

    wait_until(in_position, 150, "a filled entry with its stop working", every_s=0.2)
    process.kill()  # SIGKILL to the group: no clean shutdown of any kind
    return held[0]


def submissions(url: str, run_id: str) -> dict[str, int]:
    """Client id → how many times its submission (seq 0) is on record."""
    found = rows(
        url,
        "SELECT client_order_id, count(*) FROM order_events WHERE run_id = %s AND detail->>'kind' = 'submitted' "
        "GROUP BY client_order_id",
        run_id,
    )
    return {cid: int(n) for cid, n in found}


def test_a_paper_run_killed_mid_position_resumes_its_trade_with_the_stop_in_force(
    market: int, db_url: str, tmp_path: Path
) -> None:
    env = run_env(db_url, market, tmp_path)
    run_id = "e2e-paper"
    with scalper_process("run-1", ["run", "--run-id", run_id], env, tmp_path) as first:
        signal_id, stop_id = kill_mid_position(first, db_url, run_id)
    before = submissions(db_url, run_id)
    with scalper_process("run-2", ["run", "--run-id", run_id, "--duration", "6"], env, tmp_path) as second:
        assert second.wait(120) == 0, second.logs()
        out, err = second.stdout(), second.stderr()
    resumed = [line for line in out.splitlines() if "resumed" in line]
    assert any(signal_id in line and "stop accepted" in line for line in resumed), out
    assert "took over" in err and "working orders from the stored book" in err
    after = submissions(db_url, run_id)
    assert all(n == 1 for n in after.values()), after  # nothing submitted twice
    assert {k: after[k] for k in before} == before
    reasons = rows(
        db_url, "SELECT detail->>'reason' FROM order_events WHERE run_id = %s AND client_order_id = %s", run_id, stop_id
    )
    assert not any(r and "reconciliation" in r for (r,) in reasons)  # the stop was not dropped at the restart
    (status,) = rows(db_url, "SELECT status FROM orders WHERE run_id = %s AND client_order_id = %s", run_id, stop_id)[0]
    # still working, or ended by the market through the restored paper broker (its fill or the OCO/exit cancel)
    assert status in ("accepted", "filled", "cancelled")
    if status == "filled":
        assert (
            rows(db_url, "SELECT count(*) FROM fills WHERE run_id = %s AND client_order_id = %s", run_id, stop_id)[0][0]
            >= 1
        )


@pytest.fixture
def alpaca() -> Iterator[AlpacaServer]:
    with AlpacaServer(KEY_ID, SECRET, proxy_prices_at_eleven()) as server:
        yield server


def alpaca_env(db_url: str, port: int, tmp_path: Path, server: AlpacaServer) -> dict[str, str]:
    return run_env(
        db_url,
        port,
        tmp_path,
        SCALPER_BROKER__KIND="alpaca",
        SCALPER_BROKER__ALPACA_URL=server.rest_url,
        SCALPER_BROKER__ALPACA_STREAM_URL=server.stream_url,
        APCA_API_KEY_ID=KEY_ID,
        APCA_API_SECRET_KEY=SECRET,
    )


def posted_client_ids(server: AlpacaServer) -> list[str]:
    return [
        r["body"]["client_order_id"]
        for r in server.requests()
        if r["method"] == "POST" and r["path"] == "/v2/orders" and isinstance(r.get("body"), dict)
    ]


def test_an_alpaca_run_killed_mid_position_reconciles_without_a_duplicate_order(
    market: int, alpaca: AlpacaServer, db_url: str, tmp_path: Path
) -> None:
    env = alpaca_env(db_url, market, tmp_path, alpaca)
    run_id = "e2e-alpaca"
    with scalper_process("run-1", ["run", "--run-id", run_id], env, tmp_path) as first:
        signal_id, stop_id = kill_mid_position(first, db_url, run_id)
    posted_before = posted_client_ids(alpaca)
    with scalper_process("run-2", ["run", "--run-id", run_id, "--duration", "6"], env, tmp_path) as second:
        assert second.wait(120) == 0, second.logs()
        out = second.stdout()
    assert any(signal_id in line and "stop accepted" in line for line in out.splitlines() if "resumed" in line), out
    posted = posted_client_ids(alpaca)
    assert posted[: len(posted_before)] == posted_before
    assert len(posted) == len(set(posted)), posted  # no client id sent twice, before or after the restart
    # the protective stop still works at the broker: the bracket's stop leg is open there
    (entry_id,) = rows(
        db_url,
        "SELECT client_order_id FROM orders WHERE run_id = %s AND signal_id = %s AND leg = 'entry'",
        run_id,
        signal_id,
    )[0]
    at_broker = alpaca.order_by_client_id(entry_id)
    legs = {leg["type"]: leg["status"] for leg in at_broker["legs"]}
    assert legs.get("stop") in ("new", "accepted"), at_broker
    assert (
        rows(db_url, "SELECT status FROM orders WHERE run_id = %s AND client_order_id = %s", run_id, stop_id)[0][0]
        == "accepted"
    )
    for text in (out, second.stderr()):
        assert SECRET not in text


def test_alpaca_rejections_are_recorded_once_and_a_dropped_stream_trips_the_kill_switch(
    market: int, alpaca: AlpacaServer, db_url: str, tmp_path: Path
) -> None:
    env = alpaca_env(db_url, market, tmp_path, alpaca)
    run_id = "e2e-faults"
    alpaca.reject_next(2, status=403, message="insufficient buying power")
    with scalper_process("run", ["run", "--run-id", run_id], env, tmp_path) as run:

        def rejected() -> bool:
            assert run.alive(), run.logs()
            return bool(
                rows(db_url, "SELECT 1 FROM orders WHERE run_id = %s AND status = 'rejected' AND leg = 'entry'", run_id)
            )

        wait_until(rejected, 150, "a rejected entry")
        wait_until(
            lambda: bool(rows(db_url, "SELECT 1 FROM alerts WHERE kind = 'order_rejected'")), 30, "the rejection alert"
        )
        time.sleep(3)  # twelve market minutes: a retry storm would show here
        posted = posted_client_ids(alpaca)
        assert len(posted) == len(set(posted)), posted  # a rejected order is never sent again
        reasons = rows(db_url, "SELECT reject_reason FROM orders WHERE run_id = %s AND status = 'rejected'", run_id)
        assert any("insufficient buying power" in (r or "") for (r,) in reasons), reasons

        alpaca.drop_stream(refuse_s=4.0)

        def tripped() -> bool:
            assert run.alive(), run.logs()
            kinds = {k for (k,) in rows(db_url, "SELECT kind FROM alerts")}
            return {"broker_disconnected", "kill_switch"} <= kinds

        wait_until(tripped, 60, "the disconnect alert and the kill switch trip")
        (message,) = rows(db_url, "SELECT message FROM alerts WHERE kind = 'kill_switch' ORDER BY id LIMIT 1")[0]
        assert "BROKER_DISCONNECTED" in message
        run.signal(signal.SIGINT)
        run.wait(60)
    for text in (run.stdout(), run.stderr()):
        assert SECRET not in text
