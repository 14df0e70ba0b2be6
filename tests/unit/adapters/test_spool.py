import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scalper.adapters.spool import Spool, decode_record, encode_record
from scalper.core.errors import DataError, StoreError

Batch = dict[str, np.ndarray]
MB = 1 << 20


def batch(i: int, n: int = 5) -> Batch:
    return {
        "symbol": np.array([f"S{i}"] * (n - 1) + [None], dtype=object),
        "ts": np.arange(n, dtype=np.int64) + i * 1_000,
        "close": np.where(np.arange(n) % 2 == 0, np.nan, float(i)),
        "day": np.arange(n).astype("datetime64[D]"),
        "trades": np.full(n, i, dtype=np.int32),
    }


def assert_batch_equal(got: Batch, want: Batch) -> None:
    assert list(got) == list(want)
    for k, v in want.items():
        assert got[k].dtype == v.dtype, k
        assert got[k].shape == v.shape, k
        if v.dtype.kind == "O":
            assert got[k].tolist() == v.tolist(), k
        else:
            assert got[k].tobytes() == v.tobytes(), k  # bit-exact, NaN payloads included


def drain(spool: Spool) -> list[tuple[str, Batch]]:
    out: list[tuple[str, Batch]] = []
    spool.replay(lambda t, b: out.append((t, b)))
    return out


def segments(d: Path) -> list[Path]:
    return sorted(d.glob("*.seg"))


numeric = st.one_of(
    hnp.arrays(np.float64, st.integers(0, 20), elements=st.floats(allow_nan=True, allow_infinity=True)),
    hnp.arrays(np.int64, st.integers(0, 20)),
    hnp.arrays(np.int32, st.integers(0, 20)),
    hnp.arrays(np.bool_, st.integers(0, 20)),
    hnp.arrays(np.uint64, st.integers(0, 20)).map(lambda a: a.view(np.float64)),  # any NaN payload
    hnp.arrays(np.int64, st.integers(0, 20)).map(lambda a: a.view("datetime64[D]")),  # NaT included
    hnp.arrays(np.int64, st.integers(0, 20)).map(lambda a: a.view("datetime64[ns]")),
    hnp.arrays(np.dtype(">f4"), st.integers(0, 20)),
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=4)),
)
objects = st.lists(st.one_of(st.none(), st.text()), max_size=20).map(
    lambda xs: np.array([*xs, object()], dtype=object)[:-1]  # stays an object array even when empty
)
batches = st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(numeric, objects), max_size=6)


@given(table=st.text(max_size=10), data=batches)
def test_a_record_round_trips_every_supported_dtype_exactly(table: str, data: Batch) -> None:
    got_table, got = decode_record(encode_record(table, data))
    assert got_table == table
    assert_batch_equal(got, data)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(batches, min_size=1, max_size=6))
def test_spooled_batches_replay_exactly_in_order(tmp_path_factory: pytest.TempPathFactory, data: list[Batch]) -> None:
    d = tmp_path_factory.mktemp("spool")
    with Spool(d, max_bytes=64 * MB, segment_bytes=256) as spool:
        for i, b in enumerate(data):
            spool.append(f"t{i}", b)
    with Spool(d, max_bytes=64 * MB) as spool:  # reopened from disk
        assert spool.pending() == len(data)
        got = drain(spool)
        assert spool.pending() == 0 and spool.bytes() == 0
    assert [t for t, _ in got] == [f"t{i}" for i in range(len(data))]
    for (_, g), want in zip(got, data, strict=True):
        assert_batch_equal(g, want)


def test_order_is_kept_across_segment_rotation(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=MB, segment_bytes=600) as spool:
        for i in range(20):
            spool.append("agg_1s", batch(i))
        assert len(segments(tmp_path)) > 3
        assert spool.pending() == 20
        assert spool.bytes() == sum(p.stat().st_size for p in segments(tmp_path))
        got = drain(spool)
    assert [int(b["trades"][0]) for _, b in got] == list(range(20))
    assert segments(tmp_path) == []


def test_objects_other_than_str_or_none_are_refused(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=MB) as spool, pytest.raises(DataError, match=r"'symbol'.*int"):
        spool.append("t", {"symbol": np.array(["a", 3], dtype=object)})


