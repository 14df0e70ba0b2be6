"""The Discord client's pure parts: truncation, URL scrubbing, the 429 wait, the backoff."""

from __future__ import annotations

import pytest

from scalper.adapters.alerts.discord import (
    DISCORD_CONTENT_LIMIT,
    REDACTED,
    DiscordWebhook,
    backoff_s,
    retry_after_s,
    scrub,
    secret_fragments,
    truncate_content,
)
from scalper.config.secrets import Secret

TOKEN = "aBcDeFgHiJkLmNoPqRsTuVwXyZ-0123456789_token"
URL = f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}"


def test_short_content_is_left_alone() -> None:
    assert truncate_content("hello") == "hello"
    assert truncate_content("x" * DISCORD_CONTENT_LIMIT) == "x" * DISCORD_CONTENT_LIMIT


def test_long_content_is_cut_to_the_limit_with_a_marker_giving_the_full_length() -> None:
    text = truncate_content("x" * 5000)
    assert len(text) == DISCORD_CONTENT_LIMIT
    assert text.endswith("[truncated: 5000 characters in all]")
    assert text.startswith("x" * 1900)


@pytest.mark.parametrize(
    "leaky",
    [
        f"POST {URL} failed",
        f"error at {URL}?wait=true",
        f"path /api/webhooks/123456789012345678/{TOKEN} refused",
        f"token {TOKEN} alone",
    ],
)
def test_scrub_removes_the_url_and_its_token(leaky: str) -> None:
    cleaned = scrub(leaky, secret_fragments(URL))
    assert TOKEN not in cleaned
    assert REDACTED in cleaned


def test_scrub_leaves_other_text_alone() -> None:
    assert scrub("HTTP 500: upstream error", secret_fragments(URL)) == "HTTP 500: upstream error"


def test_the_client_never_shows_its_url() -> None:
    with DiscordWebhook(Secret(URL)) as hook:
        assert TOKEN not in repr(hook)
        assert TOKEN not in str(hook)


@pytest.mark.parametrize(
    ("headers", "body", "wait"),
    [
        ({}, b'{"retry_after": 0.25, "global": false}', 0.25),
        ({"retry-after": "3"}, b"", 3.0),
        ({"retry-after": "3"}, b'{"retry_after": 1.5}', 1.5),  # the body's float is the precise one
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"", None),  # a date: unusable, back off instead
        ({}, b"not json", None),
        ({}, b'{"retry_after": -1}', 0.0),
    ],
)
def test_retry_after(headers: dict[str, str], body: bytes, wait: float | None) -> None:
    assert retry_after_s(headers, body) == wait


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, 0.5, 3.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
