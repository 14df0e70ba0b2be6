"""The composition root: configuration, secrets and the database, wired once per command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from scalper.adapters.store import connect, database_url
from scalper.config import Config, Secrets, load_config, load_secrets


@dataclass(frozen=True, slots=True)
class AppContext:
    """What every command starts from."""

    config: Config
    secrets: Secrets

    @classmethod
    def load(cls, config_path: Path | None) -> AppContext:
        return cls(config=load_config(config_path), secrets=load_secrets())

    @contextlib.contextmanager
    def database(self) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
        """(url, autocommit connection) of the configured or embedded database."""
        with database_url(self.config, self.secrets) as url:
            conn = connect(url, timeout_s=self.config.database.connect_timeout_s)
            try:
                yield url, conn
            finally:
                conn.close()
