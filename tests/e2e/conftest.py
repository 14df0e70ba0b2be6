"""Run the ``scalper`` command as a user would: a subprocess with a controlled environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SECRET_VARS = (
    "MASSIVE_API_KEY",
    "POLYGON_API_KEY",
    "APCA_API_KEY_ID",
    "APCA_API_SECRET_KEY",
    "SCALPER_DATABASE_URL",
    "SCALPER_DISCORD_WEBHOOK_URL",
    "SCALPER_CONFIG",
)

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def scalper(tmp_path: Path) -> Run:
    """``scalper(*args, env={...})`` runs the CLI in ``tmp_path`` and returns the finished process."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if k not in SECRET_VARS and not k.startswith("SCALPER_")}
        base["SCALPER_DATABASE__EMBEDDED_DIR"] = str(tmp_path / "pgdata")  # never the user's own
        base["COLUMNS"] = "200"
        return subprocess.run(
            [sys.executable, "-m", "scalper", *args],
            cwd=tmp_path,
            env=base | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
