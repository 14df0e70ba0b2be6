"""Trend burst on constructed sessions: enters exactly where its rules say, once per breakout."""

from __future__ import annotations

from typing import Any

import pytest

from scalper.plays import EnterIntent, ExitIntent, Intent
from scalper.plays.trend_burst import TrendBurst, TrendBurstConfig
from scalper.strategy.thresholds import Level

S = 1_000_000_000
T0 = 1_764_081_000 * S  # a time after the opening range is over
BASE: dict[str, Any] = {
    "index": "I:SPX",
    "proxy": "SPY",
    "opening_range": 30,
    "band_k": 1.0,
    "stop_at": "vwap",
    "confirm_s": 0,
    "reward_risk": 2.0,
    "cooldown_s": 0,
}


def play(**over: Any) -> TrendBurst:
    return TrendBurst(TrendBurstConfig.model_validate({**BASE, **over}))


def snap(close: float, **over: float | None) -> dict[str, float | None]:
    """I:SPX: vwap 5000 ± 5 (band at k = 1: 4995 / 5005), or30 [4990, 5010], aligned up, ratio 10."""
    s: dict[str, float | None] = {
        "close": close,
        "vwap": 5000.0,
        "vwap_std": 5.0,
        "or5_high": 5004.0,
        "or5_low": 4998.0,
        "or15_high": 5007.0,
        "or15_low": 4994.0,
        "or30_high": 5010.0,
        "or30_low": 4990.0,
        "aligned": 1.0,
        "proxy_ratio": 10.0,
    }
    s.update(over)
    return s


def run(
    p: TrendBurst, snaps: list[dict[str, float | None]], level: Level = "normal", step_s: int = 1
) -> list[Intent | None]:
    return [p.on_snapshot(T0 + i * step_s * S, s, {}, level) for i, s in enumerate(snaps)]


def codes(p: TrendBurst, snaps: list[dict[str, float | None]], start_s: int = 0) -> list[str]:
    """The intent type or the skip code of each snapshot, one second apart from ``start_s``."""
    out = []
    for i, s in enumerate(snaps):
        r = p.on_snapshot(T0 + (start_s + i) * S, s, {}, "normal")
        out.append(type(r).__name__ if r is not None else p.last_skip.code if p.last_skip else "?")
    return out


def test_long_entry_on_the_first_close_beyond_the_range_and_the_band() -> None:
    p = play()
    out = run(p, [snap(5003.0), snap(5008.0), snap(5012.0)])
    assert out[:2] == [None, None]
    intent = out[2]
    assert isinstance(intent, EnterIntent)
    assert (intent.direction, intent.price, intent.stop, intent.target) == (1, 5012.0, 5000.0, 5036.0)
    assert (intent.ts_ns, intent.level, intent.play, intent.proxy) == (T0 + 2 * S, "normal", "SPX_TREND_BURST", "SPY")
    assert (intent.proxy_price, intent.proxy_stop, intent.proxy_target) == pytest.approx((501.2, 500.0, 503.6))
    assert [code for code, _ in intent.reasons] == ["ALIGNED", "BREAKOUT", "BEYOND_BAND", "POLICY"]


def test_short_entry_with_the_stop_at_the_other_side_of_the_range() -> None:
    p = play(stop_at="range")
    assert codes(p, [snap(4992.0, aligned=-1.0)]) == ["NO_BREAKOUT"]
    intent = p.on_snapshot(T0 + S, snap(4989.0, aligned=-1.0), {}, "normal")
    assert isinstance(intent, EnterIntent)
    assert (intent.direction, intent.price, intent.stop, intent.target) == (-1, 4989.0, 5010.0, 4947.0)


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"aligned": 0.0}, "NOT_ALIGNED"),
        ({"aligned": -1.0}, "NO_BREAKOUT"),  # price breaks up, slopes point down
        ({"or30_high": 5013.0}, "NO_BREAKOUT"),
        ({"vwap": 5010.0}, "INSIDE_BANDS"),  # band at 5015
        ({"vwap_std": 13.0}, "INSIDE_BANDS"),  # band at 5013
        ({"proxy_ratio": None}, "RATIO_NOT_READY"),
        ({"proxy_ratio": float("nan")}, "RATIO_NOT_READY"),
        ({"or30_high": None}, "NOT_READY"),
        ({"aligned": float("nan")}, "NOT_READY"),
    ],
)
def test_one_failing_condition_means_no_entry(over: dict[str, float | None], code: str) -> None:
    p = play()
    assert run(p, [snap(5012.0, **over)]) == [None]
    assert p.last_skip is not None and p.last_skip.code == code
    # the same close with the condition restored enters
    assert isinstance(run(play(), [snap(5012.0)])[0], EnterIntent)


