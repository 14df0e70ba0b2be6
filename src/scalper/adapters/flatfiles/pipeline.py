"""Load one local flat file into the store: stream, aggregate, write -- parsing overlaps writing.

The reading thread parses and aggregates the next block while writer threads run the bulk
writer for the previous ones (the database works in its own process, and pyarrow and
numpy release the GIL), through a queue of one batch per writer, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.flatfiles.holdback import Columns
from scalper.adapters.flatfiles.loaders import Loader, Write
from scalper.adapters.flatfiles.reader import DEFAULT_BLOCK_BYTES, ReadStats, read_batches
from scalper.adapters.store.tables import TableSpec
from scalper.adapters.store.writer import BulkWriter

OnBlock = Callable[[ReadStats], None]


@dataclass(slots=True)
class WriteTally:
    """Rows handed to the store per table, and the writer's own seconds."""

    rows: dict[str, int]
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class _WriterPool:
    """Threads running ``BulkWriter.write`` for queued batches, one per connection; re-raises errors.

    With two connections one thread encodes its batch while the other's COPY runs (the writer
    serialises COPYs into one table with its lock, so the two never race on a key range).
    """

    def __init__(self, conns: Sequence[psycopg.Connection[Any]]) -> None:
        self._queue: queue.Queue[list[Write] | None] = queue.Queue(maxsize=len(conns))
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self.tally = WriteTally(rows={})
        self._threads = [
            threading.Thread(target=self._run, args=(BulkWriter(c),), name=f"flatfile-writer-{i}", daemon=True)
            for i, c in enumerate(conns)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, writer: BulkWriter) -> None:
        while (writes := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure; the reader sees the error on its next put
            try:
                for spec, columns in writes:
                    result = writer.write(spec, columns)
                    with self._lock:
                        self.tally.rows[spec.name] = self.tally.rows.get(spec.name, 0) + result.rows_in
                        self.tally.seconds += result.seconds
            except BaseException as exc:  # handed to the reading thread
                self._error = exc

    def put(self, writes: list[Write]) -> None:
        self._raise()
        if writes:
            self._queue.put(writes)

    def close(self) -> None:
        """Wait for every queued batch; raise the first writer error if there was one."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class _Coalesce:
    """Gathers small per-block batches per table into writes of about ``flush_rows`` rows."""

    def __init__(self, flush_rows: int) -> None:
        self._flush_rows = flush_rows
        self._parts: dict[str, tuple[TableSpec, list[Columns]]] = {}
        self._rows: dict[str, int] = {}

    def add(self, writes: list[Write]) -> list[Write]:
        """Take ``writes``; return the tables' batches that reached the size."""
        for spec, columns in writes:
            self._parts.setdefault(spec.name, (spec, []))[1].append(columns)
            self._rows[spec.name] = self._rows.get(spec.name, 0) + len(next(iter(columns.values())))
        return self._take([name for name, rows in self._rows.items() if rows >= self._flush_rows])

    def drain(self) -> list[Write]:
        """Everything still gathered."""
        return self._take(list(self._parts))

    def _take(self, names: list[str]) -> list[Write]:
        out: list[Write] = []
        for name in names:
            spec, parts = self._parts.pop(name)
            self._rows.pop(name)
            out.append(
                (spec, parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
            )
        return out


def load_file(
    conns: Sequence[psycopg.Connection[Any]],
    path: Path,
    *,
    key: str,
    dataset: str,
    loader: Loader,
    stats: ReadStats,
    on_block: OnBlock | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    flush_rows: int = 50_000,
) -> WriteTally:
    """Stream ``path`` through ``loader`` into the store over ``conns`` (autocommit connections, one
    writer thread each); ``stats`` counts rows as they are read."""
    writer = _WriterPool(conns)
    pending = _Coalesce(flush_rows)
    try:
        for block in read_batches(
            path, key=key, dataset=dataset, columns=loader.columns, keep=loader.keep, stats=stats,
            block_bytes=block_bytes,
        ):  # fmt: skip
            if len(block["ticker"]):
                writer.put(pending.add(loader.feed(block)))
            if on_block is not None:
                on_block(stats)
        writer.put(pending.add(loader.finish()))
        writer.put(pending.drain())
    finally:
        writer.close()
    return writer.tally
