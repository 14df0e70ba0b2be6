"""The run monitor's feed and regime alerts: a stall reconnect raises stream_stall; a burst of
reconnects raises one reconnect_storm, again only after the storm has passed; a gap unrepaired past
its grace raises gap_unrepaired; a morning score crossing the policy's thresholds raises regime_flip."""

from __future__ import annotations

from typing import Any

import psycopg

from scalper.adapters.feed.reasons import ReconnectReason
from scalper.adapters.metrics import FeedMetrics
from scalper.apps.run import GAP_GRACE_S, STORM_RECONNECTS, STORM_WINDOW_S, RunMonitor
from scalper.core.clock import ReplayClock
from scalper.strategy.policy import MorningScore
from scalper.strategy.thresholds import load_thresholds

S = 1_000_000_000


def no_database() -> Any:
    raise psycopg.OperationalError("no database in this test")  # the monitor logs it and goes on


def monitor(now: list[int]) -> tuple[RunMonitor, FeedMetrics]:
    feed = FeedMetrics(ReplayClock(0))
    m = RunMonitor("run-1", None, None, no_database, lambda: now[0])  # type: ignore[arg-type]
    return m, feed


def test_a_stall_reconnect_raises_stream_stall_and_other_reasons_do_not() -> None:
    now = [1_000 * S]
    m, feed = monitor(now)
    feed.reconnect(ReconnectReason.CLOSED)
    m.feed_alerts(feed)
    assert m.raised == []
    feed.reconnect(ReconnectReason.STALL)
    m.feed_alerts(feed)
    assert [k for k, _ in m.raised] == ["stream_stall"]
    m.feed_alerts(feed)  # nothing new
    assert len(m.raised) == 1


def test_a_burst_of_reconnects_is_one_storm_until_it_has_passed() -> None:
    now = [1_000 * S]
    m, feed = monitor(now)
    for _ in range(STORM_RECONNECTS - 1):
        feed.reconnect(ReconnectReason.CLOSED)
        now[0] += S
        m.feed_alerts(feed)
    assert m.raised == []
    feed.reconnect(ReconnectReason.TIMEOUT)
    m.feed_alerts(feed)
    assert [k for k, _ in m.raised] == ["reconnect_storm"]
    feed.reconnect(ReconnectReason.CLOSED)
    m.feed_alerts(feed)
    assert len(m.raised) == 1  # the same storm
    now[0] += int(STORM_WINDOW_S * S) + S  # quiet for a window: the storm is over
    m.feed_alerts(feed)
    for _ in range(STORM_RECONNECTS):
        feed.reconnect(ReconnectReason.CLOSED)
    m.feed_alerts(feed)
    assert [k for k, _ in m.raised] == ["reconnect_storm", "reconnect_storm"]


def test_a_gap_left_unrepaired_past_the_grace_is_alerted_once_until_repaired() -> None:
    now = [1_000 * S]
    m, feed = monitor(now)
    feed.gaps_found.inc()
    m.feed_alerts(feed)
    now[0] += int(GAP_GRACE_S * S) - S
    m.feed_alerts(feed)
    assert m.raised == []  # still within the grace: the repair is on its way
    now[0] += 2 * S
    m.feed_alerts(feed)
    m.feed_alerts(feed)
    assert [k for k, _ in m.raised] == ["gap_unrepaired"]
    feed.gaps_filled.inc()
    m.feed_alerts(feed)
    feed.gaps_found.inc()
    now[0] += int(GAP_GRACE_S * S) + S
    m.feed_alerts(feed)
    assert len(m.raised) == 1  # a new gap starts its own grace
    now[0] += int(GAP_GRACE_S * S) + S
    m.feed_alerts(feed)
    assert [k for k, _ in m.raised] == ["gap_unrepaired", "gap_unrepaired"]


def test_a_morning_score_on_the_other_side_of_the_thresholds_is_a_regime_flip() -> None:
    m, _ = monitor([0])
    p = load_thresholds().policy
    trend = MorningScore(trend_up=p.trend_favour, trend_down=0.0, balanced=1.0 - p.trend_favour, checkpoint="10:00")
    also_trend = MorningScore(trend_up=0.0, trend_down=p.trend_favour, balanced=1 - p.trend_favour, checkpoint="10:30")
    balanced = MorningScore(trend_up=0.0, trend_down=0.0, balanced=1.0, checkpoint="10:30")
    m.regime_alerts({"I:SPX": trend, "I:NDX": None}, p)
    m.regime_alerts({"I:SPX": trend, "I:NDX": None}, p)  # the same checkpoint again
    m.regime_alerts({"I:SPX": also_trend, "I:NDX": None}, p)
    assert m.raised == []  # still trend-leaning
    m.regime_alerts({"I:SPX": trend}, p)  # back to the 10:00 score: a checkpoint change, same side
    m.regime_alerts({"I:SPX": balanced}, p)
    assert [k for k, _ in m.raised] == ["regime_flip"]
    assert "I:SPX" in m.raised[0][1] and "trend" in m.raised[0][1] and "balanced" in m.raised[0][1]
    m.regime_alerts({}, p)  # a new day: the policy forgot the scores
    m.regime_alerts({"I:SPX": trend}, p)
    assert len(m.raised) == 1  # the first score of a day is not a flip
