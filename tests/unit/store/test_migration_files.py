from pathlib import Path

import pytest

from scalper.adapters.store.database import redact_url
from scalper.adapters.store.migrations import AppliedMigration, choose_variant, discover, pending
from scalper.core.errors import MigrationError


def test_packaged_migrations_are_numbered_and_coherent() -> None:
    files = discover()
    versions = sorted({f.version for f in files})
    assert versions == list(range(1, len(versions) + 1))
    assert {f.variant for f in files if f.version == 5} == {"plain", "timescale"}


def test_a_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"1_oops\.sql"):
        discover(tmp_path)


def test_a_variant_without_its_pair_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.timescale.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"\.plain/\.timescale pair"):
        discover(tmp_path)


def applied(version: int, variant: str | None, checksum: str = "x") -> AppliedMigration:
    return AppliedMigration(version, "n", variant, checksum, None)


def test_timescale_is_chosen_when_usable_and_kept_once_chosen() -> None:
    assert choose_variant([], timescale=True) == "timescale"
    assert choose_variant([], timescale=False) == "plain"
    assert choose_variant([applied(5, "plain")], timescale=True) == "plain"
    assert choose_variant([applied(5, "timescale")], timescale=False) == "timescale"


def test_pending_takes_only_the_chosen_variant() -> None:
    files = discover()
    names = [Path(f.path).name for f in pending(files, [], "timescale")]
    assert "0005_timeseries.timescale.sql" in names
    assert "0005_timeseries.plain.sql" not in names


def test_a_changed_applied_migration_is_an_error() -> None:
    files = discover()
    with pytest.raises(MigrationError, match="changed after it was applied"):
        pending(files, [applied(1, None, checksum="0" * 64)], "plain")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:hunter2@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("postgresql://db/x?password=hunter2&sslmode=require", "postgresql://db/x?password=***&sslmode=require"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
    ],
)
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
