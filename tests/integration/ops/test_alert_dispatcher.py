"""The alert dispatcher against a real PostgreSQL and a real local webhook server.

Delivery and ``delivered_at``, the severity threshold, dedup within and after the window, the
rate limit holding alerts and summarising them, 429/5xx/4xx, the URL never stored or logged,
and the trading side never waiting for Discord (a hanging server, a dropped database connection).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from scalper.adapters.alerts.discord import DiscordWebhook
from scalper.adapters.store.alerts import record_alert
from scalper.config.model import AlertsConfig
from scalper.config.secrets import Secret
from scalper.core.timeutil import datetime_to_ns
from scalper.ops.alert_kinds import raise_alert
from scalper.ops.alerting import AlertDispatcher
from webhook_server import TOKEN, Reply, WebhookServer, rate_limited

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


class ManualClock:
    """The token bucket's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as s:
        yield s


@pytest.fixture
def dispatcher_for(db_url: str, server: WebhookServer) -> Iterator[Callable[..., AlertDispatcher]]:
    """Builds dispatchers on the test database and server; closes them afterwards."""
    made: list[AlertDispatcher] = []

    def build(clock: ManualClock | None = None, **settings: Any) -> AlertDispatcher:
        config = AlertsConfig(**{"min_severity": "warning", "max_retries": 2, "timeout_s": 5.0, **settings})
        webhook = DiscordWebhook(
            Secret(server.url),
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
            backoff_base_s=0.05,
            backoff_cap_s=0.2,
        )
        dispatcher = AlertDispatcher(
            lambda: psycopg.connect(db_url, autocommit=True),
            webhook,
            config,
            monotonic=clock or time.monotonic,
            on_close=webhook.close,
        )
        made.append(dispatcher)
        return dispatcher

    yield build
    for d in made:
        d.close()


def record(
    db: psycopg.Connection[Any],
    kind: str,
    message: str,
    *,
    s: float = 0,
    severity: str = "warning",
    key: str | None = None,
) -> int:
    ts_ns = datetime_to_ns(NOW + dt.timedelta(seconds=s))
    return record_alert(db, ts_ns=ts_ns, kind=kind, severity=severity, message=message, dedup_key=key)  # type: ignore[arg-type]


def state(db: psycopg.Connection[Any], alert_id: int) -> dict[str, Any]:
    row = db.execute(
        "SELECT status, attempts, delivered_at, settled_at, error FROM alerts WHERE id = %s", (alert_id,)
    ).fetchone()
    assert row is not None
    return dict(zip(("status", "attempts", "delivered_at", "settled_at", "error"), row, strict=True))


def statuses(db: psycopg.Connection[Any]) -> dict[int, str]:
    return dict(db.execute("SELECT id, status FROM alerts ORDER BY id").fetchall())


