"""``scalper options snapshot`` against a local replay server, and ``options gamma`` from the stored chain."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def rest_server(tmp_path: Path) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalper", "replay-server", "--port", str(port), "--api-key", "k"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_snapshot_stores_the_chain_and_its_gamma_levels(scalper: Run, db_url: str, rest_server: int) -> None:
    env = {
        "SCALPER_DATABASE_URL": db_url,
        "SCALPER_FEED__WS_URL": f"ws://127.0.0.1:{rest_server}",
        "MASSIVE_API_KEY": "k",
    }
    out = scalper("options", "snapshot", "--underlying", "I:SPX", env=env)
    assert out.returncode == 0, out.stderr
    stored = int(re.search(r"I:SPX: ([\d,]+) contracts stored", out.stdout).group(1).replace(",", ""))
    assert stored > 500
    assert "dealer gamma of I:SPX" in out.stdout
    with psycopg.connect(db_url) as conn:
        contracts = conn.execute(
            "SELECT count(*), count(iv) FROM option_snapshots WHERE underlying = 'I:SPX'"
        ).fetchone()
        variants = conn.execute(
            "SELECT variant, spot, call_wall, put_wall FROM gamma_levels WHERE underlying = 'I:SPX' ORDER BY variant"
        ).fetchall()
    assert contracts is not None and contracts[0] == stored and contracts[1] > 0.5 * stored
    assert [v[0] for v in variants] == ["oi", "oi_ex_0dte", "volume"]
    spot = variants[0][1]
    assert all(0.8 * spot < wall < 1.2 * spot for v in variants for wall in v[2:] if wall is not None)

    again = scalper("options", "gamma", "--underlying", "I:SPX", env={"SCALPER_DATABASE_URL": db_url})
    assert again.returncode == 0, again.stderr
    assert "dealer gamma of I:SPX" in again.stdout

    rank = scalper("options", "ivrank", "--underlying", "I:SPX", "--days", "7", env={"SCALPER_DATABASE_URL": db_url})
    assert rank.returncode == 0, rank.stderr
    iv = re.search(r"│ \d{4}-\d\d-\d\d │ (0\.\d{4})\s*│", rank.stdout)
    assert iv is not None and 0.05 < float(iv.group(1)) < 1.0  # one session's 7-day ATM IV
    assert "not ready: warming up: 1 of 252" in " ".join(rank.stdout.split())

    nothing = scalper("options", "gamma", "--underlying", "QQQ", env={"SCALPER_DATABASE_URL": db_url})
    assert nothing.returncode != 0 and "no stored option chain of QQQ" in nothing.stderr
