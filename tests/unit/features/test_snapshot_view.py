"""The snapshot view the decision path reads equals the snapshot dict, and is a copy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scalper.core.errors import InvariantError
from scalper.features.engine import FeatureEngine
from scalper.features.snapshot import FIELDS, SnapshotView

S = 1_000_000_000
T0 = int(dt.datetime(2025, 3, 3, 14, 30, tzinfo=dt.UTC).timestamp()) * S


def test_the_view_equals_the_dict_and_does_not_follow_later_events() -> None:
    engine = FeatureEngine(("I:SPX", "SPY"))
    for i in range(300):
        p = 500.0 + 0.01 * (i % 17)
        engine.on_second("SPY", T0 + i * S, p, p + 0.02, p - 0.02, p, 1000.0, p)
    view = engine.latest_view("SPY")
    assert dict(view) == engine.latest_dict("SPY")
    assert list(view) == list(FIELDS) and len(view) == len(FIELDS)
    assert view.get("no such field", "absent") == "absent" and view["close"] == pytest.approx(500.0 + 0.01 * (299 % 17))
    with pytest.raises(KeyError):
        view["no such field"]
    before = dict(view)
    engine.on_second("SPY", T0 + 300 * S, 600.0, 600.0, 600.0, 600.0, 1000.0, 600.0)
    assert dict(view) == before  # a copy: a later event does not change what a decision read
    assert engine.latest_view("SPY")["close"] == 600.0


def test_a_row_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(InvariantError, match="expected a row of"):
        SnapshotView(np.zeros(3))
