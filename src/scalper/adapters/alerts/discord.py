"""Discord webhook client: posts one message, retries what can succeed later, never shows the URL.

A Discord webhook URL embeds its token, so the URL is a :class:`~scalper.config.secrets.Secret`:
it is revealed only to build the request, every error text is scrubbed of it, and a filter on
the ``httpx``/``httpcore`` loggers scrubs their request lines too.

Outcomes of :meth:`DiscordWebhook.send` (never an exception for an HTTP or network failure):

* 2xx (Discord answers 204): delivered;
* 429: rate limited; waits the ``retry_after`` of the JSON body (seconds, a float) or the
  ``Retry-After`` header, then retries (a wait longer than ``max_retry_after_s`` gives up);
* 5xx, a timeout or a network error: retried after an exponential backoff;
* any other 4xx: permanent, not retried (a bad or deleted webhook, a malformed message).

Retries are bounded by ``max_retries``; the result says how many requests were made.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from scalper.config.secrets import Secret

DISCORD_CONTENT_LIMIT = 2000
TRUNCATION_MARKER = "\n… [truncated: {total} characters in all]"
REDACTED = "<webhook-url>"
_HTTP_LOGGERS = ("httpx", "httpcore")
_BODY_EXCERPT = 200

# Returns True when the wait was interrupted (shutting down): the send then gives up.
Sleep = Callable[[float], bool | None]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one :meth:`DiscordWebhook.send` did.

    ``status`` is the last HTTP status (None when no response came); ``error`` is scrubbed of the
    URL; ``permanent`` marks a refusal that retrying cannot fix (a 4xx other than 429).
    """

    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    permanent: bool = False


def truncate_content(text: str, limit: int = DISCORD_CONTENT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending with a marker that says it was cut."""
    if len(text) <= limit:
        return text
    marker = TRUNCATION_MARKER.format(total=len(text))
    return text[: max(limit - len(marker), 0)] + marker[:limit]


def secret_fragments(url: str) -> list[str]:
    """The strings to scrub for a webhook URL: the URL, its path, and its last two path segments
    (``…/webhooks/<id>/<token>``) when they are long enough to be identifiers."""
    parts = urlsplit(url)
    fragments = [url, url.split("?", 1)[0], parts.path]
    fragments += [segment for segment in [s for s in parts.path.split("/") if s][-2:] if len(segment) >= 8]
    unique = {f for f in fragments if f and f != "/"}
    return sorted(unique, key=len, reverse=True)  # longest first, so the URL goes before its parts


def scrub(text: str, fragments: Sequence[str]) -> str:
    """``text`` with every fragment of a secret replaced by a placeholder."""
    for fragment in fragments:
        text = text.replace(fragment, REDACTED)
    return text


def retry_after_s(headers: Mapping[str, str], body: bytes) -> float | None:
    """The wait a 429 asks for: the JSON body's ``retry_after`` (seconds), else ``Retry-After``."""
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("retry_after"), int | float):
        return max(float(parsed["retry_after"]), 0.0)
    header = headers.get("retry-after")
    if header is not None:
        try:
            return max(float(header), 0.0)
        except ValueError:
            return None
    return None


def backoff_s(retry: int, base_s: float, cap_s: float) -> float:
    """Wait before retry number ``retry`` (1, 2, …) after a 5xx or a network error: doubling, capped."""
    return float(min(base_s * 2 ** (retry - 1), cap_s))


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One request's outcome: ``error`` None = delivered; ``retry_in_s`` None = final."""

    status: int | None
    error: str | None
    retry_in_s: float | None


class _ScrubFilter(logging.Filter):
    """Rewrites log records that contain the webhook URL (httpx logs every request's URL)."""

    def __init__(self, fragments: Sequence[str]) -> None:
        super().__init__()
        self._fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message, self._fragments)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class DiscordWebhook:
    """Posts messages to one Discord webhook with bounded, rate-limit-aware retries."""

    def __init__(
        self,
        url: Secret,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        max_retry_after_s: float = 60.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._url = url
        self._fragments = secret_fragments(url.reveal())
        self._max_retries = max_retries
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._filter = _ScrubFilter(self._fragments)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def __repr__(self) -> str:
        return f"DiscordWebhook(url={self._url!r})"

    def close(self) -> None:
        """Close the HTTP connections and remove the log filter."""
        self._client.close()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    def __enter__(self) -> DiscordWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scrub(self, text: str) -> str:
        """``text`` without this webhook's URL or token."""
        return scrub(text, self._fragments)

    def send(self, content: str, *, embeds: Sequence[Mapping[str, Any]] | None = None) -> DeliveryResult:
        """Post one message (content cut to Discord's 2000 characters; mentions never ping)."""
        payload: dict[str, Any] = {"content": truncate_content(content), "allowed_mentions": {"parse": []}}
        if embeds:
            payload["embeds"] = [dict(e) for e in embeds[:10]]
        attempt = 0
        while True:
            attempt += 1
            tried = self._attempt(payload, attempt)
            if tried.error is None:
                return DeliveryResult(True, attempt, tried.status)
            if tried.retry_in_s is None:
                return DeliveryResult(False, attempt, tried.status, tried.error, permanent=True)
            if tried.retry_in_s > self._max_retry_after_s:
                limit = self._max_retry_after_s
                error = f"{tried.error}; asked to wait {tried.retry_in_s:g} s, over the {limit:g} s allowed"
                return DeliveryResult(False, attempt, tried.status, error)
            if attempt > self._max_retries:
                return DeliveryResult(False, attempt, tried.status, f"{tried.error} (gave up after {attempt} attempts)")
            if self._sleep(tried.retry_in_s):
                return DeliveryResult(False, attempt, tried.status, f"{tried.error}; retry interrupted: shutting down")

    def _attempt(self, payload: dict[str, Any], attempt: int) -> _Attempt:
        """One request, classified."""
        try:
            response = self._client.post(self._url.reveal(), json=payload)
        except httpx.HTTPError as exc:
            error = f"network error: {type(exc).__name__}: {self.scrub(str(exc)) or 'no detail'}"
            return _Attempt(None, error, backoff_s(attempt, *self._backoff))
        status = response.status_code
        if 200 <= status < 300:
            return _Attempt(status, None, None)
        excerpt = self.scrub(response.text[:_BODY_EXCERPT].strip())
        if status == 429:
            wait = retry_after_s(response.headers, response.content)
            retry_in_s = backoff_s(attempt, *self._backoff) if wait is None else wait
            return _Attempt(status, f"HTTP 429 rate limited: {excerpt}", retry_in_s)
        if status >= 500:
            return _Attempt(status, f"HTTP {status}: {excerpt}", backoff_s(attempt, *self._backoff))
        return _Attempt(status, f"HTTP {status} (permanent): {excerpt}", None)
