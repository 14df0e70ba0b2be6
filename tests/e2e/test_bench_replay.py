"""``scalper bench replay --json``: the whole pipeline over synthetic sessions, no database."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_replay_trades_through_the_whole_pipeline_and_prints_its_figures(scalper: Run) -> None:
    out = scalper("bench", "replay", "--json", "--sessions", "2", timeout=600)
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.strip().splitlines()
    result = json.loads(line)
    assert {"name", "events", "events_per_s"} <= set(result)
    assert result["name"] == "replay" and result["sessions"] == 2
    assert result["events"] == result["compiled_events"] + result["python_events"] > 150_000
    assert result["entries"] > 0 and result["fills"] > 0  # the plays traded: not an idle replay
    assert result["events_per_s"] > 0
