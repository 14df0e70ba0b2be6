"""Balanced break on constructed sessions: the compression range, the confirmed release, once per range."""

from __future__ import annotations

from typing import Any

import pytest

from scalper.plays import EnterIntent, ExitIntent
from scalper.plays.balanced_break import BalancedBreak, BalancedBreakConfig
from scalper.strategy.thresholds import Level

S = 1_000_000_000
T0 = 1_764_084_600 * S
BASE: dict[str, Any] = {
    "index": "I:SPX",
    "proxy": "SPY",
    "atr_ratio_max": 0.8,
    "min_compression_s": 120,
    "release_window_s": 60,
    "rel_volume_min": 1.0,
    "delta_min": 0.0,
    "exit_reentry_fraction": 0.5,
    "reward_risk": 1.5,
    "cooldown_s": 0,
}
#: 7 compressed snapshots 30 s apart (0 … 180 s): range [5000, 5004] over 180 s, delta flat at 1000
COMPRESSION = [5002.0, 5004.0, 5000.0, 5003.0, 5001.0, 5004.0, 5002.0]


def play(**over: Any) -> BalancedBreak:
    return BalancedBreak(BalancedBreakConfig.model_validate({**BASE, **over}))


class Session:
    """Feeds (time, index snapshot, proxy snapshot) to a play and records intents and skip codes."""

    def __init__(self, p: BalancedBreak) -> None:
        self.p = p
        self.codes: list[str] = []
        self.intents: list[EnterIntent | ExitIntent] = []

    def step(
        self,
        t_s: int,
        close: float,
        *,
        squeeze: float | None = 1.0,
        atr_ratio: float | None = 0.6,
        rel_volume: float | None = 1.3,
        cum_delta: float | None = 1000.0,
        delta_method: float | None = 2.0,
        ratio: float | None = 10.0,
        level: Level = "normal",
    ) -> str:
        index = {"close": close, "squeeze": squeeze, "atr_ratio": atr_ratio, "proxy_ratio": ratio}
        proxy = {"rel_volume": rel_volume, "cum_delta": cum_delta, "delta_method": delta_method}
        out = self.p.on_snapshot(T0 + t_s * S, index, proxy, level)
        if out is not None:
            self.intents.append(out)
        code = type(out).__name__ if out is not None else self.p.last_skip.code if self.p.last_skip else "?"
        self.codes.append(code)
        return code

    def compress(self, start_s: int = 0, **kw: Any) -> None:
        for i, c in enumerate(COMPRESSION):
            self.step(start_s + 30 * i, c, **kw)


def test_long_entry_on_the_first_confirmed_close_above_the_range() -> None:
    s = Session(play())
    s.compress()
    assert s.codes == ["NO_RANGE"] * 5 + ["NO_BREAKOUT", "NO_BREAKOUT"]  # tradable from 120 s on
    assert s.p.range == (5004.0, 5000.0)
    assert s.step(210, 5006.0, cum_delta=1500.0) == "EnterIntent"
    intent = s.intents[0]
    assert isinstance(intent, EnterIntent)
    assert (intent.direction, intent.price, intent.stop, intent.target) == (1, 5006.0, 5000.0, 5015.0)
    assert intent.ts_ns == T0 + 210 * S and intent.proxy == "SPY"
    assert intent.proxy_stop_distance == pytest.approx(0.6)
    assert [c for c, _ in intent.reasons] == ["RANGE", "RELEASE", "VOLUME", "DELTA", "POLICY"]


def test_short_entry_below_the_range_with_selling_delta() -> None:
    s = Session(play())
    s.compress()
    assert s.step(210, 4998.0, squeeze=0.0, cum_delta=400.0) == "EnterIntent"
    intent = s.intents[0]
    assert isinstance(intent, EnterIntent)
    assert (intent.direction, intent.stop, intent.target) == (-1, 5004.0, 4989.0)


