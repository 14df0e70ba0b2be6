"""``scalper bench reference --json``: the reference workload in scalper's engine beside backtrader."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from scalper.bench.reference_bars import ema_cross_reference, make_bars

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_reference_prints_both_engines_figures_and_their_agreement(scalper: Run) -> None:
    out = scalper("bench", "reference", "--json", "--sessions", "2", timeout=300)
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.strip().splitlines()
    result = json.loads(line)
    keys = {"name", "bars", "events_per_s", "fills", "pnl", "backtrader_events_per_s", "ratio"}
    assert keys <= set(result)
    bars = make_bars(2)
    fills, units, position, pnl = ema_cross_reference(bars["open"], bars["close"])
    assert result["name"] == "reference" and result["bars"] == 2 * 23_400
    assert (result["fills"], result["units"], result["position"], result["pnl"]) == (
        fills,
        units,
        position,
        round(pnl, 2),
    )
    assert (result["backtrader_fills"], result["backtrader_pnl"]) == (fills, round(pnl, 2))
    assert result["agree"] is True
    assert result["events_per_s"] > 0 and result["backtrader_events_per_s"] > 0
    assert abs(result["ratio"] - result["events_per_s"] / result["backtrader_events_per_s"]) < 0.1
