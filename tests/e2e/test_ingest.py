import os
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


@pytest.fixture
def replay_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scalper",
            "replay-server",
            "--port",
            str(port),
            "--speed",
            "0",
            "--api-key",
            "good-key",
        ],
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
    yield port
    proc.terminate()
    proc.communicate(timeout=30)


def ingest(port: int, db_url: str, key: str, tmp_path: Path, duration: str) -> subprocess.CompletedProcess[str]:
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
        [sys.executable, "-m", "scalper", "ingest", "--duration", duration],
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
