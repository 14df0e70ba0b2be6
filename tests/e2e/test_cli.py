import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_help_reads_like_a_manual(scalper: Run) -> None:
    out = scalper("--help")
    assert out.returncode == 0
    for command in ("db", "config", "synth", "demo", "bench"):
        assert command in out.stdout
    assert "SCALPER_DATABASE_URL" in out.stdout


def test_migrate_twice_changes_nothing_and_status_lists_migrations(scalper: Run, empty_db_url: str) -> None:
    env = {"SCALPER_DATABASE_URL": empty_db_url}
    first = scalper("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_market_data.sql" in first.stdout
    second = scalper("db", "migrate", env=env)
    assert second.returncode == 0
    assert "applied" not in second.stdout.replace("0 new", "")
    assert ", 0 new)" in second.stdout
    status = scalper("db", "status", env=env)
    assert status.returncode == 0
    for name in ("market_data", "analytics", "trading", "operations", "timeseries"):
        assert name in status.stdout
    assert "pending" not in status.stdout


def test_secrets_are_never_printed_or_logged(scalper: Run, db_url: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "apca"
    secret_file.write_text("broker-secret-0123\n")
    env = {
        "MASSIVE_API_KEY": "mkey-secret-4567",
        "APCA_API_SECRET_KEY_FILE": str(secret_file),
        "SCALPER_DISCORD_WEBHOOK_URL": "https://discord.invalid/api/webhooks/hook-secret-89",
        "SCALPER_DATABASE_URL": db_url,
        "SCALPER_LOG__LEVEL": "DEBUG",
    }
    outputs = [scalper(*args, env=env) for args in (("config", "show"), ("db", "status"), ("db", "migrate"))]
    shown = scalper("config", "show", env=env)
    assert json.loads(shown.stdout)["secrets"]["market_data_api_key"] == "set"
    assert "connecting to" in outputs[1].stderr  # debug logging was on
    for out in outputs:
        assert out.returncode == 0, out.stderr
        for secret in ("mkey-secret-4567", "broker-secret-0123", "hook-secret-89"):
            assert secret not in out.stdout and secret not in out.stderr


def test_unknown_config_key_fails_naming_it(scalper: Run, tmp_path: Path) -> None:
    (tmp_path / "scalper.toml").write_text("[feed]\nstall_seconds = 3\n")
    out = scalper("config", "show")
    assert out.returncode == 2
    assert "feed.stall_seconds" in out.stderr and "unknown key" in out.stderr


def test_bad_config_value_fails_naming_key_value_and_expectation(scalper: Run) -> None:
    out = scalper("db", "status", env={"SCALPER_DATABASE__CONNECT_TIMEOUT_S": "-3"})
    assert out.returncode == 2
    assert "database.connect_timeout_s" in out.stderr and "-3" in out.stderr and "greater than 0" in out.stderr


def test_unreachable_database_is_a_clear_error_with_the_password_redacted(scalper: Run) -> None:
    out = scalper("db", "migrate", env={"SCALPER_DATABASE_URL": "postgresql://trader:hunter2@127.0.0.1:9/nowhere"})
    assert out.returncode == 1
    assert "cannot connect to postgresql://trader:***@127.0.0.1:9/nowhere" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_bench_writer_prints_one_json_object(scalper: Run, db_url: str) -> None:
    out = scalper("bench", "writer", "--json", "--rows", "20000", env={"SCALPER_DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip())
    assert {"name", "rows", "rows_per_s", "copy_rows_per_s", "ratio"} <= set(result)
    assert result["name"] == "writer" and result["rows"] == 20000
    assert result["stored_after_rewrite"] == 20000


def test_bench_features_prints_its_figures_without_a_database(scalper: Run) -> None:
    out = scalper("bench", "features", "--json", "--sessions", "1")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip())
    assert result["name"] == "features"
    # one regular session of SPX, NDX (a print almost every second) and SPY, QQQ (a trade every second or so)
    assert 4 * 23_400 * 0.9 < result["events"] <= 4 * 23_400
    assert result["events_per_s"] > 0 and 0 < result["live_p50_us"] <= result["live_p99_us"] <= result["live_max_us"]
    assert result["state_bytes_per_symbol"] > 0


def test_bench_decision_times_the_live_runner_on_every_index_bar(scalper: Run) -> None:
    out = scalper("bench", "decision", "--json", "--seconds", "15", timeout=240)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip())
    assert result["name"] == "decision"
    # 15 wall seconds at 300x from the open (the run lasts LEAD_S more, during which the open goes out):
    # at most 300 SPX and 300 NDX bars per wall second of the run
    from scalper.apps.paper import LEAD_S

    assert 2 * 75 * 60 * 0.5 < result["events"] <= 2 * 300 * (15 + LEAD_S)
    assert result["engine_events"] > result["events"]
    assert 0 < result["p50_us"] <= result["p99_us"] <= result["max_us"]
    bad = scalper("bench", "decision", "--seconds", "1")
    assert bad.returncode == 2 and "--seconds" in bad.stderr


def test_synth_writes_polygon_flat_files(scalper: Run, tmp_path: Path) -> None:
    out = scalper("synth", str(tmp_path / "m"), "--sessions", "1", "--start", "2025-11-28", "--what", "flatfiles")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "m/flatfiles/us_indices/values_v1/2025/11/2025-11-28.csv.gz").exists()
    bad = scalper("synth", str(tmp_path / "m"), "--what", "movies")
    assert bad.returncode == 2 and "--what" in bad.stderr


def test_replay_server_command_serves_the_protocol(tmp_path: Path) -> None:
    import asyncio
    import os
    import socket
    import sys
    import time

    import websockets

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalper", "replay-server", "--port", str(port), "--speed", "0", "--api-key", "k1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    async def talk() -> list[str]:
        deadline = time.monotonic() + 30
        while True:
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/indices")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        async with ws:
            frames = [str(await ws.recv())]
            await ws.send('{"action":"auth","params":"k1"}')
            frames.append(str(await ws.recv()))
            await ws.send('{"action":"subscribe","params":"V.I:SPX"}')
            frames.append(str(await ws.recv()))
            frames.append(str(await asyncio.wait_for(ws.recv(), 30)))
            return frames

    try:
        frames = asyncio.run(talk())
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert '"connected"' in frames[0] and '"auth_success"' in frames[1]
    assert "subscribed to: V.I:SPX" in frames[2]
    assert '"ev":"V"' in frames[3].replace(" ", "") and "I:SPX" in frames[3]


def test_run_refuses_real_orders_without_the_flag_the_broker_and_the_keys(scalper: Run) -> None:
    sim = scalper("run", "--live", "--duration", "5")
    assert sim.returncode == 2 and "broker.kind = 'alpaca'" in " ".join(sim.stderr.split())
    no_keys = scalper("run", "--live", "--duration", "5", env={"SCALPER_BROKER__KIND": "alpaca"})
    assert no_keys.returncode == 2 and "APCA_API_KEY_ID" in no_keys.stderr
    by_file = scalper("run", "--duration", "5", env={"SCALPER_BROKER__LIVE": "true"})
    assert by_file.returncode == 2 and "--live" in by_file.stderr
    secret = "sk-never-printed-123"
    keyed = scalper(
        "run", "--live", "--duration", "5", env={"SCALPER_BROKER__KIND": "sim", "APCA_API_SECRET_KEY": secret}
    )
    assert keyed.returncode == 2 and secret not in keyed.stdout + keyed.stderr
