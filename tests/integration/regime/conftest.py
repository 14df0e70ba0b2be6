"""A migrated template database holding a synthetic minute-bar history; each test gets a clone."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from scalper.apps.regime import _write_history
from scalper.regime.store import sessions_before
from scalper.synthetic.market import MarketConfig, generate_market_days

SESSIONS = 250
SEED = 7
END = dt.date(2025, 11, 25)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass(frozen=True)
class History:
    template: str
    truth: dict[dt.date, str]
    first: dt.date
    last: dt.date


@pytest.fixture(scope="session")
def regime_history(pg_server_url: str, template_db: str) -> Iterator[History]:
    """250 synthetic sessions (I:SPX, I:NDX, SPY, QQQ minute bars) and the generator's day types."""
    name = f"scalper_regime_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    start = sessions_before(END, SESSIONS)
    with psycopg.connect(with_database(pg_server_url, name), autocommit=True) as conn:
        _write_history(conn, start, SESSIONS, SEED)
    config = MarketConfig(trades_per_second=0.5, quotes_per_second=0.5)
    truth = {d.window.day: d.truth.day_type for d in generate_market_days(start, SESSIONS, SEED, config)}
    yield History(template=name, truth=truth, first=min(truth), last=max(truth))
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def history_url(pg_server_url: str, regime_history: History) -> Iterator[str]:
    """A fresh database cloned from the history template."""
    name = f"scalper_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{regime_history.template}"')
    yield with_database(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
