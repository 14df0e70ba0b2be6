import gzip
from pathlib import Path

import pytest

from scalper.adapters.flatfiles import FlatFileError
from scalper.adapters.flatfiles.reader import ReadStats, read_batches, tickers_in

DATASET = "us_indices/values_v1"
KEY = "us_indices/values_v1/2025/11/2025-11-25.csv.gz"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    return path


def read(path: Path, stats: ReadStats | None = None, block: int = 1 << 20) -> list[tuple[str, float, int]]:
    out = []
    for b in read_batches(
        path, key=KEY, dataset=DATASET, columns=("ticker", "value", "timestamp"), keep=tickers_in(["I:SPX"]),
        stats=stats or ReadStats(), block_bytes=block,
    ):  # fmt: skip
        out += list(zip(b["ticker"].to_pylist(), b["value"].to_pylist(), b["timestamp"].to_pylist(), strict=True))
    return out


def test_only_the_wanted_tickers_are_kept_and_every_row_is_counted(tmp_path: Path) -> None:
    lines = ["ticker,value,timestamp"] + [f"{t},{i}.5,{i}" for i in range(2000) for t in ("I:NDX", "I:SPX", "I:VIX")]
    stats = ReadStats()
    rows = read(write(tmp_path, "\n".join(lines) + "\n"), stats, block=4096)  # many small blocks
    assert rows == [("I:SPX", i + 0.5, i) for i in range(2000)]
    assert (stats.rows_read, stats.rows_kept) == (6000, 2000)


def test_a_changed_header_fails_naming_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(FlatFileError, match=rf"^{KEY}: line 1: expected header 'ticker,value,timestamp'"):
        read(write(tmp_path, "ticker,timestamp,value\nI:SPX,1,2\n"))


def test_a_malformed_value_fails_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(FlatFileError, match=rf"^{KEY}: .*'abc'"):
        read(write(tmp_path, "ticker,value,timestamp\nI:SPX,1.5,1\nI:SPX,abc,2\n"))


def test_a_file_that_is_not_gzip_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "f.csv.gz"
    path.write_bytes(b"ticker,value,timestamp\nI:SPX,1,2\n")
    with pytest.raises(FlatFileError, match=rf"^{KEY}: not a readable gzip file"):
        read(path)
