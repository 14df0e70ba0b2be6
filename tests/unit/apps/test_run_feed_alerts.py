"""The run monitor's feed alerts: a stall reconnect raises stream_stall; a burst of reconnects raises
one reconnect_storm, again only after the storm has passed."""

from __future__ import annotations

from typing import Any

import psycopg

from scalper.adapters.feed.reasons import ReconnectReason
from scalper.adapters.metrics import FeedMetrics
from scalper.apps.run import STORM_RECONNECTS, STORM_WINDOW_S, RunMonitor
from scalper.core.clock import ReplayClock

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
