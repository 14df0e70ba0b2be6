"""The versioned thresholds file: the packaged one loads; bad keys and values are named."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest

from scalper.core.errors import ConfigError
from scalper.strategy.thresholds import load_thresholds

TEXT = resources.files("scalper.strategy").joinpath("thresholds.toml").read_text(encoding="utf-8")


def test_packaged_thresholds_load_with_a_version() -> None:
    th = load_thresholds()
    assert th.version.startswith("policy-")
    assert th.policy.open_release_until == dt.time(9, 45)
    assert th.policy.calendar.required_kinds == ["FOMC", "CPI", "NFP"]


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("trend_favour = 0.60", "trend_favour = 1.5", r"policy.trend_favour: value 1.5 is invalid"),
        ("trend_favour = 0.60", "trend_favor = 0.60", r"policy.trend_favor: unknown key"),
        ('open_release_until = "09:45"', 'open_release_until = "9h45"', r"policy.open_release_until: value '9h45'"),
        ('fomc_after_level = "reduced"', 'fomc_after_level = "tiny"', r"policy.fomc_after_level: value 'tiny'"),
        ('"ISM", "JOLTS"', '"ISM", "JOLT"', r"policy.intraday_release_kinds: .*unknown event kind"),
        ("off_below_sessions = 1", "off_below_sessions = 20", r"policy.calendar: .*must not exceed"),
        ('version = "policy-2026-11-25.4"', "", r"version: key is missing"),
        ('rule = "atr"', 'rule = "chandelier"', r"risk.trailing.rule: value 'chandelier'"),
    ],
)
def test_bad_thresholds_name_the_key(tmp_path: Path, replace: str, by: str, message: str) -> None:
    assert replace in TEXT
    path = tmp_path / "thresholds.toml"
    path.write_text(TEXT.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_thresholds(path)


def test_not_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text("version = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_thresholds(path)
