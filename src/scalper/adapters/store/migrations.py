"""Numbered plain-SQL migrations, applied in order, each in its own transaction, and recorded.

File names: ``NNNN_name.sql`` (always applied) or a pair ``NNNN_name.timescale.sql`` /
``NNNN_name.plain.sql`` (one of the two, chosen by whether TimescaleDB can be used). The
variant is decided once per database and recorded, so a database never mixes the two.
A checksum of every applied file is recorded; a file changed after it was applied is an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import psycopg

from scalper.core.errors import MigrationError

Variant = Literal["timescale", "plain"]
_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<variant>timescale|plain))?\.sql$")
_LOCK_KEY = "scalper.migrations"
_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    variant    text,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class MigrationFile:
    """One SQL file."""

    version: int
    name: str
    variant: Variant | None
    path: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    variant: str | None
    checksum: str
    applied_at: Any


def _parse_file(path_name: str, text: str) -> MigrationFile:
    match = _NAME.match(Path(path_name).name)
    if match is None:
        raise MigrationError(f"migration file {path_name}: expected a name like 0001_name.sql or 0001_name.plain.sql")
    variant = match["variant"]
    return MigrationFile(int(match["version"]), match["name"], variant, path_name, text)  # type: ignore[arg-type]


def discover(directory: Path | None = None) -> list[MigrationFile]:
    """Read every migration file, packaged ones by default, and check the set is coherent."""
    if directory is None:
        root = resources.files("scalper.adapters.store") / "migrations"
        items = [(e.name, e.read_text(encoding="utf-8")) for e in root.iterdir() if e.name.endswith(".sql")]
    else:
        items = [(str(p), p.read_text(encoding="utf-8")) for p in directory.glob("*.sql")]
    files = sorted((_parse_file(n, t) for n, t in items), key=lambda f: (f.version, f.variant or ""))
    _check_coherent(files)
    return files


def _check_coherent(files: list[MigrationFile]) -> None:
    by_version: dict[int, list[MigrationFile]] = {}
    for f in files:
        by_version.setdefault(f.version, []).append(f)
    for version, group in by_version.items():
        kinds = sorted(f.variant or "all" for f in group)
        if kinds not in (["all"], ["plain", "timescale"]):
            raise MigrationError(
                f"migration {version:04d}: expected one NNNN_name.sql or a .plain/.timescale pair, "
                f"found {[Path(f.path).name for f in group]}"
            )


def timescale_usable(conn: psycopg.Connection[Any]) -> bool:
    """TimescaleDB is installed in this database, or available and preloaded so it can be created."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),"
        " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " current_setting('shared_preload_libraries')"
    ).fetchone()
    assert row is not None
    installed, available, preload = row
    return bool(installed) or (bool(available) and "timescaledb" in str(preload))


def choose_variant(applied: Iterable[AppliedMigration], timescale: bool) -> Variant:
    """Keep the variant a database already uses; otherwise take Timescale when it is usable."""
    for m in applied:
        if m.variant in ("timescale", "plain"):
            return m.variant  # type: ignore[return-value]
    return "timescale" if timescale else "plain"


def applied_migrations(conn: psycopg.Connection[Any]) -> list[AppliedMigration]:
    """The recorded migrations, oldest first; empty when none was ever applied."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        "SELECT version, name, variant, checksum, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    return [AppliedMigration(*r) for r in rows]


def pending(files: list[MigrationFile], applied: list[AppliedMigration], variant: Variant) -> list[MigrationFile]:
    """Files still to apply, after checking the applied ones were not changed."""
    done = {m.version: m for m in applied}
    todo: list[MigrationFile] = []
    for f in files:
        if f.variant not in (None, variant):
            continue
        record = done.get(f.version)
        if record is None:
            todo.append(f)
        elif record.checksum != f.checksum:
            raise MigrationError(
                f"migration {Path(f.path).name} was changed after it was applied "
                f"(recorded checksum {record.checksum[:12]}, file {f.checksum[:12]}); write a new migration instead"
            )
    return todo


@dataclass(frozen=True, slots=True)
class MigrateResult:
    """What ``migrate`` did."""

    variant: Variant
    applied: list[str]
    already: int


def migrate(conn: psycopg.Connection[Any], directory: Path | None = None) -> MigrateResult:
    """Apply pending migrations; each file is atomic, and concurrent callers are serialised."""
    files = discover(directory)
    if not conn.autocommit:
        raise MigrationError("migrate needs an autocommit connection (it manages its own transactions)")
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
    try:
        conn.execute(_BOOKKEEPING)
        applied = applied_migrations(conn)
        variant = choose_variant(applied, timescale_usable(conn))
        todo = pending(files, applied, variant)
        for f in todo:
            _apply_one(conn, f)
        return MigrateResult(variant, [Path(f.path).name for f in todo], len(applied))
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_KEY,))


def _apply_one(conn: psycopg.Connection[Any], f: MigrationFile) -> None:
    try:
        with conn.transaction():
            conn.execute(f.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, variant, checksum) VALUES (%s, %s, %s, %s)",
                (f.version, f.name, f.variant, f.checksum),
            )
    except psycopg.Error as exc:
        diag = exc.diag.message_primary or str(exc)
        where = f" at character {exc.diag.statement_position}" if exc.diag.statement_position else ""
        raise MigrationError(f"migration {Path(f.path).name} failed{where}: {diag}; nothing of it was applied") from exc
