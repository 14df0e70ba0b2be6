"""Stream a gzip CSV flat file in record batches, keeping only the wanted tickers.

The file is decompressed and parsed block by block (pyarrow's streaming CSV reader over a
gzip input stream), so memory is bounded by the block size whatever the file size. Each block
is filtered on its ticker column before anything else touches it. Any failure -- a corrupt
gzip, a malformed row, a changed header -- becomes a :class:`FlatFileError` naming the key and,
where known, the row.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scalper.adapters.flatfiles.errors import FlatFileError
from scalper.adapters.flatfiles.formats import HEADERS

DEFAULT_BLOCK_BYTES = 2 << 20  # parser memory grows with the block (about 30x): keep it small

# Column types as loaded; columns not listed are not parsed at all.
TYPES: dict[str, pa.DataType] = {
    "ticker": pa.string(),
    "conditions": pa.string(),
    "id": pa.string(),
    "value": pa.float64(),
    "price": pa.float64(),
    "size": pa.float64(),  # recent files may carry decimal sizes
    "volume": pa.float64(),
    "open": pa.float64(),
    "close": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "ask_price": pa.float64(),
    "bid_price": pa.float64(),
    "ask_size": pa.float64(),
    "bid_size": pa.float64(),
    "exchange": pa.int16(),
    "tape": pa.int16(),
    "correction": pa.int16(),
    "timestamp": pa.int64(),
    "sip_timestamp": pa.int64(),
    "participant_timestamp": pa.int64(),
    "window_start": pa.int64(),
    "sequence_number": pa.int64(),
    "transactions": pa.int64(),
}

TickerFilter = Callable[[pa.Array], pa.Array]


def tickers_in(tickers: tuple[str, ...] | list[str]) -> TickerFilter:
    """A filter keeping rows whose ticker is one of ``tickers``."""
    wanted = pa.array(sorted(set(tickers)), type=pa.string())
    return lambda column: pc.is_in(column, value_set=wanted)


def option_roots_in(roots: tuple[str, ...] | list[str]) -> TickerFilter:
    """A filter keeping option tickers (``O:ROOTYYMMDD[C|P]STRIKE8``) whose root is in ``roots``."""
    wanted = pa.array(sorted(set(roots)), type=pa.string())
    return lambda column: pc.is_in(pc.utf8_slice_codeunits(column, 2, -15), value_set=wanted)


@dataclass(slots=True)
class ReadStats:
    """Running totals of one read: rows parsed, rows kept, compressed bytes consumed."""

    rows_read: int = 0
    rows_kept: int = 0
    bytes_read: int = 0


def check_header(path: Path, key: str, dataset: str) -> None:
    """The first line must be the dataset's exact header."""
    expected = ",".join(HEADERS[dataset])
    try:
        with gzip.open(path, "rb") as f:
            first = f.readline(1 << 16).decode("utf-8", errors="replace").rstrip("\r\n")
    except (OSError, EOFError, zlib.error) as exc:
        raise FlatFileError(key, f"not a readable gzip file: {exc}") from None
    if first != expected:
        raise FlatFileError(key, f"line 1: expected header {expected!r}, was {first[:200]!r}")


def read_batches(
    path: Path,
    *,
    key: str,
    dataset: str,
    columns: tuple[str, ...],
    keep: TickerFilter | None,
    stats: ReadStats,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[Mapping[str, pa.Array]]:
    """Yield the wanted columns of the kept rows, block by block (possibly empty); ``stats`` keeps count."""
    check_header(path, key, dataset)
    header = HEADERS[dataset]
    missing = [c for c in columns if c not in header]
    if missing:
        raise FlatFileError(key, f"dataset {dataset} has no columns {missing}")
    raw = pa.OSFile(str(path), "rb")
    try:
        reader = _open(raw, columns, block_bytes, key)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
                raise FlatFileError(key, f"after data row {stats.rows_read:,}: {_first_line(exc)}") from None
            stats.rows_read += batch.num_rows
            stats.bytes_read = raw.tell()
            if keep is not None:
                batch = batch.filter(keep(batch.column("ticker")))
            stats.rows_kept += batch.num_rows
            yield {name: batch.column(name) for name in columns}
    finally:
        raw.close()


def _open(raw: pa.NativeFile, columns: tuple[str, ...], block_bytes: int, key: str) -> pacsv.CSVStreamingReader:
    try:
        return pacsv.open_csv(
            pa.CompressedInputStream(raw, "gzip"),
            read_options=pacsv.ReadOptions(block_size=block_bytes, use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: TYPES[c] for c in columns if c in TYPES},
                include_columns=list(columns),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
        raise FlatFileError(key, f"at the start of the data: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