def test_not_ready_names_the_fields() -> None:
    p = play()
    run(p, [snap(5012.0, or30_high=None, vwap_std=None)])
    assert p.last_skip is not None and p.last_skip.text == "I:SPX features not ready: vwap_std, or30_high"


def test_policy_off_blocks_the_entry_and_levels_pass_through() -> None:
    p = play()
    assert run(p, [snap(5012.0)], level="off") == [None]
    assert p.last_skip is not None and p.last_skip.code == "POLICY_OFF"
    levels: tuple[Level, ...] = ("reduced", "normal", "aggressive")
    for level in levels:
        intent = run(play(), [snap(5012.0)], level=level)[0]
        assert isinstance(intent, EnterIntent) and intent.level == level


def test_once_per_breakout_then_again_after_a_return_inside_the_range() -> None:
    p = play()
    seq = [snap(5012.0), snap(5013.0), snap(5014.0)]
    first = run(p, seq)
    assert isinstance(first[0], EnterIntent) and first[1:] == [None, None]
    p.position_closed(T0 + 3 * S)
    assert codes(p, [snap(5015.0), snap(5016.0)], start_s=3) == ["ALREADY_TRADED", "ALREADY_TRADED"]
    # back inside the opening range re-arms the long side; the next breakout enters once more
    assert codes(p, [snap(5009.0), snap(5012.0), snap(5013.0)], start_s=5) == [
        "NO_BREAKOUT",
        "EnterIntent",
        "IN_POSITION",
    ]


def test_a_new_opening_range_rearms() -> None:
    p = play()
    assert isinstance(run(p, [snap(5012.0)])[0], EnterIntent)
    p.position_closed(T0)
    assert codes(p, [snap(5013.0)], start_s=1) == ["ALREADY_TRADED"]
    assert codes(p, [snap(5013.0, or30_high=5011.0, or30_low=4991.0)], start_s=2) == ["EnterIntent"]


def test_the_opening_range_window_is_configurable() -> None:
    # 5006 breaks or5 (5004) but not or30 (5010); band at 5005
    assert codes(play(opening_range=30), [snap(5006.0)]) == ["NO_BREAKOUT"]
    intent = run(play(opening_range=5, stop_at="range"), [snap(5006.0)])[0]
    assert isinstance(intent, EnterIntent) and intent.stop == 4998.0


def test_confirm_s_requires_the_conditions_to_hold() -> None:
    p = play(confirm_s=3)
    closes = [5012.0, 5012.0, 5004.0, 5012.0, 5012.0, 5012.0, 5012.0]  # the dip at 2 s restarts the count
    assert codes(p, [snap(c) for c in closes]) == [
        "HOLDING",
        "HOLDING",
        "NO_BREAKOUT",
        "HOLDING",
        "HOLDING",
        "HOLDING",
        "EnterIntent",
    ]


def test_vwap_exit_then_cooldown() -> None:
    p = play(cooldown_s=5)
    out = run(p, [snap(5012.0), snap(5006.0), snap(4999.0)])
    assert isinstance(out[0], EnterIntent) and out[1] is None
    assert isinstance(out[2], ExitIntent) and out[2].reason[0] == "VWAP_TRAIL" and out[2].ts_ns == T0 + 2 * S
    # cooldown until T0 + 7 s; the long side was re-armed by the return inside the range
    later = [p.on_snapshot(T0 + t * S, snap(5012.0), {}, "normal") for t in (3, 6, 7)]
    assert later[:2] == [None, None] and isinstance(later[2], EnterIntent)


def test_short_position_exits_above_vwap_and_not_below() -> None:
    p = play()
    out = run(p, [snap(4989.0, aligned=-1.0), snap(4999.0, aligned=-1.0), snap(5001.0, aligned=-1.0)])
    assert isinstance(out[0], EnterIntent) and out[1] is None and isinstance(out[2], ExitIntent)
