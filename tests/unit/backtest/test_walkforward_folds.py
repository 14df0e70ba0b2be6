"""Walk-forward folds: tiling, anchored growth, no look-ahead, the out-of-sample union."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.backtest.walkforward import Fold, folds, out_of_sample
from scalper.core.errors import ConfigError, DataError

D0 = dt.date(2025, 1, 6)


def sessions(n: int) -> list[dt.date]:
    """``n`` weekdays from D0 (gaps of weekends: order, not spacing, matters)."""
    out: list[dt.date] = []
    d = D0
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def positions(days: list[dt.date], window: tuple[dt.date, ...]) -> list[int]:
    return [days.index(d) for d in window]


def test_rolling_folds_tile_the_days_after_the_first_training_window() -> None:
    days = sessions(20)
    fs = folds(days, train=5, test=3)
    assert [f.index for f in fs] == [0, 1, 2, 3, 4]
    assert [positions(days, f.train) for f in fs] == [list(range(3 * k, 3 * k + 5)) for k in range(5)]
    assert [positions(days, f.test) for f in fs] == [list(range(5 + 3 * k, 8 + 3 * k)) for k in range(5)]
    # 20 - 5 = 15 test days = 5 full windows: nothing dropped
    assert out_of_sample(days, fs) == days[5:]


def test_the_last_partial_window_is_dropped_or_kept() -> None:
    days = sessions(21)
    dropped = folds(days, train=5, test=3)
    kept = folds(days, train=5, test=3, partial=True)
    assert len(dropped) == 5
    assert out_of_sample(days, dropped) == days[5:20]
    assert len(kept) == 6
    assert kept[-1].test == (days[20],)
    assert kept[-1].train == tuple(days[15:20])
    assert out_of_sample(days, kept) == days[5:]


def test_anchored_training_windows_grow_from_the_first_day() -> None:
    days = sessions(20)
    fs = folds(days, train=5, test=3, anchored=True)
    assert [len(f.train) for f in fs] == [5, 8, 11, 14, 17]
    assert all(f.train[0] == days[0] for f in fs)
    assert [f.test for f in fs] == [f.test for f in folds(days, train=5, test=3)]


def test_a_step_longer_than_the_test_leaves_gaps_a_shorter_one_overlaps() -> None:
    days = sessions(20)
    gaps = folds(days, train=5, test=2, step=4)
    assert [positions(days, f.test) for f in gaps] == [[5, 6], [9, 10], [13, 14], [17, 18]]
    overlap = folds(days, train=5, test=4, step=2)
    assert [positions(days, f.test) for f in overlap] == [
        [5, 6, 7, 8],
        [7, 8, 9, 10],
        [9, 10, 11, 12],
        [11, 12, 13, 14],
        [13, 14, 15, 16],
        [15, 16, 17, 18],
    ]
    # each day once, in order, though several folds test it
    assert out_of_sample(days, overlap) == days[5:19]


def test_exactly_train_plus_test_days_give_one_fold() -> None:
    days = sessions(8)
    assert folds(days, train=5, test=3) == [Fold(train=tuple(days[:5]), test=tuple(days[5:]), index=0)]


def test_out_of_sample_of_no_fold_is_empty_and_follows_the_days_order() -> None:
    days = sessions(10)
    assert out_of_sample(days, []) == []
    fs = folds(days, train=4, test=3)
    assert out_of_sample(days, list(reversed(fs))) == days[4:10]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 60),
    train=st.integers(1, 20),
    test=st.integers(1, 20),
    extra=st.integers(0, 5),
    anchored=st.booleans(),
    partial=st.booleans(),
)
def test_no_look_ahead_and_disjoint_tests(
    n: int, train: int, test: int, extra: int, anchored: bool, partial: bool
) -> None:
    days = sessions(n)
    step = test + extra  # step >= test: disjoint test windows
    if n < train + (1 if partial else test):
        with pytest.raises(DataError, match="expected at least"):
            folds(days, train=train, test=test, step=step, anchored=anchored, partial=partial)
        return
    fs = folds(days, train=train, test=test, step=step, anchored=anchored, partial=partial)
    assert fs, "enough days give at least one fold"
    seen: set[dt.date] = set()
    for k, f in enumerate(fs):
        assert f.index == k
        assert f.train and f.test
        assert max(f.train) < min(f.test)  # every test day after every training day
        assert list(f.train) == sorted(f.train) and list(f.test) == sorted(f.test)
        assert len(f.train) == (train + k * step if anchored else train)
        assert len(f.test) == test or (partial and k == len(fs) - 1)
        # the training window ends right where the test begins: no day skipped in between
        assert days.index(f.test[0]) == days.index(f.train[-1]) + 1
        assert seen.isdisjoint(f.test)
        seen.update(f.test)
    oos = out_of_sample(days, fs)
    assert oos == sorted(seen) and len(oos) == len(set(oos))
    if extra == 0:  # default-like step: the tests tile the rest, up to a dropped partial window
        remaining = n - train
        assert len(oos) == (remaining if partial else remaining - remaining % test)
        assert fs == folds(days, train=train, test=test, anchored=anchored, partial=partial)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train": 0, "test": 3}, "walk-forward train: expected an integer >= 1, was 0"),
        ({"train": 5, "test": -1}, "walk-forward test: expected an integer >= 1, was -1"),
        ({"train": 5, "test": 3, "step": 0}, "walk-forward step: expected an integer >= 1, was 0"),
        ({"train": 5, "test": 3, "step": 1.5}, "walk-forward step: expected an integer >= 1, was 1.5"),
        ({"train": True, "test": 3}, "walk-forward train: expected an integer >= 1, was True"),
    ],
)
def test_bad_sizes_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        folds(sessions(20), **kwargs)  # type: ignore[arg-type]


def test_bad_days_are_data_errors() -> None:
    days = sessions(10)
    with pytest.raises(DataError, match=r"expected at least 8 days \(train 5 \+ test 3\), was 7"):
        folds(days[:7], train=5, test=3)
    with pytest.raises(DataError, match=r"expected at least 6 days \(train 5 \+ 1 test day\), was 5"):
        folds(days[:5], train=5, test=3, partial=True)
    with pytest.raises(DataError, match="strictly increasing days, was 2025-01-07 then 2025-01-07 at position 2"):
        folds([days[0], days[1], days[1], *days[2:]], train=5, test=3)
    with pytest.raises(DataError, match="strictly increasing days, was 2025-01-13 then 2025-01-10 at position 5"):
        folds([*days[:4], days[5], days[4], *days[6:]], train=5, test=3)
    with pytest.raises(DataError, match="expected dates"):
        folds([*days[:9], dt.datetime(2025, 2, 1)], train=5, test=3)
    with pytest.raises(DataError, match="expected dates"):
        folds([*days[:9], "2025-02-01"], train=5, test=3)  # type: ignore[list-item]


def test_out_of_sample_refuses_a_test_day_not_among_the_days() -> None:
    days = sessions(10)
    fs = folds(days, train=4, test=3)
    with pytest.raises(DataError, match="fold 1 tests 2025-01-1"):
        out_of_sample(days[:8], fs)
