"""``scalper alerts test`` and ``scalper alerts send-pending`` against a real database and webhook server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from scalper.adapters.store.alerts import record_alert
from scalper.apps.cli import app
from scalper.core.timeutil import datetime_to_ns
from webhook_server import TOKEN, Reply, WebhookServer

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as s:
        yield s


def cli(db_url: str, webhook: str | None, *args: str, **env: str) -> Result:
    environment = {"SCALPER_DATABASE_URL": db_url, "COLUMNS": "250", "SCALPER_DISCORD_WEBHOOK_URL": webhook, **env}
    return CliRunner().invoke(app, ["alerts", *args], env=environment)


def test_alerts_test_records_and_delivers_a_test_alert(
    db_url: str, db: psycopg.Connection[Any], server: WebhookServer
) -> None:
    result = cli(db_url, server.url, "test", "--message", "hello from the CLI")
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output
    [got] = server.received
    assert "hello from the CLI" in got.content and "`test`" in got.content
    row = db.execute("SELECT kind, status, delivered_at IS NOT NULL FROM alerts").fetchone()
    assert row == ("test", "delivered", True)
    assert TOKEN not in result.output


def test_alerts_test_fails_when_the_webhook_refuses(db_url: str, server: WebhookServer) -> None:
    server.script(Reply(401, '{"message": "401: Unauthorized {path}"}'))
    result = cli(db_url, server.url, "test")
    assert result.exit_code == 1
    assert "failed" in result.output and "HTTP 401" in result.output
    assert TOKEN not in result.output


def test_send_pending_delivers_what_was_recorded(
    db_url: str, db: psycopg.Connection[Any], server: WebhookServer
) -> None:
    ts_ns = datetime_to_ns(dt.datetime.now(dt.UTC))
    record_alert(db, ts_ns=ts_ns, kind="kill_switch", severity="critical", message="loss limit")
    record_alert(db, ts_ns=ts_ns, kind="regime_flip", severity="info", message="flip")
    result = cli(db_url, server.url, "send-pending")
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output and "skipped 1" in result.output
    assert len(server.received) == 1


def test_without_a_webhook_or_when_disabled_the_commands_refuse(db_url: str) -> None:
    missing = cli(db_url, None, "send-pending")
    assert missing.exit_code == 2
    assert "SCALPER_DISCORD_WEBHOOK_URL" in missing.output
    disabled = cli(db_url, "http://127.0.0.1:9/api/webhooks/1/x", "send-pending", SCALPER_ALERTS__ENABLED="false")
    assert disabled.exit_code == 2
    assert "alerts.enabled is false" in disabled.output
