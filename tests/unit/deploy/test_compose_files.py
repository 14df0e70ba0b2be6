"""The deployment files without Docker: the compose file parses, everything it mounts or builds
exists, every variable it needs is in .env.example, the scalper services run valid commands, and
Prometheus scrapes the runner where it serves its metrics."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalper.config.model import MetricsConfig

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_service_is_defined_with_a_health_check_or_runs_once(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"timescaledb", "migrate", "run", "scheduler", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        if service.get("restart") == "no":
            continue  # a one-shot job (the migrations)
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_what_the_services_mount_and_build_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in compose["volumes"], f"{name} uses an undeclared volume {source}"
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
            assert (context / "pyproject.toml").is_file(), name


def test_every_variable_the_compose_file_needs_is_in_the_env_example(compose: dict[str, Any]) -> None:
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    needed = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    offered = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert needed, "the compose file takes its secrets from the environment"
    assert needed <= offered, f"missing from .env.example: {sorted(needed - offered)}"
    for line in example.splitlines():  # no real secret shipped: empty or a placeholder
        if "=" in line and not line.startswith("#"):
            value = line.split("=", 1)[1]
            assert value in ("", "change-me", "sim"), line


def test_the_scalper_services_run_commands_the_cli_has(compose: dict[str, Any]) -> None:
    commands = [s["command"] for s in compose["services"].values() if s.get("image") == "scalper:latest"]
    commands += [
        s["healthcheck"]["test"][2:]
        for s in compose["services"].values()
        if s.get("healthcheck", {}).get("test", [None, None])[1] == "scalper"
    ]
    assert ["run"] in commands and ["scheduler"] in commands
    for command in commands:
        words = [w for w in command if not w.startswith("--")]
        out = subprocess.run(
            [sys.executable, "-m", "scalper", *words, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, f"scalper {' '.join(command)}: {out.stderr[-500:]}"
        for option in (w for w in command if w.startswith("--")):
            assert option in out.stdout, f"scalper {' '.join(words)} has no option {option}"


def test_prometheus_scrapes_the_runner_on_its_metrics_port(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    port = MetricsConfig().port
    assert f"run:{port}" in targets
    run = compose["services"]["run"]
    assert run["environment"]["SCALPER_METRICS__HOST"] == "0.0.0.0"  # reachable from the prometheus container
    assert any(p.endswith(f":{port}") for p in run["ports"])
