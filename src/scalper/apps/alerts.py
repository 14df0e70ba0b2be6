"""``scalper alerts``: deliver the recorded alerts to Discord once, or send a test alert.

Both commands need ``[alerts] enabled`` and the webhook secret ``SCALPER_DISCORD_WEBHOOK_URL``;
they run one dispatcher pass (:mod:`scalper.ops.alerting`) with the configured rules.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    import psycopg

    from scalper.apps.context import AppContext
    from scalper.ops.alerting import AlertDispatcher

alerts_app = typer.Typer(
    help="Alerts: deliver recorded alerts to Discord (dedup, rate limit, summaries), send a test alert.",
    no_args_is_help=True,
)
console = Console()


def _run(action: Callable[[], None]) -> None:
    from scalper.apps.cli import _run as run

    run(action)


@contextlib.contextmanager
def _dispatcher() -> Iterator[tuple[AlertDispatcher, psycopg.Connection[Any], AppContext]]:
    """A dispatcher for the configured webhook and database (migrated), with a connection of its own."""
    from scalper.adapters.store import connect
    from scalper.adapters.store.migrations import migrate
    from scalper.apps.cli import _context
    from scalper.core.errors import ConfigError
    from scalper.ops.alerting import AlertDispatcher

    ctx = _context()
    settings = ctx.config.alerts
    if not settings.enabled:
        raise ConfigError("alerts.enabled is false: alerts are recorded but not delivered")
    webhook = ctx.secrets.discord_webhook_url
    if webhook is None:
        raise ConfigError("no Discord webhook: set SCALPER_DISCORD_WEBHOOK_URL (or SCALPER_DISCORD_WEBHOOK_URL_FILE)")
    db = ctx.config.database
    with ctx.database() as (url, conn):
        migrate(conn)
        connect_db = functools.partial(
            connect, url, timeout_s=db.connect_timeout_s, statement_timeout_s=db.statement_timeout_s
        )
        with AlertDispatcher.for_discord(connect_db, webhook, settings) as dispatcher:
            yield dispatcher, conn, ctx


@alerts_app.command("send-pending")
def send_pending() -> None:
    """Deliver the alerts recorded and not yet settled, once: severity filter, dedup, rate limit
    (the excess held, then summarised in one message), and print what became of them."""

    def body() -> None:
        with _dispatcher() as (dispatcher, _, _):
            report = dispatcher.dispatch_pending()
        console.print(f"alerts: {report}", highlight=False)
        if report.failed:
            raise typer.Exit(1)

    _run(body)


@alerts_app.command("test")
def send_test(
    message: Annotated[str, typer.Option(help="The test alert's text.")] = "test alert: the webhook works",
) -> None:
    """Record a test alert (kind `test`, at the minimum severity that is delivered) and deliver the
    pending alerts; exits 1 when the test alert did not go out."""

    def body() -> None:
        from scalper.adapters.store.alert_outbox import alert_state
        from scalper.adapters.store.alerts import record_alert

        with _dispatcher() as (dispatcher, conn, ctx):
            now_ns = time.time_ns()
            alert_id = record_alert(
                conn,
                ts_ns=now_ns,
                kind="test",
                severity=ctx.config.alerts.min_severity,
                message=message,
                dedup_key=f"test:{now_ns}",
            )
            report = dispatcher.dispatch_pending()
            state = alert_state(conn, alert_id) or {}
        console.print(f"alerts: {report}", highlight=False)
        status, error = state.get("status"), state.get("error")
        console.print(f"test alert {alert_id}: {status}" + (f" ({error})" if error else ""), highlight=False)
        if status not in ("delivered", "summarised"):
            raise typer.Exit(1)

    _run(body)
