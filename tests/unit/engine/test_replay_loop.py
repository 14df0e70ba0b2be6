"""The compiled replay loop takes exactly the trader's decisions: the same signals, orders, fills,
skips, kill-switch history and features as :meth:`Trader.on_event` event by event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from scalper.bench.replay import trader as bench_trader
from scalper.core.errors import InvariantError
from scalper.engine.replay_loop import NS_PER_MIN, CompiledReplay, LevelTable
from scalper.engine.trader import Trader
from scalper.features.engine import EventArrays
from scalper.strategy.thresholds import Level
from scalper.synthetic.feature_events import market_events
from scalper.synthetic.market import generate_market_days

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
LEVELS: tuple[Level, ...] = ("normal", "reduced", "aggressive", "off")


def level_of(play: str, ts: int) -> Level:
    """A per-minute policy that moves through every level (each play on its own rhythm)."""
    return LEVELS[(ts // NS_PER_MIN // (23 + len(play))) % 4]


@pytest.fixture(scope="module", params=[(dt.date(2025, 3, 3), 3, 11), (dt.date(2025, 6, 2), 2, 23)])
def events(request: pytest.FixtureRequest) -> EventArrays:
    start, sessions, seed = request.param
    return market_events(generate_market_days(start, sessions, seed), SYMBOLS)


def trader() -> Trader:
    return bench_trader(level_of)


def outcome(t: Trader) -> dict[str, Any]:
    signals = [
        (s.signal_id, s.kind, s.level, s.accepted, s.reasons, s.shares, s.plan, s.client_order_ids) for s in t.signals
    ]
    return {
        "signals": signals,
        "orders": t.book.orders(),
        "fills": t.book.fills(),
        "positions": t.positions(),
        "skips": dict(t.skips),
        "skip_texts": dict(t.skip_texts),
        "history": t.kill_switch.history,
        "snapshots": t.features.snapshots.copy(),
        "states": t.features.states.copy(),
        "refused": dict(t.features.refused),
        "now": t.now,
    }


def test_compiled_replay_equals_the_trader_event_by_event(events: EventArrays) -> None:
    slow = trader()
    loop = CompiledReplay(slow)
    for i in range(len(events)):
        slow.on_event(loop.event(events, i))
    fast = trader()
    compiled = CompiledReplay(fast)
    compiled.run(events)
    a, b = outcome(slow), outcome(fast)
    assert sum(1 for s in a["signals"] if s[1] == "enter" and s[3]) >= 3  # real trades, not an idle replay
    assert a["fills"]
    for key in a:
        if key in ("snapshots", "states"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert a[key] == b[key], key
    # most events ran compiled; the trades' events and the decisions went through Python
    assert compiled.compiled > 0.5 * len(events)
    assert compiled.decided >= len(a["signals"]) - compiled.handed
    assert compiled.compiled + compiled.handed + compiled.decided == len(events)
    assert compiled.trail_catch_ups > 0  # trailing exits followed in compiled code, then handed over
    assert any(r.code == "TRAIL_STOP" for s in a["signals"] for r in s[4])  # and some reached


def test_the_level_table_asks_the_policy_once_per_minute_in_time_order() -> None:
    asked: list[tuple[str, int]] = []

    def policy(play: str, ts: int) -> Level:
        asked.append((play, ts))
        return "normal"

    plays = list(trader().plays.values())
    table = LevelTable.ask(policy, plays, np.array([100, 101, 105], dtype=np.int64))
    assert [ts for _, ts in asked] == sorted(ts for _, ts in asked)
    assert len(asked) == 3 * len(plays)
    assert table.level_of(plays[0].name, 101 * NS_PER_MIN + 5) == "normal"
    with pytest.raises(InvariantError, match="no level"):
        table.level_of(plays[0].name, 103 * NS_PER_MIN)


def test_only_one_second_aggregates_are_taken(events: EventArrays) -> None:
    odd = events.take(slice(0, 10))
    odd.kind[3] = 1
    with pytest.raises(InvariantError, match="one-second aggregates"):
        CompiledReplay(trader()).run(odd)
