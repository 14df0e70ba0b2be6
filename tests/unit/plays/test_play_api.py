"""The Play API: the proxy mapping, intents, the loader by import path and its errors, the thresholds sections."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import pytest

from scalper.core.errors import ConfigError, InvariantError
from scalper.plays import EnterIntent, Intent, Play, PlayConfig, Skip, load_play, load_plays, resolve_play, to_proxy
from scalper.plays.balanced_break import BalancedBreak
from scalper.plays.base import Snapshot
from scalper.plays.trend_burst import TrendBurst, TrendBurstConfig
from scalper.strategy.policy import PLAYS, Gates
from scalper.strategy.thresholds import Level, load_thresholds

TREND = {
    "index": "I:SPX",
    "proxy": "SPY",
    "opening_range": 30,
    "band_k": 1.0,
    "stop_at": "vwap",
    "confirm_s": 0,
    "reward_risk": 2.0,
    "cooldown_s": 0,
}
TEXT = resources.files("scalper.strategy").joinpath("thresholds.toml").read_text(encoding="utf-8")


class AlwaysLong(Play[PlayConfig]):
    """A user's play: long at every close, stop 1 point below."""

    config_model: ClassVar[type[PlayConfig]] = PlayConfig
    kind: ClassVar[str] = "ALWAYS_LONG"

    def _evaluate(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, gates: Gates | None
    ) -> Intent | Skip:
        close = index["close"]
        assert close is not None
        return self._enter(ts_ns, index, direction=1, level=level, price=close, stop=close - 1.0, reasons=[])


def test_to_proxy_divides_by_the_index_over_proxy_ratio() -> None:
    assert to_proxy(5012.0, 10.0) == pytest.approx(501.2)
    assert to_proxy(20_000.0, 40.5) == pytest.approx(493.82716, rel=1e-6)


@pytest.mark.parametrize("ratio", [0.0, -10.0, math.nan, math.inf])
def test_to_proxy_refuses_a_ratio_that_is_not_ready(ratio: float) -> None:
    with pytest.raises(InvariantError, match="proxy ratio: expected a finite number > 0"):
        to_proxy(5000.0, ratio)


def test_to_proxy_refuses_a_bad_price() -> None:
    with pytest.raises(InvariantError, match=r"index price: expected a finite number > 0, was -1\.0"):
        to_proxy(-1.0, 10.0)


def _intent(**over: Any) -> EnterIntent:
    fields: dict[str, Any] = {
        "play": "SPX_X",
        "ts_ns": 1,
        "index": "I:SPX",
        "proxy": "SPY",
        "direction": 1,
        "level": "normal",
        "price": 5010.0,
        "stop": 5000.0,
        "target": 5030.0,
        "ratio": 10.0,
        "reasons": (),
    }
    fields.update(over)
    return EnterIntent(**fields)


def test_enter_intent_maps_every_price_to_the_proxy() -> None:
    i = _intent()
    assert (i.proxy_price, i.proxy_stop, i.proxy_target) == pytest.approx((501.0, 500.0, 503.0))
    assert i.stop_points == 10.0
    assert i.proxy_stop_distance == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"stop": 5011.0}, "stop 5011.0 is not on the losing side of 5010.0 for direction \\+1"),
        ({"direction": -1}, "stop 5000.0 is not on the losing side of 5010.0 for direction -1"),
        ({"target": 5005.0}, "target 5005.0 is not on the winning side"),
        ({"direction": 0}, "direction: expected \\+1 or -1, was 0"),
        ({"level": "off"}, "level: expected reduced, normal or aggressive, was 'off'"),
        ({"ratio": math.nan}, "ratio: expected a finite number > 0, was nan"),
    ],
)
def test_enter_intent_refuses_inconsistent_values(over: dict[str, Any], message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        _intent(**over)


def test_load_play_by_import_path_derives_the_name() -> None:
    play = load_play("scalper.plays.trend_burst:TrendBurst", TREND)
    assert isinstance(play, TrendBurst)
    assert (play.name, play.index, play.proxy) == ("SPX_TREND_BURST", "I:SPX", "SPY")
    ndx = load_play("scalper.plays.trend_burst:TrendBurst", {**TREND, "index": "I:NDX", "proxy": "QQQ"})
    assert (ndx.name, ndx.index, ndx.proxy) == ("NDX_TREND_BURST", "I:NDX", "QQQ")
    named = load_play("scalper.plays.trend_burst:TrendBurst", TrendBurstConfig.model_validate(TREND), name="MY_BURST")
    assert named.name == "MY_BURST"


def test_a_users_play_loads_and_maps_through_the_ratio() -> None:
    play = load_play(f"{__name__}:AlwaysLong", {"index": "I:SPX", "proxy": "SPY", "reward_risk": 3, "cooldown_s": 0})
    intent = play.on_snapshot(10, {"close": 5000.0, "proxy_ratio": 10.0}, {}, "reduced")
    assert isinstance(intent, EnterIntent)
    assert (intent.play, intent.level, intent.target) == ("SPX_ALWAYS_LONG", "reduced", 5003.0)
    assert intent.proxy_target == pytest.approx(500.3)
    assert intent.reasons == (("POLICY", "policy level reduced"),)
    none = play.on_snapshot(11, {"close": 5000.0, "proxy_ratio": None}, {}, "normal")
    assert none is None
    assert play.last_skip is not None and play.last_skip.code == "RATIO_NOT_READY"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("scalper.plays.trend_burst.TrendBurst", "expected 'package.module:Class'"),
        ("scalper.plays.trend_burst:", "expected 'package.module:Class'"),
        ("scalper.plays.no_such_play:Thing", "module 'scalper.plays.no_such_play' cannot be imported"),
        ("scalper.plays.trend_burst:TrendBrust", "module 'scalper.plays.trend_burst' has no attribute 'TrendBrust'"),
        ("scalper.plays.base:to_proxy", "'to_proxy' is not a subclass of scalper.plays.base.Play"),
        ("scalper.plays.base:Play", "'Play' is not a subclass"),
    ],
)
def test_a_bad_import_path_is_named(path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"play path '{path}': .*{message}"):
        resolve_play(path)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"band_kk": 1.0}, "band_kk: unknown key"),
        ({"band_k": -1.0}, "band_k: value -1.0 is invalid"),
        ({"opening_range": 10}, "opening_range: value 10 is invalid"),
        ({"stop_at": "or"}, "stop_at: value 'or' is invalid"),
        ({"index": "SPX"}, "index: value 'SPX' is invalid"),
    ],
)
def test_a_bad_config_names_the_key(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=f"play SPX_TREND_BURST: invalid config:\n  {message}"):
        load_play("scalper.plays.trend_burst:TrendBurst", {**TREND, **over}, name="SPX_TREND_BURST")


