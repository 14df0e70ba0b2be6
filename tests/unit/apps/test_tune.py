"""Tune's pure parts: the grid, the walk-forward selection on a known matrix, the thresholds rewrite."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from scalper.apps.tune import (
    apply_result,
    combinations,
    evaluate,
    next_version,
    parse_grid,
    rewrite_thresholds,
    with_overrides,
)
from scalper.core.errors import ConfigError
from scalper.strategy.thresholds import load_thresholds

PACKAGED = resources.files("scalper.strategy").joinpath("thresholds.toml").read_text(encoding="utf-8")


def days(n: int) -> list[dt.date]:
    return [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(n)]


def test_the_grid_is_typed_like_the_file_and_refuses_unknown_keys() -> None:
    t = load_thresholds()
    axes = parse_grid(["SPX_TREND_BURST.band_k=0.5,1.5", "SPX_TREND_BURST.confirm_s=30,60,90"], t)
    assert axes[0].values == (0.5, 1.5) and axes[1].values == (30, 60, 90)
    sets = combinations(axes)
    assert len(sets) == 6 and sets[0] == {"SPX_TREND_BURST": {"band_k": 0.5, "confirm_s": 30}}
    variant = with_overrides(t, sets[-1], "v-test")
    assert variant.play_sections()["SPX_TREND_BURST"]["confirm_s"] == 90 and variant.version == "v-test"
    for bad, message in (
        ("SPX_TREND_BURST.band=1", "has no key 'band'"),
        ("NOPE.band_k=1", "unknown play NOPE"),
        ("SPX_TREND_BURST.confirm_s=1.5", "is not a int"),
        ("band_k=1", "expected PLAY.key=v1,v2"),
        ("SPX_TREND_BURST.band_k=1,1", "given twice"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_grid([bad], t)


def test_walk_forward_chooses_on_the_past_and_reports_only_what_follows() -> None:
    # set 0 wins the first 6 sessions, set 1 the last 6: a rolling 4-session window switches to it late
    m = np.zeros((12, 2))
    m[:6, 0], m[6:, 1] = 10.0, 10.0
    m[:6, 1], m[6:, 0] = -1.0, -1.0
    overrides = [{"P": {"k": 1}}, {"P": {"k": 2}}]
    out = evaluate(days(12), overrides, m, train=4, test=2)
    # folds test sessions 4-5, 6-7, 8-9, 10-11 after the 4 before each; on 4-7 both sets total 18: a tie
    # keeps the first set
    assert [f["set"] for f in out["folds"]] == [0, 0, 0, 1]
    e = out["evidence"]
    assert e["oos_sessions"] == 8 and e["oos_first"] == str(days(12)[4])
    # out of sample: set 0 on 4-5 (+10 +10) and 6-9 (-1 x 4: it lost its edge), set 1 on 10-11 (+10 +10)
    assert e["oos_total_pnl"] == pytest.approx(20 - 4 + 20)
    assert out["proposal"] == 1 and 0.0 <= e["pbo"] <= 1.0


def test_the_rewrite_keeps_the_file_and_changes_only_the_keys() -> None:
    text, changes = rewrite_thresholds(PACKAGED, {"SPX_TREND_BURST": {"band_k": 1.25, "confirm_s": 45}}, "policy-x.1")
    data = tomllib.loads(text)
    assert data["version"] == "policy-x.1"
    assert data["plays"]["SPX_TREND_BURST"]["band_k"] == 1.25 and data["plays"]["SPX_TREND_BURST"]["confirm_s"] == 45
    assert data["plays"]["NDX_TREND_BURST"]["band_k"] == tomllib.loads(PACKAGED)["plays"]["NDX_TREND_BURST"]["band_k"]
    assert [c[0] for c in changes] == ["SPX_TREND_BURST.band_k", "SPX_TREND_BURST.confirm_s"]
    assert len(text.splitlines()) == len(PACKAGED.splitlines())  # comments and layout kept
    with pytest.raises(ConfigError, match="keys not found"):
        rewrite_thresholds(PACKAGED, {"SPX_TREND_BURST": {"nope": 1}}, "v")


def test_versions_count_within_a_day() -> None:
    today = dt.date(2026, 11, 25)
    assert next_version("policy-2026-11-25.4", today) == "policy-2026-11-25.5"
    assert next_version("policy-2026-11-24.9", today) == "policy-2026-11-25.1"
    assert next_version("custom", today) == "policy-2026-11-25.1"


def test_apply_writes_a_valid_new_version_and_a_progress_entry(tmp_path: Path) -> None:
    thresholds, progress = tmp_path / "thresholds.toml", tmp_path / "PROGRESS.md"
    thresholds.write_text(PACKAGED, encoding="utf-8")
    progress.write_text("# Progress\n\nintro\n\n## 2026-01-01 — older entry\n\nold\n", encoding="utf-8")
    current = load_thresholds(thresholds).version
    result = {
        "thresholds_version": current,
        "train": 4,
        "test": 2,
        "sets": [
            {"index": 0, "label": "SPX_TREND_BURST.band_k=1.25", "override": {"SPX_TREND_BURST": {"band_k": 1.25}}}
        ],
        "proposal": 0,
        "folds": [{"fold": 0, "label": "SPX_TREND_BURST.band_k=1.25"}],
        "evidence": {
            "oos_sessions": 8,
            "oos_first": "2025-01-05",
            "oos_last": "2025-01-12",
            "oos_total_pnl": 58.0,
            "oos_mean_daily_pnl": 7.25,
            "oos_days_positive": 6,
            "oos_deflated_sharpe": 0.91,
            "pbo": 0.2,
        },
    }
    old, new = apply_result(result, thresholds, progress, dt.date(2026, 11, 25))
    assert old == current and load_thresholds(thresholds).version == new != old
    assert load_thresholds(thresholds).play_sections()["SPX_TREND_BURST"]["band_k"] == 1.25
    log = progress.read_text(encoding="utf-8")
    assert log.index(f"thresholds {old} → {new}") < log.index("older entry")  # newest first
    assert "| `SPX_TREND_BURST.band_k` |" in log and "Out-of-sample only: 8 sessions" in log and "58.00 $" in log
    with pytest.raises(ConfigError, match="tune again on the current thresholds"):
        apply_result(result, thresholds, progress, dt.date(2026, 11, 25))
