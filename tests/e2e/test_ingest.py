import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(tmp_path: Path, speed: str, *extra: str) -> tuple[int, subprocess.Popen[str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_")}
    args = ["replay-server", "--port", str(port), "--speed", speed, "--api-key", "good-key", *extra]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalper", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return port, proc


@pytest.fixture
def replay_server(tmp_path: Path) -> Iterator[int]:
    port, proc = start_server(tmp_path, "0")  # as fast as the client reads
    yield port
    proc.terminate()
    proc.communicate(timeout=30)


@pytest.fixture
def paced_replay_server(tmp_path: Path) -> Iterator[int]:
    # four market minutes per second, one market clock for both sockets (as the real service)
    port, proc = start_server(tmp_path, "240", "--timeline", "live")
    yield port
    proc.terminate()
    proc.communicate(timeout=30)


def ingest(
    port: int, db_url: str, key: str, tmp_path: Path, duration: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_") and "API_KEY" not in k}
    env |= {
        "SCALPER_DATABASE_URL": db_url,
        "SCALPER_FEED__WS_URL": f"ws://127.0.0.1:{port}",
        "MASSIVE_API_KEY": key,
        "COLUMNS": "200",
        "SCALPER_METRICS__PORT": "0",
        "SCALPER_FEED__SPOOL_DIR": str(tmp_path / "spool"),
    }
    return subprocess.run(
        [sys.executable, "-m", "scalper", "ingest", "--duration", duration, *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ingest_captures_the_replayed_feed_into_the_database(replay_server: int, db_url: str, tmp_path: Path) -> None:
    out = ingest(replay_server, db_url, "good-key", tmp_path, "12")
    assert out.returncode == 0, out.stderr
    with psycopg.connect(db_url) as conn:
        counts = dict(conn.execute("SELECT symbol, count(*) FROM agg_1s GROUP BY symbol").fetchall())
        trades = conn.execute("SELECT count(*) FROM trades").fetchone()
    assert {"I:SPX", "I:NDX", "SPY", "QQQ"} <= set(counts)
    assert trades is not None and trades[0] > 0
    assert "rows written agg_1s" in out.stdout
    assert "good-key" not in out.stdout + out.stderr


def test_a_refused_key_ends_ingest_with_a_clear_error(replay_server: int, db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    out = ingest(replay_server, db_url, "bad-key", tmp_path, "60")
    assert out.returncode == 1
    assert "refused the API key" in out.stderr
    assert "bad-key" not in out.stderr + out.stdout
    assert time.monotonic() - started < 30  # fatal at once, no retry loop


# Fields the live run and a replay of the stored seconds compute from different inputs: the live
# engine sees trades and quotes (Lee–Ready delta) and the feed's AM bars; a replay of stored seconds
# has BVC only. Everything else — the indices' proxy-mapped VWAP and ranges included, thanks to the
# sequencer — must be equal.
FROM_TRADES = {"cum_delta", "delta_method", "cum_delta_lee_ready", "am_mismatches"}


def test_ingest_with_features_stores_the_snapshots_a_replay_of_the_stored_seconds_computes(
    paced_replay_server: int, db_url: str, tmp_path: Path
) -> None:
    out = ingest(paced_replay_server, db_url, "good-key", tmp_path, "15", "--features")
    assert out.returncode == 0, out.stderr
    assert "feature snapshots stored" in out.stdout
    assert re.search(r"events dropped before the engine\s*│\s*0\b", out.stdout), out.stdout
    assert re.search(r"feature events refused\s*│\s*0\b", out.stdout), out.stdout
    assert re.search(r"feature events late\s*│\s*0\b", out.stdout), out.stdout
    with psycopg.connect(db_url) as conn:
        live = {(s, t): d for s, t, d in conn.execute("SELECT symbol, ts, data FROM features").fetchall()}
        conn.execute("DELETE FROM features")
        conn.commit()
    replayed = subprocess.run(
        [sys.executable, "-m", "scalper", "features", "compute"],
        env={k: v for k, v in os.environ.items() if not k.startswith("SCALPER_")} | {"SCALPER_DATABASE_URL": db_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr
    with psycopg.connect(db_url) as conn:
        again = {(s, t): d for s, t, d in conn.execute("SELECT symbol, ts, data FROM features").fetchall()}
    assert len(live) > 100 and {s for s, _ in live} == {"I:SPX", "I:NDX", "SPY", "QQQ"}
    # every minute the live run stored, the replay stored too, with the same values
    assert set(live) <= set(again)
    compared = 0
    for key, data in live.items():
        mine = {k: v for k, v in data.items() if k not in FROM_TRADES}
        assert mine == {k: v for k, v in again[key].items() if k not in FROM_TRADES}, key
        compared += 1
    assert compared == len(live)
    spy = [d for (s, _), d in live.items() if s == "SPY"]
    assert any(d["delta_method"] == 2.0 for d in spy)  # the live run classified trades (Lee–Ready)
