"""The pure rules of alert delivery: severity, age, dedup window, token bucket, message formats."""

from __future__ import annotations

import datetime as dt

import pytest

from scalper.adapters.store.alert_outbox import AlertRow, SentAlert
from scalper.ops.alert_kinds import ALERT_KINDS, dedup_key
from scalper.ops.alert_policy import (
    TokenBucket,
    duplicate_of,
    format_alert,
    format_summary,
    is_expired,
    new_york_time,
    severity_at_least,
)

T0 = dt.datetime(2025, 7, 1, 13, 31, 5, tzinfo=dt.UTC)  # 09:31:05 in New York (EDT)


def alert(i: int, *, kind: str = "stream_stall", severity: str = "warning", message: str = "m", s: int = 0) -> AlertRow:
    return AlertRow(i, T0 + dt.timedelta(seconds=s), kind, severity, f"{kind}:x", message)


@pytest.mark.parametrize(
    ("severity", "minimum", "sent"),
    [
        ("info", "warning", False),
        ("warning", "warning", True),
        ("critical", "warning", True),
        ("warning", "critical", False),
        ("info", "info", True),
        ("mystery", "critical", True),  # an unknown severity is treated as the worst
    ],
)
def test_severity_threshold(severity: str, minimum: str, sent: bool) -> None:
    assert severity_at_least(severity, minimum) is sent


def test_age_limit_and_no_limit() -> None:
    now = T0 + dt.timedelta(seconds=3601)
    assert is_expired(T0, now, 3600)
    assert not is_expired(T0, now, 7200)
    assert not is_expired(T0, now, 0)  # 0 = no limit
    assert not is_expired(T0 + dt.timedelta(hours=1), T0, 60)  # a future alert is not old


def test_dedup_window_is_anchored_at_the_last_delivered_alert() -> None:
    anchor = SentAlert(7, T0)
    assert duplicate_of(T0 + dt.timedelta(seconds=10), anchor, 300) == 7
    assert duplicate_of(T0 + dt.timedelta(seconds=299.9), anchor, 300) == 7
    assert duplicate_of(T0 + dt.timedelta(seconds=300), anchor, 300) is None  # window over: sent again
    assert duplicate_of(T0 + dt.timedelta(seconds=10), None, 300) is None  # never delivered
    assert duplicate_of(T0 + dt.timedelta(seconds=10), anchor, 0) is None  # dedup off


def test_token_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket.per_minute(3, now_s=100.0)
    taken = []
    for _ in range(4):
        ok, bucket = bucket.take(100.0)
        taken.append(ok)
    assert taken == [True, True, True, False]
    ok, bucket = bucket.take(100.0 + 19.9)  # 3 a minute: one token every 20 s
    assert not ok
    ok, bucket = bucket.take(100.0 + 20.0)
    assert ok
    ok, bucket = bucket.take(100.0 + 20.0)
    assert not ok


def test_token_bucket_never_exceeds_capacity_and_ignores_a_clock_going_back() -> None:
    bucket = TokenBucket.per_minute(2, now_s=0.0)
    assert bucket.refilled(10_000.0).tokens == 2.0
    _, bucket = bucket.take(50.0)
    _, bucket = bucket.take(50.0)
    assert bucket.refilled(10.0).tokens == 0.0  # earlier than the last update: no tokens made up
    assert bucket.refilled(10.0).updated_s == 50.0


def test_alert_message_has_severity_kind_new_york_time_and_text() -> None:
    text = format_alert(alert(1, kind="kill_switch", severity="critical", message="daily loss limit hit"))
    first, second = text.split("\n")
    assert first.startswith("🚨 CRITICAL")
    assert "`kill_switch`" in first and "Kill switch" in first
    assert "2025-07-01 09:31:05 ET" in first
    assert second == "daily loss limit hit"


def test_new_york_time_follows_daylight_saving() -> None:
    assert new_york_time(dt.datetime(2025, 1, 15, 14, 30, tzinfo=dt.UTC)) == "2025-01-15 09:30:00 ET"  # EST
    assert new_york_time(dt.datetime(2025, 7, 15, 13, 30, tzinfo=dt.UTC)) == "2025-07-15 09:30:00 ET"  # EDT


def test_a_long_alert_text_is_clipped_visibly() -> None:
    text = format_alert(alert(1, message="x" * 5000))
    assert len(text) < 2000
    assert text.endswith("…")


def test_summary_counts_kinds_lists_the_worst_first_and_fits_discord() -> None:
    held = [alert(i, kind="order_rejected", s=i) for i in range(1, 5)]
    held.append(alert(9, kind="kill_switch", severity="critical", message="loss limit", s=9))
    text = format_summary(held, max_per_minute=10)
    lines = text.split("\n")
    assert lines[0].startswith("🚨 CRITICAL · **5 more alerts**")
    assert "order_rejected ×4, kill_switch ×1" in lines[0]
    assert "over 10 a minute" in lines[0]
    assert "`kill_switch`: loss limit" in lines[2]  # the critical one first, after the time span
    assert len(lines) == 2 + 5


def test_a_huge_summary_stays_within_the_limit_and_counts_what_it_leaves_out() -> None:
    held = [alert(i, kind=f"kind_{i % 3}", message="y" * 300, s=i) for i in range(500)]
    text = format_summary(held, max_per_minute=10)
    assert len(text) <= 2000
    assert "**500 more alerts**" in text
    shown = sum(1 for line in text.split("\n") if line.startswith("• "))
    assert 0 < shown < 500
    assert text.endswith(f"… and {500 - shown} more")


def test_the_listed_alert_kinds_exist_with_a_severity_and_dedup_keys_name_their_subject() -> None:
    listed = {
        "stream_stall",
        "reconnect_storm",
        "gap_unrepaired",
        "regime_flip",
        "kill_switch",
        "order_rejected",
        "reconciliation",
        "job_failed",
        "calendar_stale",
    }
    assert set(ALERT_KINDS) == listed
    assert {k.severity for k in ALERT_KINDS.values()} <= {"info", "warning", "critical"}
    assert ALERT_KINDS["kill_switch"].severity == "critical"
    assert dedup_key("stream_stall", "indices") == "stream_stall:indices"
    assert dedup_key("calendar_stale", None) == "calendar_stale"
