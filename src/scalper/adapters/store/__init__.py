"""The PostgreSQL store: connections, the embedded default, migrations, the bulk writer, readers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from scalper.adapters.store.database import configured_url, connect, redact_url
from scalper.adapters.store.embedded import embedded_server
from scalper.config import Config, Secrets


@contextlib.contextmanager
def database_url(config: Config, secrets: Secrets) -> Iterator[str]:
    """The URL of the database to use; starts (and later stops) the embedded server if needed."""
    url = configured_url(config, secrets)
    if url is not None:
        yield url
        return
    with embedded_server(config.database.embedded_dir) as embedded_url:
        yield embedded_url


__all__ = ["connect", "database_url", "redact_url"]
