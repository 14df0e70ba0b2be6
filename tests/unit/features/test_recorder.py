"""The snapshot cadence: the same snapshots chosen live (one call per second) and over a replay batch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import ConfigError
from scalper.core.events import SECOND_NS
from scalper.features.engine import EventArrays
from scalper.features.params import FeatureParams
from scalper.features.recorder import SnapshotRecorder, feature_version

SYMBOLS = ("SPY", "QQQ")
BASE = 1_750_000_000 // 60 * 60  # a whole minute, in seconds


def seconds(codes: list[int], offsets: list[int]) -> EventArrays:
    ts = (BASE + np.cumsum(offsets)) * SECOND_NS
    n = len(ts)
    one = np.ones(n)
    return EventArrays.seconds(np.array(codes), ts.astype(np.int64), one, one, one, one, one, one)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 90)), min_size=1, max_size=300), st.integers(1, 4))
def test_live_choice_equals_the_batch_mask_in_any_chunking(steps: list[tuple[int, int]], chunks: int) -> None:
    events = seconds([c for c, _ in steps], [d for _, d in steps])
    live = SnapshotRecorder(SYMBOLS, every_s=60, version="v")
    want = np.array([live.due(SYMBOLS[int(s)], int(t)) for s, t in zip(events.symbol, events.ts, strict=True)])
    batch = SnapshotRecorder(SYMBOLS, every_s=60, version="v")
    cuts = np.linspace(0, len(events), chunks + 1).astype(int)
    got = np.concatenate([batch.due_mask(events.take(slice(a, b))) for a, b in itertools.pairwise(cuts)])
    assert np.array_equal(got, want)


def test_one_snapshot_per_minute_at_its_last_second_or_when_it_is_missing_at_the_next_second() -> None:
    rec = SnapshotRecorder(("SPY",), every_s=60, version="v")
    chosen = [t for t in (0, 30, 59, 60, 100, 125, 179) if rec.due("SPY", (BASE + t) * SECOND_NS)]
    # 59 closes minute 0; minute 1 (60..119) lacks its :59, so 125 (minute 2) records it; 179 closes minute 2
    assert chosen == [59, 125, 179]


def test_version_names_code_and_parameters_and_bad_cadence_is_refused() -> None:
    assert feature_version(FeatureParams()) == feature_version(FeatureParams())
    assert feature_version(FeatureParams()) != feature_version(FeatureParams(er_period=11))
    with pytest.raises(ConfigError, match="snapshot_every_s"):
        SnapshotRecorder(SYMBOLS, every_s=0, version="v")
