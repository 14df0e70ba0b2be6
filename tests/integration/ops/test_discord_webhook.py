"""The Discord client against a real local HTTP server: 204, 429 waits, 5xx retries, 4xx, no URL leaks."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from scalper.adapters.alerts.discord import DISCORD_CONTENT_LIMIT, DiscordWebhook
from scalper.config.secrets import Secret
from webhook_server import TOKEN, WEBHOOK_PATH, Reply, WebhookServer, rate_limited


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as s:
        yield s


def hook(url: str, **kwargs: float) -> DiscordWebhook:
    options: dict[str, float] = {"timeout_s": 5.0, "max_retries": 3, "backoff_base_s": 0.05, "backoff_cap_s": 0.2}
    options.update(kwargs)
    return DiscordWebhook(Secret(url), **options)  # type: ignore[arg-type]


def test_a_message_is_posted_as_json_and_204_is_delivered(server: WebhookServer) -> None:
    with hook(server.url) as h:
        result = h.send("hello @everyone")
    assert result.delivered and result.attempts == 1 and result.status == 204
    [got] = server.received
    assert got.path == WEBHOOK_PATH
    assert got.body == {"content": "hello @everyone", "allowed_mentions": {"parse": []}}


def test_embeds_are_sent_alongside_the_content(server: WebhookServer) -> None:
    with hook(server.url) as h:
        assert h.send("x", embeds=[{"title": "t", "description": "d"}]).delivered
    assert server.received[0].body["embeds"] == [{"title": "t", "description": "d"}]


def test_content_over_discords_limit_arrives_truncated_with_a_marker(server: WebhookServer) -> None:
    with hook(server.url) as h:
        assert h.send("y" * 4500).delivered
    content = server.received[0].content
    assert len(content) == DISCORD_CONTENT_LIMIT
    assert content.endswith("[truncated: 4500 characters in all]")


def test_429_waits_retry_after_before_the_next_request(server: WebhookServer) -> None:
    server.script(rate_limited(0.2))
    with hook(server.url) as h:
        result = h.send("rate me")
    assert result.delivered and result.attempts == 2
    first, second = server.received
    assert second.at - first.at >= 0.2
    assert second.content == "rate me"


def test_429_with_only_the_header_is_honoured(server: WebhookServer) -> None:
    server.script(Reply(429, "", {"Retry-After": "0.3"}))
    with hook(server.url) as h:
        assert h.send("m").delivered
    first, second = server.received
    assert second.at - first.at >= 0.3


def test_a_429_asking_for_too_long_a_wait_gives_up_at_once(server: WebhookServer) -> None:
    server.script(rate_limited(600))
    with hook(server.url, max_retry_after_s=5.0) as h:
        result = h.send("m")
    assert not result.delivered and not result.permanent
    assert result.attempts == 1 and len(server.received) == 1
    assert result.error is not None and "asked to wait 600 s" in result.error


def test_5xx_is_retried_with_backoff_then_reported(server: WebhookServer) -> None:
    server.script(*[Reply(502, "bad gateway")] * 3)
    with hook(server.url, max_retries=2) as h:
        result = h.send("m")
    assert not result.delivered and not result.permanent
    assert result.attempts == 3 and len(server.received) == 3
    assert result.status == 502
    assert result.error is not None and "HTTP 502" in result.error and "gave up after 3 attempts" in result.error
    gaps = [b.at - a.at for a, b in zip(server.received, server.received[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # doubling backoff


def test_5xx_then_success_is_delivered(server: WebhookServer) -> None:
    server.script(Reply(500))
    with hook(server.url) as h:
        result = h.send("m")
    assert result.delivered and result.attempts == 2


def test_4xx_is_permanent_and_not_retried(server: WebhookServer) -> None:
    server.script(Reply(400, '{"message": "Cannot send an empty message", "code": 50006}'))
    with hook(server.url) as h:
        result = h.send("m")
    assert not result.delivered and result.permanent
    assert result.attempts == 1 and len(server.received) == 1
    assert result.error is not None and "HTTP 400" in result.error and "50006" in result.error


def test_an_error_body_echoing_the_url_is_scrubbed(server: WebhookServer) -> None:
    server.script(Reply(404, '{"message": "Unknown Webhook {path}"}'))
    with hook(server.url) as h:
        result = h.send("m")
    assert result.permanent and result.error is not None
    assert "Unknown Webhook" in result.error
    assert TOKEN not in result.error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_errors_are_retried_and_neither_the_error_nor_the_logs_show_the_url(
    server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with hook(server.url) as h:  # httpx logs every request with its URL: the filter must scrub it
        assert h.send("ok").delivered
    unreachable = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
    with hook(unreachable, max_retries=1) as h:
        result = h.send("m")
    assert not result.delivered and not result.permanent and result.attempts == 2
    assert result.status is None
    assert result.error is not None and "network error: ConnectError" in result.error
    assert "HTTP Request: POST" in caplog.text  # httpx's request line was logged ...
    assert TOKEN not in caplog.text  # ... without the token
    assert TOKEN not in result.error


def test_a_shutdown_cuts_the_retry_wait_short(server: WebhookServer) -> None:
    server.script(rate_limited(30))
    with DiscordWebhook(Secret(server.url), sleep=lambda s: True) as h:  # the wait reports: interrupted
        result = h.send("m")
    assert not result.delivered and result.attempts == 1
    assert result.error is not None and "shutting down" in result.error