def test_a_missing_key_is_named() -> None:
    config = {k: v for k, v in TREND.items() if k != "reward_risk"}
    with pytest.raises(ConfigError, match="reward_risk: key is missing"):
        load_play("scalper.plays.trend_burst:TrendBurst", config)


def test_a_config_of_another_play_is_refused() -> None:
    with pytest.raises(ConfigError, match="TrendBurst: expected a TrendBurstConfig, was PlayConfig"):
        TrendBurst(PlayConfig(index="I:SPX", proxy="SPY", reward_risk=2, cooldown_s=0))  # type: ignore[arg-type]


def test_bad_level_and_time_going_backwards_are_refused() -> None:
    play = load_play("scalper.plays.trend_burst:TrendBurst", TREND)
    with pytest.raises(InvariantError, match=r"level: expected one of .*, was 'full'"):
        play.on_snapshot(10, {}, {}, "full")  # type: ignore[arg-type]
    play.on_snapshot(10, {}, {}, "normal")
    with pytest.raises(InvariantError, match="time went backwards: 9 after 10"):
        play.on_snapshot(9, {}, {}, "normal")


def test_the_packaged_thresholds_hold_the_four_plays_of_the_policy() -> None:
    th = load_thresholds()
    plays = load_plays(th.play_sections())
    assert set(plays) == set(PLAYS)
    for name, (index, _style) in PLAYS.items():
        assert plays[name].name == name
        assert plays[name].index == index
    assert {plays[n].proxy for n in ("SPX_TREND_BURST", "SPX_BALANCED_BREAK")} == {"SPY"}
    assert {plays[n].proxy for n in ("NDX_TREND_BURST", "NDX_BALANCED_BREAK")} == {"QQQ"}
    assert isinstance(plays["NDX_BALANCED_BREAK"], BalancedBreak)


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("band_k = 1.0    ", "band_k = -2.0   ", r"play SPX_TREND_BURST: invalid config:\n  band_k: value -2.0"),
        ("atr_ratio_max = 0.8 ", "atr_ratio_max = 0.0 ", r"play SPX_BALANCED_BREAK: .*atr_ratio_max: value 0.0"),
        (
            'play = "scalper.plays.trend_burst:TrendBurst"',
            'play = "scalper.plays.trend_burst:Nope"',
            r"play path 'scalper.plays.trend_burst:Nope': .*no attribute 'Nope'",
        ),
        (
            'play = "scalper.plays.trend_burst:TrendBurst"',
            'play = "trend burst"',
            r"plays.SPX_TREND_BURST.play: value 'trend burst' is invalid",
        ),
    ],
)
def test_a_bad_play_section_in_the_thresholds_file_is_named(
    tmp_path: Path, replace: str, by: str, message: str
) -> None:
    assert replace in TEXT
    path = tmp_path / "thresholds.toml"
    path.write_text(TEXT.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"(?s)invalid thresholds in {path}.*{message}"):
        load_thresholds(path)