@pytest.mark.parametrize(
    ("compression", "release", "code"),
    [
        ({"squeeze": 0.0}, {}, "NO_RANGE"),  # never in squeeze
        ({"atr_ratio": 0.9}, {}, "NO_RANGE"),  # squeeze, but the ATR ratio is above 0.8
        ({}, {"rel_volume": 0.9}, "NO_VOLUME"),
        ({}, {"rel_volume": None}, "NO_VOLUME"),
        ({}, {"cum_delta": 900.0}, "NO_DELTA"),  # selling into an up-break
        ({}, {"cum_delta": 1000.0}, "NO_DELTA"),  # delta flat
        ({}, {"level": "off"}, "POLICY_OFF"),
        ({}, {"ratio": None}, "RATIO_NOT_READY"),
        ({}, {"atr_ratio": None}, "NOT_READY"),
    ],
)
def test_one_failing_condition_means_no_entry(compression: dict[str, Any], release: dict[str, Any], code: str) -> None:
    s = Session(play())
    s.compress(**compression)
    assert s.step(210, 5006.0, **{"cum_delta": 1500.0, **release}) == code
    assert s.intents == []
    # the same session with the condition restored enters
    ok = Session(play())
    ok.compress()
    assert ok.step(210, 5006.0, cum_delta=1500.0) == "EnterIntent"


def test_a_short_compression_is_not_a_range() -> None:
    s = Session(play(min_compression_s=300))
    s.compress()
    assert s.step(210, 5006.0, cum_delta=1500.0) == "NO_RANGE"


def test_without_a_delta_method_volume_alone_confirms_and_says_so() -> None:
    s = Session(play())
    s.compress(delta_method=0.0, cum_delta=None)
    assert s.step(210, 5006.0, delta_method=0.0, cum_delta=None) == "EnterIntent"
    intent = s.intents[0]
    assert isinstance(intent, EnterIntent)
    assert "DELTA_UNKNOWN" in [c for c, _ in intent.reasons]


def test_the_release_window_after_the_compression() -> None:
    late = Session(play())
    late.compress()
    assert late.step(200, 5003.0, squeeze=0.0) == "NO_BREAKOUT"
    assert late.step(241, 5006.0, squeeze=0.0, cum_delta=1500.0) == "NO_RANGE"  # 61 s after the last squeeze
    in_time = Session(play())
    in_time.compress()
    assert in_time.step(200, 5003.0, squeeze=0.0) == "NO_BREAKOUT"
    assert in_time.step(240, 5006.0, squeeze=0.0, cum_delta=1500.0) == "EnterIntent"


def test_once_per_range_and_a_new_range_after_a_new_compression() -> None:
    s = Session(play())
    s.compress()
    assert s.step(210, 5006.0, cum_delta=1500.0) == "EnterIntent"
    s.p.position_closed(T0 + 220 * S)
    # still in squeeze: the range was consumed and no new one starts until compression ends
    assert [s.step(t, 5008.0, cum_delta=2000.0) for t in (230, 240)] == ["NO_RANGE", "NO_RANGE"]
    assert s.step(250, 5007.0, squeeze=0.0) == "NO_RANGE"
    s.compress(start_s=260)  # a new range [5000, 5004] over 260 … 440 s
    assert s.step(470, 5006.0, cum_delta=1600.0) == "EnterIntent"
    assert len(s.intents) == 2


def test_failed_release_exit_halfway_back_into_the_range() -> None:
    s = Session(play())
    s.compress()
    s.step(210, 5006.0, cum_delta=1500.0)
    assert s.step(211, 5002.5, squeeze=0.0) == "IN_POSITION"  # exit edge 5004 - 0.5 x 4 = 5002
    assert s.step(212, 5001.9, squeeze=0.0) == "ExitIntent"
    exit_ = s.intents[-1]
    assert isinstance(exit_, ExitIntent) and exit_.reason[0] == "FAILED_RELEASE"


def test_a_failed_release_extends_the_range_while_compressed() -> None:
    s = Session(play())
    s.compress()
    assert s.step(210, 5006.0, rel_volume=0.5) == "NO_VOLUME"
    assert s.p.range == (5006.0, 5000.0)
    assert s.step(220, 5005.0, cum_delta=1500.0) == "NO_BREAKOUT"
    assert s.step(230, 5007.0, cum_delta=1500.0) == "NO_DELTA"  # inside at 220 s with delta 1500
    assert s.step(240, 5008.0, cum_delta=1600.0) == "EnterIntent"


def test_policy_off_blocks_the_release_entry_and_the_level_passes_through() -> None:
    blocked = Session(play())
    blocked.compress()
    assert blocked.step(210, 5006.0, cum_delta=1500.0, level="off") == "POLICY_OFF"  # a release normal takes
    assert blocked.intents == []
    for level in ("reduced", "normal", "aggressive"):
        s = Session(play())
        s.compress()
        assert s.step(210, 5006.0, cum_delta=1500.0, level=level) == "EnterIntent"
        (intent,) = s.intents
        assert isinstance(intent, EnterIntent) and intent.level == level and intent.direction == 1