def wait_until(condition: Callable[[], bool], bound_s: float = 30.0) -> bool:
    """Poll ``condition`` until true or a generous bound passes (a correctness bound, not a speed check)."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_alerts_are_delivered_in_order_and_marked_delivered(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    first = record(db, "order_rejected", "order abc rejected: insufficient buying power")
    second = record(db, "kill_switch", "daily loss limit hit", severity="critical")
    before = dt.datetime.now(dt.UTC)

    report = dispatcher_for().dispatch_pending()

    assert (report.delivered, report.messages, report.failed) == (2, 2, 0)
    contents = server.contents()
    assert "`order_rejected`" in contents[0] and "insufficient buying power" in contents[0]
    assert contents[1].startswith("🚨 CRITICAL") and "daily loss limit hit" in contents[1]
    assert " ET" in contents[0].split("\n")[0]
    for alert_id in (first, second):
        s = state(db, alert_id)
        assert s["status"] == "delivered" and s["attempts"] == 1 and s["error"] is None
        assert s["delivered_at"] is not None and s["delivered_at"] >= before - dt.timedelta(seconds=1)
    assert dispatcher_for().dispatch_pending().messages == 0  # nothing left to send


def test_alerts_below_the_minimum_severity_are_recorded_but_not_sent(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    info = record(db, "regime_flip", "I:SPX balanced → trend_up", severity="info")
    report = dispatcher_for(min_severity="warning").dispatch_pending()
    assert report.skipped == 1 and server.received == []
    s = state(db, info)
    assert s["status"] == "skipped" and s["delivered_at"] is None
    assert s["error"] == "skipped: below min_severity warning"


def test_old_alerts_are_expired_not_sent(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    old = record(db, "stream_stall", "indices silent for 20 s", s=-7200)
    fresh = record(db, "stream_stall", "stocks silent for 20 s", key="stream_stall:stocks")
    report = dispatcher_for(max_age_s=3600).dispatch_pending()
    assert (report.expired, report.delivered) == (1, 1)
    assert state(db, old)["status"] == "expired"
    age = re.fullmatch(r"expired: (\d+) s old, over max_age_s 3600", state(db, old)["error"])
    assert age is not None and int(age.group(1)) >= 7200  # its age when reached (the test may start late)
    assert state(db, fresh)["status"] == "delivered"
    assert len(server.received) == 1


def test_duplicates_within_the_window_are_suppressed_and_sent_again_after_it(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    first = raise_alert(db, "stream_stall", "indices silent for 20 s", subject="indices", ts_ns=datetime_to_ns(NOW))
    repeat = raise_alert(
        db,
        "stream_stall",
        "indices silent for 40 s",
        subject="indices",
        ts_ns=datetime_to_ns(NOW + dt.timedelta(seconds=20)),
    )
    other = raise_alert(
        db,
        "stream_stall",
        "stocks silent for 20 s",
        subject="stocks",
        ts_ns=datetime_to_ns(NOW + dt.timedelta(seconds=21)),
    )
    later = raise_alert(
        db,
        "stream_stall",
        "indices silent again",
        subject="indices",
        ts_ns=datetime_to_ns(NOW + dt.timedelta(seconds=300)),
    )
    dispatcher = dispatcher_for(dedup_window_s=300)

    report = dispatcher.dispatch_pending()

    assert (report.delivered, report.suppressed) == (3, 1)
    assert statuses(db) == {first: "delivered", repeat: "suppressed", other: "delivered", later: "delivered"}
    assert state(db, repeat)["error"] == f"suppressed: duplicate of alert {first} within 300 s"
    assert state(db, repeat)["delivered_at"] is None
    assert [c.split("\n")[1] for c in server.contents()] == [
        "indices silent for 20 s",
        "stocks silent for 20 s",
        "indices silent again",
    ]
    # A later pass compares with what went out before (the anchor is read from the table).
    again = raise_alert(
        db, "stream_stall", "still silent", subject="indices", ts_ns=datetime_to_ns(NOW + dt.timedelta(seconds=310))
    )
    assert dispatcher.dispatch_pending().suppressed == 1
    assert state(db, again)["error"] == f"suppressed: duplicate of alert {later} within 300 s"
    assert len(server.received) == 3


def test_over_the_rate_limit_alerts_are_held_then_summarised_in_one_message(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    clock = ManualClock()
    dispatcher = dispatcher_for(clock, max_per_minute=3)
    ids = [record(db, "order_rejected", f"order {i} rejected", key=f"order_rejected:{i}", s=i) for i in range(8)]

    first = dispatcher.dispatch_pending()
    assert (first.delivered, first.held, first.messages) == (3, 5, 3)
    assert [statuses(db)[i] for i in ids] == ["delivered"] * 3 + ["held"] * 5

    late = record(db, "kill_switch", "loss limit hit", severity="critical", s=9)
    clock.now += 19.0  # 3 a minute: the next token comes after 20 s
    second = dispatcher.dispatch_pending()
    assert (second.held, second.messages) == (1, 0)  # still no token: the newcomer is held too
    assert len(server.received) == 3

    clock.now += 1.0
    third = dispatcher.dispatch_pending()
    assert (third.summarised, third.messages) == (6, 1)
    summary = server.received[-1].content
    assert "**6 more alerts**" in summary
    assert "order_rejected ×5, kill_switch ×1" in summary
    assert summary.split("\n")[2].endswith("`kill_switch`: loss limit hit")  # the worst listed first
    held = [*ids[3:], late]
    assert {statuses(db)[i] for i in held} == {"summarised"}
    assert all(state(db, i)["delivered_at"] is not None for i in held)

    # The backlog is gone: the next alert, with a token, goes out on its own.
    clock.now += 20.0
    single = record(db, "job_failed", "flatfile_sync failed", s=30)
    assert dispatcher.dispatch_pending().delivered == 1
    assert statuses(db)[single] == "delivered"
    assert len(server.received) == 5


def test_a_429_is_honoured_before_the_next_request(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    server.script(rate_limited(0.2))
    alert = record(db, "reconciliation", "broker has 100 SPY, book has 0", severity="critical")
    assert dispatcher_for().dispatch_pending().delivered == 1
    first, second = server.received
    assert second.at - first.at >= 0.2
    assert state(db, alert)["attempts"] == 2 and state(db, alert)["status"] == "delivered"


def test_5xx_is_retried_then_recorded_as_failed_and_the_pass_stops(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    server.script(*[Reply(503, "upstream unavailable")] * 3)
    broken = record(db, "job_failed", "vacuum failed", key="job_failed:vacuum")
    waiting = record(db, "job_failed", "retention failed", key="job_failed:retention")
    dispatcher = dispatcher_for(max_retries=2)

    report = dispatcher.dispatch_pending()

    assert report.failed == 1 and report.interrupted is not None
    s = state(db, broken)
    assert s["status"] == "failed" and s["attempts"] == 3 and s["delivered_at"] is None
    assert "HTTP 503" in s["error"] and "gave up after 3 attempts" in s["error"]
    assert state(db, waiting)["status"] == "pending"  # untouched: the endpoint was unwell
    assert len(server.received) == 3
    assert dispatcher.dispatch_pending().delivered == 1  # next pass: the server is back
    assert state(db, waiting)["status"] == "delivered"


def test_4xx_is_not_retried_and_the_pass_goes_on(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    server.script(Reply(400, '{"message": "Invalid Form Body", "code": 50035}'))
    refused = record(db, "order_rejected", "order 1 rejected", key="order_rejected:1")
    fine = record(db, "order_rejected", "order 2 rejected", key="order_rejected:2")
    report = dispatcher_for().dispatch_pending()
    assert (report.failed, report.delivered, report.interrupted) == (1, 1, None)
    s = state(db, refused)
    assert s["status"] == "failed" and s["attempts"] == 1 and "HTTP 400 (permanent)" in s["error"]
    assert state(db, fine)["status"] == "delivered"
    assert len(server.received) == 2


def test_the_webhook_url_never_reaches_the_database_the_logs_or_the_report(
    db: psycopg.Connection[Any],
    server: WebhookServer,
    dispatcher_for: Callable[..., AlertDispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(Reply(404, '{"message": "Unknown Webhook at {path}"}'), *[Reply(500, "oops {path}")] * 3)
    echoed = record(db, "calendar_stale", "econ calendar 40 days old", key="calendar_stale:a")
    failing = record(db, "calendar_stale", "exchange calendar stale", key="calendar_stale:b")

    report = dispatcher_for(max_retries=2).dispatch_pending()

    assert report.failed == 2
    assert "Unknown Webhook at" in state(db, echoed)["error"]  # the body is kept, scrubbed
    assert "oops" in state(db, failing)["error"]
    stored = db.execute("SELECT string_agg(concat_ws(' ', message, error, payload::text), ' ') FROM alerts").fetchone()
    assert stored is not None and TOKEN not in stored[0]
    assert "HTTP Request: POST" in caplog.text and "not delivered" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in str(report)


def test_another_running_dispatcher_makes_a_pass_do_nothing(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    alert = record(db, "kill_switch", "tripped", severity="critical")
    db.execute("SELECT pg_advisory_lock(hashtext('scalper.alerts.dispatch'))")
    report = dispatcher_for().dispatch_pending()
    assert report.busy and server.received == []
    assert state(db, alert)["status"] == "pending"
    db.execute("SELECT pg_advisory_unlock(hashtext('scalper.alerts.dispatch'))")
    assert dispatcher_for().dispatch_pending().delivered == 1


def test_recording_never_waits_for_a_hanging_webhook(
    db: psycopg.Connection[Any], server: WebhookServer, dispatcher_for: Callable[..., AlertDispatcher]
) -> None:
    server.script(Reply(hang=True))
    dispatcher = dispatcher_for(timeout_s=0.5, max_retries=0, poll_s=0.05)
    first = record(db, "kill_switch", "tripped", severity="critical")
    dispatcher.start()
    assert server.wait_for(1)  # the dispatcher's request is in flight, and the server does not answer

    second = record(db, "order_rejected", "order 7 rejected")  # the trading side records meanwhile
    assert server.answered == 0  # recorded while the webhook still hung
    assert state(db, second)["status"] == "pending"

    assert wait_until(lambda: state(db, first)["status"] == "failed")
    assert "ReadTimeout" in state(db, first)["error"]
    server.release()
    assert wait_until(lambda: state(db, second)["status"] == "delivered")
    assert dispatcher.running and dispatcher.errors == 0
    assert dispatcher.stop()


def test_the_background_loop_survives_a_lost_database_connection(
    db: psycopg.Connection[Any],
    server: WebhookServer,
    dispatcher_for: Callable[..., AlertDispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = dispatcher_for(poll_s=0.05)
    dispatcher.start()
    assert wait_until(lambda: dispatcher.passes >= 1)
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert wait_until(lambda: dispatcher.errors >= 1)
    alert = record(db, "reconnect_storm", "12 reconnects in 5 minutes")
    assert wait_until(lambda: state(db, alert)["status"] == "delivered")
    assert dispatcher.running
    assert "alert delivery pass failed" in caplog.text
    assert dispatcher.stop()
