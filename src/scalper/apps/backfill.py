"""``scalper backfill`` and ``scalper sync``: flat-file history into the store, with a summary.

The source is the configured S3 bucket (keys from SCALPER_S3_ACCESS_KEY_ID /
SCALPER_S3_SECRET_ACCESS_KEY) or, when ``flatfiles.local_dir`` is set, a directory with the
bucket's layout. Progress bars show bytes and rows per second per file; the summary lists
every file with its outcome, and failures with their error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import platformdirs
import psycopg
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from scalper.adapters.flatfiles import (
    Backfill,
    FileCache,
    FileResult,
    LoadOptions,
    LocalSource,
    S3Source,
    Source,
    check_datasets,
    sessions_before,
    sessions_between,
)
from scalper.adapters.store import connect
from scalper.adapters.store.migrations import migrate
from scalper.apps.context import AppContext
from scalper.config import Secrets
from scalper.config.model import FlatFilesConfig
from scalper.core.errors import ConfigError
from scalper.core.timeutil import NEW_YORK


def make_source(config: FlatFilesConfig, secrets: Secrets) -> Source:
    """The local directory when configured, else the S3 bucket (which needs both S3 keys)."""
    if config.local_dir is not None:
        return LocalSource(config.local_dir)
    if secrets.s3_access_key_id is None or secrets.s3_secret_access_key is None:
        raise ConfigError(
            "flat files: set SCALPER_S3_ACCESS_KEY_ID and SCALPER_S3_SECRET_ACCESS_KEY (or *_FILE), "
            "or flatfiles.local_dir for a local copy"
        )
    return S3Source(
        endpoint=config.endpoint,
        bucket=config.bucket,
        region=config.region,
        access_key_id=secrets.s3_access_key_id.reveal(),
        secret_access_key=secrets.s3_secret_access_key.reveal(),
    )


def scrubber(secrets: Secrets) -> Any:
    """A function removing every secret value from a text (errors are stored and printed)."""
    values = [s.reveal() for s in (secrets.s3_access_key_id, secrets.s3_secret_access_key) if s is not None]

    def scrub(text: str) -> str:
        for value in values:
            text = text.replace(value, "***")
        return text

    return scrub


class RichProgress:
    """One progress bar per file: compressed bytes consumed, rows parsed, rows per second."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, tuple[TaskID, float]] = {}

    def begin(self, key: str, total_bytes: int) -> None:
        self._tasks[key] = (self._progress.add_task(key, total=total_bytes, rows=0, rate=0.0), time.monotonic())

    def update(self, key: str, bytes_done: int, rows: int) -> None:
        task, began = self._tasks[key]
        elapsed = time.monotonic() - began
        self._progress.update(task, completed=bytes_done, rows=rows, rate=rows / elapsed if elapsed > 0 else 0.0)

    def end(self, key: str) -> None:
        self._progress.remove_task(self._tasks.pop(key)[0])


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@contextlib.contextmanager
def _backfill(ctx: AppContext, url: str, conn: psycopg.Connection[Any], console: Console | None) -> Iterator[Backfill]:
    cfg = ctx.config.flatfiles
    cache_dir = cfg.cache_dir or Path(platformdirs.user_cache_dir("scalper")) / "flatfiles"
    options = LoadOptions(
        index_tickers=ctx.config.feed.index_symbols,
        stock_tickers=ctx.config.feed.proxy_symbols,
        option_roots=cfg.option_roots,
        store_trades=cfg.store_trades,
    )
    extra = [connect(url) for _ in range(cfg.writer_connections - 1)]
    progress = _progress(console) if console is not None else None
    try:
        with progress if progress is not None else contextlib.nullcontext():
            yield Backfill(
                conn,
                make_source(cfg, ctx.secrets),
                FileCache(cache_dir),
                options,
                progress=RichProgress(progress) if progress is not None else None,
                block_bytes=cfg.block_mb << 20,
                scrub=scrubber(ctx.secrets),
                extra_writers=extra,
                keep_cache=cfg.keep_cache,
            )
    finally:
        for c in extra:
            c.close()


def run_backfill(
    ctx: AppContext, console: Console | None, *, first: dt.date, last: dt.date, datasets: Sequence[str] | None
) -> list[FileResult]:
    """Load every session from ``first`` to ``last`` (holidays have no files) for ``datasets``."""
    names = check_datasets(list(datasets or ctx.config.flatfiles.datasets))
    days = sessions_between(first, last)
    with ctx.database() as (url, conn):
        migrate(conn)
        with _backfill(ctx, url, conn, console) as backfill:
            return backfill.run(names, days)


def run_sync(
    ctx: AppContext, console: Console | None, *, today: dt.date | None = None, datasets: Sequence[str] | None = None
) -> list[FileResult]:
    """Load the most recent published session: the newest session before ``today`` that has files."""
    names = check_datasets(list(datasets or ctx.config.flatfiles.datasets))
    as_of = today or dt.datetime.now(NEW_YORK).date()
    with ctx.database() as (url, conn):
        migrate(conn)
        with _backfill(ctx, url, conn, console) as backfill:
            results: list[FileResult] = []
            for day in sessions_before(as_of):
                results = backfill.run(names, [day])
                if any(r.outcome != "missing" for r in results):
                    break
            return results


def summary_table(results: Sequence[FileResult], title: str) -> Table:
    """One row per file: outcome, rows, size and timings; totals at the bottom."""
    table = Table(
        "session", "dataset", "outcome", "rows read", "rows kept", "rows written", "MB", "download s", "load s",
        "rows/s", title=title,
    )  # fmt: skip
    for r in results:
        rate = r.rows_read / r.load_s if r.load_s else 0.0
        table.add_row(
            str(r.day), r.dataset, r.outcome, f"{r.rows_read:,}", f"{r.rows_kept:,}", f"{r.rows_written:,}",
            f"{r.bytes / 1e6:,.1f}", f"{r.download_s:.2f}", f"{r.load_s:.2f}", f"{rate:,.0f}",
        )  # fmt: skip
    counts = {
        o: sum(1 for r in results if r.outcome == o) for o in ("loaded", "replaced", "skipped", "failed", "missing")
    }
    table.caption = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no files"
    return table
