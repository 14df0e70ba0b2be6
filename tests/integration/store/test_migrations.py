import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scalper.adapters.store.migrations import applied_migrations, migrate, timescale_usable
from scalper.core.errors import MigrationError

REQUIRED_TABLES = {
    "agg_1s",
    "bars",
    "features",
    "signals",
    "orders",
    "fills",
    "regimes",
    "option_snapshots",
    "gamma_levels",
    "econ_events",
    "alerts",
    "job_runs",
    "ingest_gaps",
    "trades",
    "quotes_1s",
    "option_bars",
    "runs",
    "order_events",
    "schema_migrations",
}


def schema_shape(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    ).fetchall()


def tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_migrate_creates_every_table_and_records_each_file(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        result = migrate(conn)
        assert tables(conn) >= REQUIRED_TABLES
        recorded = applied_migrations(conn)
    assert [m.version for m in recorded] == list(range(1, len(recorded) + 1))
    assert len(result.applied) == len(recorded)


def test_migrate_twice_changes_nothing(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        migrate(conn)
        before = (schema_shape(conn), applied_migrations(conn))
        second = migrate(conn)
        after = (schema_shape(conn), applied_migrations(conn))
    assert second.applied == []
    assert before == after


def test_a_failing_migration_leaves_nothing_half_applied(
    empty_db_url: str, packaged_migrations: Path, tmp_path: Path
) -> None:
    for f in packaged_migrations.glob("*.sql"):
        shutil.copy(f, tmp_path)
    (tmp_path / "0099_broken.sql").write_text("CREATE TABLE half_done (x int);\nCREATE TABLE oops (x nosuchtype);\n")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        with pytest.raises(MigrationError) as info:
            migrate(conn, tmp_path)
        assert "0099_broken.sql" in str(info.value)
        assert "nosuchtype" in str(info.value)
        assert "half_done" not in tables(conn)
        assert 99 not in {m.version for m in applied_migrations(conn)}
        assert tables(conn) >= REQUIRED_TABLES  # the good ones before it stay applied


def test_an_edited_applied_migration_is_refused(empty_db_url: str, packaged_migrations: Path, tmp_path: Path) -> None:
    for f in packaged_migrations.glob("*.sql"):
        shutil.copy(f, tmp_path)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        migrate(conn, tmp_path)
        edited = tmp_path / "0001_market_data.sql"
        edited.write_text(edited.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(conn, tmp_path)


def test_plain_branch_gives_the_one_minute_view(db: psycopg.Connection[Any]) -> None:
    if timescale_usable(db):
        pytest.skip("server has TimescaleDB; the plain branch is not the one applied")
    db.execute(
        "INSERT INTO agg_1s (symbol, ts, open, high, low, close, volume, vwap, trades, source) VALUES "
        "('SPY', '2025-01-02 14:30:00+00', 10, 12, 9, 11, 100, 10.5, 3, 't'),"
        "('SPY', '2025-01-02 14:30:59+00', 11, 13, 8, 12, 300, 12.5, 1, 't')"
    )
    row = db.execute("SELECT open, high, low, close, volume, vwap, trades FROM agg_1m").fetchone()
    assert row == (10.0, 13.0, 8.0, 12.0, 400.0, 12.0, 4)


def test_timescale_branch_is_applied_when_the_extension_exists(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        if not timescale_usable(conn):
            available = conn.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
            pytest.skip(
                f"TimescaleDB is not usable on this server (available: {bool(available and available[0])}, "
                "or not in shared_preload_libraries); the Timescale branch is covered by "
                "the variant-choice unit tests only"
            )
        result = migrate(conn)
        assert result.variant == "timescale"
        hypertables = {r[0] for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")}
        assert {"agg_1s", "bars", "trades", "quotes_1s"} <= hypertables
        caggs = conn.execute("SELECT view_name FROM timescaledb_information.continuous_aggregates").fetchall()
        assert ("agg_1m",) in caggs
