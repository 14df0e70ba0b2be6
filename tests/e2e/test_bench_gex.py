"""``scalper bench gex --json``: the dealer gamma benchmark, no database."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_gex_prints_one_json_object_with_its_figures(scalper: Run) -> None:
    out = scalper("bench", "gex", "--json")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert {"name", "contracts", "grid", "ms"} <= set(result)
    assert result["name"] == "gex" and result["contracts"] == 5000 and result["grid"] == 200
    assert 0 < result["min_ms"] <= result["ms"]
