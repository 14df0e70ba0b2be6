"""Shared fixtures: a real PostgreSQL server, a migrated template, a fresh database per test.

The server is ``$SCALPER_TEST_DATABASE_URL`` when set (any database on a server where the user
may CREATE DATABASE); otherwise an embedded server in a temporary directory. Each test that
asks for ``db_url`` gets its own database cloned from a migrated template.
"""

from __future__ import annotations

import os

# Compiled feature kernels run with bounds checks under test (an index error instead of a crash),
# cached apart from the unchecked build the commands use.
os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "numba"))

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from scalper.adapters.store.embedded import embedded_server
from scalper.adapters.store.migrations import migrate


def with_database(url: str, name: str) -> str:
    """``url`` pointed at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a database on the test server, usable for CREATE/DROP DATABASE."""
    external = os.environ.get("SCALPER_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's basetemp: pytest prunes old basetemp dirs, which another concurrent run
    # would do under a live server's feet.
    root = Path(tempfile.mkdtemp(prefix="scalper-test-pg-"))
    try:
        with embedded_server(root / "pgdata") as url:
            yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    """Name of a migrated template database."""
    name = f"scalper_tpl_{uuid.uuid4().hex[:8]}"
    with _admin(pg_server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(with_database(pg_server_url, name), autocommit=True) as conn:
        migrate(conn)
    yield name
    with _admin(pg_server_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database (not migrated)."""
    name = f"scalper_t_{uuid.uuid4().hex[:10]}"
    with _admin(pg_server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_server_url, name)
    with _admin(pg_server_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """A fresh database cloned from the migrated template."""
    name = f"scalper_t_{uuid.uuid4().hex[:10]}"
    with _admin(pg_server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield with_database(pg_server_url, name)
    with _admin(pg_server_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to a fresh migrated database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def packaged_migrations() -> Path:
    """The directory of the packaged migration files."""
    import scalper.adapters.store as store

    return Path(store.__file__).parent / "migrations"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API over HTTP: moto's server on 127.0.0.1 (an ephemeral port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
