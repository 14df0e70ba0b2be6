"""The alert dispatcher: delivers recorded alerts to Discord, off the trading path (an outbox).

Trading code only records alerts (one INSERT, :func:`scalper.adapters.store.alerts.record_alert`);
it never waits for Discord. The dispatcher reads the unsettled alerts in id order and settles
each one (statuses of migration 0010):

1. below ``min_severity`` → ``skipped``; older than ``max_age_s`` → ``expired``;
2. its dedup key went out less than ``dedup_window_s`` before it → ``suppressed``
   (``error`` = ``suppressed: duplicate of alert <id> within <n> s``);
3. otherwise sent on its own while the token bucket (``max_per_minute``) has a token →
   ``delivered`` (or ``failed``);
4. once the bucket is empty, it and every later alert are ``held``; at the next token all held
   alerts go out together as one summary message → ``summarised``. Nothing is dropped silently.

A delivery that fails after the client's retries (5xx, network, 429 beyond its bounds) is
``failed`` and ends the pass (the endpoint is unwell; the rest waits for the next pass); a
permanent refusal (4xx) is ``failed`` and the pass goes on. :meth:`AlertDispatcher.dispatch_pending`
runs one pass; :meth:`AlertDispatcher.start` runs passes every ``poll_s`` in a daemon thread that
logs and counts any exception and carries on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from scalper.adapters.alerts.discord import DeliveryResult, DiscordWebhook
from scalper.adapters.store.alert_outbox import (
    AlertRow,
    dispatch_lock,
    hold,
    last_delivered,
    settle,
    unsettled_alerts,
)
from scalper.config.model import AlertsConfig
from scalper.config.secrets import Secret
from scalper.core.errors import StoreError
from scalper.ops.alert_policy import (
    TokenBucket,
    duplicate_of,
    format_alert,
    format_summary,
    is_expired,
    severity_at_least,
)

log = logging.getLogger(__name__)


class AlertSender(Protocol):
    """Where messages go (the Discord webhook; anything with the same ``send``)."""

    def send(self, content: str) -> DeliveryResult: ...


@dataclass(slots=True)
class DispatchReport:
    """What one pass did: alerts per final status, messages sent, and why it stopped early."""

    delivered: int = 0
    summarised: int = 0
    suppressed: int = 0
    skipped: int = 0
    expired: int = 0
    failed: int = 0
    held: int = 0
    messages: int = 0
    busy: bool = False
    interrupted: str | None = None

    def __str__(self) -> str:
        if self.busy:
            return "another dispatcher is running; nothing done"
        counts = ", ".join(f"{name} {getattr(self, name)}" for name in _COUNTS)
        return counts + (f"; stopped early: {self.interrupted}" if self.interrupted else "")


_COUNTS = ("delivered", "summarised", "suppressed", "skipped", "expired", "failed", "held", "messages")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AlertDispatcher:
    """Settles recorded alerts: once (:meth:`dispatch_pending`) or in a background thread."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        sender: AlertSender,
        settings: AlertsConfig,
        *,
        stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = _utc_now,
        batch_size: int = 1000,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._sender = sender
        self._settings = settings
        self._stop = stop or threading.Event()
        self._monotonic = monotonic
        self._wall = wall
        self._batch_size = batch_size
        self._on_close = on_close
        self._bucket = TokenBucket.per_minute(settings.max_per_minute, monotonic())
        self._conn: psycopg.Connection[Any] | None = None
        self._pass_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_report: DispatchReport | None = None

    @classmethod
    def for_discord(
        cls, connect: Callable[[], psycopg.Connection[Any]], webhook_url: Secret, settings: AlertsConfig
    ) -> AlertDispatcher:
        """A dispatcher posting to a Discord webhook; stopping it also cuts the client's retry waits short."""
        stop = threading.Event()
        webhook = DiscordWebhook(
            webhook_url, timeout_s=settings.timeout_s, max_retries=settings.max_retries, sleep=stop.wait
        )
        return cls(connect, webhook, settings, stop=stop, on_close=webhook.close)

    # -- one pass ---------------------------------------------------------------------------

    def dispatch_pending(self) -> DispatchReport:
        """Settle the unsettled alerts once; database failures raise :class:`StoreError`."""
        with self._pass_lock:
            try:
                conn = self._connection()
                with dispatch_lock(conn) as mine:
                    report = self._pass(conn) if mine else DispatchReport(busy=True)
            except psycopg.Error as exc:
                self._drop_connection()
                raise StoreError(f"alert delivery: the database failed: {exc}") from exc
        self.passes += 1
        self.last_report = report
        return report

    def _pass(self, conn: psycopg.Connection[Any]) -> DispatchReport:
        report = DispatchReport()
        rows = unsettled_alerts(conn, self._batch_size)
        backlog = any(row.status == "held" for row in rows)
        waiting: list[AlertRow] = []
        for row in rows:
            if self._stop.is_set():
                report.interrupted = "shutting down"
                return report
            if self._settle_unsent(conn, row, report):
                continue
            if backlog or waiting or not self._take_token():
                waiting.append(row)
                continue
            if not self._send_one(conn, row, report):
                return report
        if waiting:
            self._release(conn, waiting, backlog, report)
        if any((report.messages, report.suppressed, report.skipped, report.expired, report.failed, report.held)):
            log.info("alerts: %s", report)
        return report

    def _settle_unsent(self, conn: psycopg.Connection[Any], row: AlertRow, report: DispatchReport) -> bool:
        """Skip, expire or suppress the alert if a rule says so; True when it was settled."""
        s, now = self._settings, self._wall()
        if not severity_at_least(row.severity, s.min_severity):
            settle(conn, [row.id], "skipped", now=now, error=f"skipped: below min_severity {s.min_severity}")
            report.skipped += 1
            return True
        if is_expired(row.ts, now, s.max_age_s):
            age = (now - row.ts).total_seconds()
            error = f"expired: {age:.0f} s old, over max_age_s {s.max_age_s:g}"
            settle(conn, [row.id], "expired", now=now, error=error)
            report.expired += 1
            return True
        dup = duplicate_of(row.ts, last_delivered(conn, row.dedup_key, row.ts), s.dedup_window_s)
        if dup is not None:
            error = f"suppressed: duplicate of alert {dup} within {s.dedup_window_s:g} s"
            settle(conn, [row.id], "suppressed", now=now, error=error)
            report.suppressed += 1
            return True
        return False

    def _take_token(self) -> bool:
        ok, self._bucket = self._bucket.take(self._monotonic())
        return ok

    def _send_one(self, conn: psycopg.Connection[Any], row: AlertRow, report: DispatchReport) -> bool:
        """Send one alert and settle it; False when the pass should stop (a transient failure)."""
        result = self._sender.send(format_alert(row))
        report.messages += 1
        if result.delivered:
            settle(conn, [row.id], "delivered", now=self._wall(), attempts=result.attempts)
            report.delivered += 1
            return True
        settle(conn, [row.id], "failed", now=self._wall(), error=result.error, attempts=result.attempts)
        report.failed += 1
        log.warning("alert %d (%s) not delivered: %s", row.id, row.kind, result.error)
        if result.permanent:
            return True
        report.interrupted = f"delivery failed: {result.error}"
        return False

    def _release(
        self, conn: psycopg.Connection[Any], waiting: list[AlertRow], backlog: bool, report: DispatchReport
    ) -> None:
        """Alerts over the limit: hold them, or (held before, and a token now) send them as one summary."""
        if not backlog or not self._take_token():
            hold(conn, [row.id for row in waiting if row.status == "pending"])
            report.held += sum(1 for row in waiting if row.status == "pending")
            return
        if len(waiting) == 1:
            self._send_one(conn, waiting[0], report)
            return
        ids = [row.id for row in waiting]
        result = self._sender.send(format_summary(waiting, self._settings.max_per_minute))
        report.messages += 1
        if result.delivered:
            settle(conn, ids, "summarised", now=self._wall(), attempts=result.attempts)
            report.summarised += len(ids)
            return
        error = f"summary message failed: {result.error}"
        settle(conn, ids, "failed", now=self._wall(), error=error, attempts=result.attempts)
        report.failed += len(ids)
        log.warning("summary of %d alerts not delivered: %s", len(ids), result.error)
        if not result.permanent:
            report.interrupted = error

    # -- connection -------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                log.debug("closing the alert dispatcher's broken connection failed", exc_info=True)

    # -- background thread ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """The background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Run passes every ``poll_s`` seconds in a daemon thread until :meth:`stop`."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="alert-dispatcher", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatch_pending()
            except Exception as exc:  # the loop outlives any failure; it is logged and counted
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("alert delivery pass failed (next try in %g s): %s", self._settings.poll_s, self.last_error)
            self._stop.wait(self._settings.poll_s)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Ask the thread to stop (retry waits are cut short) and wait; True when it has ended."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return not self.running

    def close(self) -> None:
        """Stop the thread and release the connection and the sender."""
        if self.stop():  # a thread stuck in a request keeps its connection; it is a daemon
            self._drop_connection()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> AlertDispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