def last_record_start(path: Path, spool_records: int) -> int:
    """Offset of the last record in a segment (walks the length prefixes)."""
    data, offset, start = path.read_bytes(), 0, 0
    for _ in range(spool_records):
        start = offset
        offset += 12 + int.from_bytes(data[offset + 4 : offset + 8], "little")
    return start


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(0, 10_000))
def test_a_torn_last_record_is_truncated_and_earlier_records_survive(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture, k: int
) -> None:
    d = tmp_path_factory.mktemp("torn")
    with Spool(d, max_bytes=MB) as spool:
        for i in range(4):
            spool.append("agg_1s", batch(i))
    (seg,) = segments(d)
    size = seg.stat().st_size
    start = last_record_start(seg, 4)
    new_size = start + 1 + k % (size - start - 1)  # cut somewhere strictly inside the last record
    with open(seg, "r+b") as f:
        f.truncate(new_size)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scalper.adapters.spool"), Spool(d, max_bytes=MB) as spool:
        assert spool.pending() == 3
        assert seg.stat().st_size == start
        got = drain(spool)
    assert str(seg) in caplog.text and f"offset {start}" in caplog.text
    for i, (_, b) in enumerate(got):
        assert_batch_equal(b, batch(i))
    assert len(got) == 3


def test_appending_after_a_torn_tail_keeps_order(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=MB) as spool:
        for i in range(3):
            spool.append("t", batch(i))
    (seg,) = segments(tmp_path)
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 3)
    with Spool(tmp_path, max_bytes=MB) as spool:
        spool.append("t", batch(7))
        assert [int(b["trades"][0]) for _, b in drain(spool)] == [0, 1, 7]


@pytest.mark.parametrize("where", ["checksum", "marker"])
def test_corruption_in_the_middle_is_an_error_naming_file_and_offset(tmp_path: Path, where: str) -> None:
    with Spool(tmp_path, max_bytes=MB) as spool:
        for i in range(3):
            spool.append("t", batch(i))
    (seg,) = segments(tmp_path)
    second = last_record_start(seg, 2)
    raw = bytearray(seg.read_bytes())
    raw[second + (20 if where == "checksum" else 0)] ^= 0xFF
    seg.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=f"{seg}.*offset {second}"):
        Spool(tmp_path, max_bytes=MB)
    assert seg.read_bytes() == bytes(raw)  # nothing was truncated or skipped
    seg.write_bytes(bytes(raw[:second]))  # once the operator moves the bad part aside,
    with Spool(tmp_path, max_bytes=MB) as spool:  # the failed open has released its lock
        assert spool.pending() == 1


def test_a_torn_record_in_an_older_segment_is_corruption(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=MB, segment_bytes=100) as spool:
        for i in range(3):
            spool.append("t", batch(i))
    first = segments(tmp_path)[0]
    with open(first, "r+b") as f:
        f.truncate(first.stat().st_size - 5)
    with pytest.raises(DataError, match=f"{first}.*offset 0"):
        Spool(tmp_path, max_bytes=MB)


class Boom(Exception):
    pass


def test_a_failing_writer_keeps_the_failing_record_and_the_rest(tmp_path: Path) -> None:
    written: list[int] = []

    def write(table: str, b: Batch) -> None:
        if int(b["trades"][0]) == 5:
            raise Boom("database down")
        written.append(int(b["trades"][0]))

    with Spool(tmp_path, max_bytes=MB, segment_bytes=900) as spool:
        for i in range(9):
            spool.append("t", batch(i))
        with pytest.raises(Boom):
            spool.replay(write)
        assert written == [0, 1, 2, 3, 4]
        assert spool.pending() == 4
        assert spool.bytes() == sum(p.stat().st_size for p in segments(tmp_path))
        spool.append("t", batch(9))
    with Spool(tmp_path, max_bytes=MB) as spool:  # the progress is on disk, not only in memory
        assert spool.pending() == 5
        assert [int(b["trades"][0]) for _, b in drain(spool)] == [5, 6, 7, 8, 9]


def test_exceeding_max_bytes_is_a_clear_error(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=2000) as spool:
        with pytest.raises(StoreError, match=rf"spool {tmp_path} is full: \d+ bytes in \d+ records.*max_bytes=2000"):
            for i in range(100):
                spool.append("t", batch(i))
        before = spool.pending()
        assert 0 < before < 100 and spool.bytes() <= 2000
        assert len(drain(spool)) == before


def test_a_second_instance_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=MB), pytest.raises(StoreError, match=f"{tmp_path} is in use"):
        Spool(tmp_path, max_bytes=MB)
    Spool(tmp_path, max_bytes=MB).close()  # released on close


def test_a_second_process_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from scalper.adapters.spool import Spool\n"
        "from scalper.core.errors import StoreError\n"
        "try:\n    Spool(Path(sys.argv[1]), max_bytes=1000)\n"
        "except StoreError as e:\n    print(e); sys.exit(3)\n"
    )
    with Spool(tmp_path, max_bytes=MB):
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "in use by another owner" in proc.stdout


def test_sizes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="max_bytes"):
        Spool(tmp_path, max_bytes=0)
