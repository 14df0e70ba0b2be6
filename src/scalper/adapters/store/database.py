"""Connections: which PostgreSQL to use, how to reach it, and how to say it failed.

``SCALPER_DATABASE_URL`` (a secret, it may hold a password) wins; then ``database.url`` from
the configuration; otherwise the embedded server. Error messages show URLs with the password
replaced by ``***``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from scalper.config import Config, Secrets
from scalper.core.errors import DatabaseUnavailable

_SECRET_QUERY_KEYS = {"password", "sslpassword"}
log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """The URL with any password (in the authority or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    netloc = parts.netloc
    if parts.password:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}"
    query = urlencode([(k, "***" if k in _SECRET_QUERY_KEYS else v) for k, v in parse_qsl(parts.query)], safe="/*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def configured_url(config: Config, secrets: Secrets) -> str | None:
    """The external database URL, or ``None`` when the embedded server should be used."""
    if secrets.database_url is not None:
        return secrets.database_url.reveal()
    return config.database.url


def connect(
    url: str, *, autocommit: bool = True, timeout_s: float = 5.0, statement_timeout_s: float = 0.0
) -> psycopg.Connection[Any]:
    """Open a connection, translating failures into :class:`DatabaseUnavailable` (password redacted).

    ``statement_timeout_s`` > 0 makes the server cancel any statement running longer (a hung write
    then fails, and the caller can fall back, e.g. to its spool); 0 means no limit.
    """
    log.debug("connecting to %s", redact_url(url))
    options = f"-c statement_timeout={round(statement_timeout_s * 1000)}" if statement_timeout_s > 0 else None
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=max(1, round(timeout_s)),
            application_name="scalper",
            options=options,
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        reason = reason.replace(url, redact_url(url))
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {reason}") from None
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnavailable(f"invalid database URL {redact_url(url)}: {exc}") from None
