import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_demo_runs_on_the_embedded_database_with_no_configuration(scalper: Run, tmp_path: Path) -> None:
    out = scalper("demo", "--sessions", "2", "--start", "2025-11-26")
    assert out.returncode == 0, out.stderr
    assert "2025-11-26" in out.stdout and "2025-11-28" in out.stdout  # Thanksgiving skipped
    assert "09:30–13:00" in out.stdout  # the early close
    for table in ("agg_1s", "trades", "quotes_1s", "option_bars"):
        assert table in out.stdout
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()
    # The live capture: every SPX/NDX second sent is stored, the injected disconnect was repaired.
    sent, stored = re.search(r"SPX\+NDX seconds sent / stored\s*│\s*([\d,]+) / ([\d,]+)", out.stdout).groups()
    assert sent == stored and int(sent.replace(",", "")) > 40_000
    found, repaired = re.search(r"gaps found / repaired\s*│\s*(\d+) / (\d+)", out.stdout).groups()
    assert int(found) >= 1 and found == repaired
    # Features of the captured session, the regime report over the synthetic history, the morning score.
    assert "features at 11:00 on 2025-12-01" in out.stdout and "snapshots stored" in out.stdout
    for line in re.findall(r"accuracy ([\d.]+) vs majority-class baseline ([\d.]+).*?Brier ([\d.]+)", out.stdout):
        assert 0 < float(line[0]) <= 1 and 0 < float(line[2]) < 2
    assert len(re.findall(r"I:(?:SPX|NDX) @ 10:[03]0 walk-forward", out.stdout)) == 4  # SPX, NDX at 10:00, 10:30
    assert "morning regime score" in out.stdout
    # Dealer gamma of the stored chains and the session policy of the captured day, with reasons.
    assert "dealer gamma of I:SPX" in out.stdout and "session policy on 2025-12-01" in out.stdout
    assert len(re.findall(r"│ \d\d:\d\d │ (?:SPX|NDX)_(?:TREND_BURST|BALANCED_BREAK)\s*│", out.stdout)) == 20
    # A whole paper session through `scalper run` on the replay server, and its trades.
    assert "trades of run demo-paper-" in out.stdout
    trades = re.findall(r"│ 2025-09-16 \d\d:\d\d:\d\d │ (?:SPX|NDX)_\w+\s*│ (?:long|short)", out.stdout)
    assert len(trades) >= 1, out.stdout[-4000:]
    assert "closed trades' PnL after costs" in out.stdout and "event-to-decision (index bars)" in out.stdout
    # then a backtest of that session from the recorded seconds, and its HTML report
    assert "by play" in out.stdout and "by time of day" in out.stdout
    (report,) = re.findall(r"backtest report: (\S+report\.html)", out.stdout)
    assert Path(report).is_file() and Path(report).stat().st_size > 1_000_000
    # the injected feed fault raised an alert, delivered through the real path to the local webhook
    assert "injected fault: pause_after_frames=2000, pause_s=0.4" in out.stdout
    (alerts,) = re.findall(r"alerts captured: (\S+alerts\.jsonl)", out.stdout)
    lines = [json.loads(line) for line in Path(alerts).read_text(encoding="utf-8").splitlines()]
    assert any("reconnect_storm" in line["body"]["content"] for line in lines)
    # and the closing summary names where everything is
    assert "where everything is" in out.stdout
    for artefact in ("paper run", "backtest run", "backtest report", "trades and summary", "dashboards"):
        assert artefact in out.stdout


def test_demo_twice_stores_the_same_rows(scalper: Run, db_url: str) -> None:
    env = {"SCALPER_DATABASE_URL": db_url}
    counts = []
    for _ in range(2):
        out = scalper("demo", "--sessions", "1", env=env)
        assert out.returncode == 0, out.stderr
        with psycopg.connect(db_url) as conn:
            counts.append(
                [
                    conn.execute(f"SELECT count(*) FROM {t} WHERE ts < '2025-11-26'").fetchone()  # the loaded history
                    for t in ("agg_1s", "trades", "bars")
                ]
            )
    assert counts[0] == counts[1]
    assert counts[0][0] is not None and counts[0][0][0] > 40_000
    assert "upsert" in out.stdout  # the second run went through the idempotent path


def test_two_commands_at_once_share_the_embedded_server_safely(tmp_path: Path) -> None:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_")}
    env["SCALPER_DATABASE__EMBEDDED_DIR"] = str(tmp_path / "shared-pgdata")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "scalper", "db", "migrate"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    assert all(code == 0 for _, _, code in results), results
    applied = sum(out.count("applied 0001") for out, _, _ in results)
    assert applied == 1  # exactly one process applied the migrations; the others found them done
    status = subprocess.run(
        [sys.executable, "-m", "scalper", "db", "status"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode == 0 and "timeseries" in status.stdout
