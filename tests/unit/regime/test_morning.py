import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from regime_sessions import DAYS, path, quiet_history, session

from scalper.core.errors import DataError
from scalper.regime.daily import summarise
from scalper.regime.morning import checkpoint_ns, morning_inputs
from scalper.regime.pipeline import morning_history, summarise_history

DAY = DAYS[30]
PRIOR = quiet_history(25)
VOLUME_PRIOR = [summarise(session(d, 100 + np.sin(np.arange(390)), volume=1000.0)) for d in DAYS[:25]]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.0, 3.0),
    shift=st.floats(-50.0, 50.0),
    checkpoint=st.sampled_from(["10:00", "10:30", "11:15", "15:59"]),
)
def test_morning_inputs_never_change_when_later_bars_change(
    seed: int, scale: float, shift: float, checkpoint: str
) -> None:
    rng = np.random.default_rng(seed)
    closes = 100.0 + np.cumsum(rng.standard_t(4, 390) * scale)
    later = shift + rng.normal(0.0, 10.0, 390)
    today = session(DAY, closes, wick=0.1, volume=1000.0)
    cut = checkpoint_ns(DAY, checkpoint, today.open_ns, today.close_ns)
    later_bar = today.ts_ns + 60_000_000_000 > cut
    wild = session(DAY, closes + np.asarray(later), wick=3.0, volume=9999.0)
    other = replace(
        today,
        **{
            f: np.where(later_bar, getattr(wild, f), getattr(today, f))
            for f in ("open", "high", "low", "close", "volume")
        },
    )
    only_known = today.complete_by(cut)
    volume_prior = VOLUME_PRIOR
    results = [
        morning_inputs(bars, PRIOR, checkpoint, volume_today=bars, volume_prior=volume_prior)
        for bars in (today, other, only_known)
    ]
    assert results[0] == results[1] == results[2]


def test_morning_inputs_of_a_day_ignore_every_later_session() -> None:
    sessions = [session(d, 100 + 3 * np.sin(np.arange(390) / (5 + i % 7))) for i, d in enumerate(DAYS[:40])]
    short, full = sessions[:31], sessions
    early = morning_history(short, summarise_history("I:SPX", short), "10:30")[0]
    late = morning_history(full, summarise_history("I:SPX", full), "10:30")[0]
    assert early == late[: len(early)]


def test_inputs_on_a_straight_rally_match_the_definitions() -> None:
    closes = path([(0, 100.0), (389, 139.0)])  # +0.1 a minute
    result = morning_inputs(session(DAY, closes), PRIOR, "10:30")
    atr = 10.0  # every prior session's true range
    v = result.values
    assert v["er30"] == pytest.approx(1.0)
    assert v["move_atr"] == pytest.approx(5.9 / atr, rel=1e-2)  # last complete close is minute 59
    assert v["or30_atr"] == pytest.approx(2.9 / atr, rel=1e-2)
    assert v["gap_atr"] == pytest.approx((100.0 - PRIOR[-1].close) / atr, rel=1e-2)
    assert v["rel_volume"] is None and "volume" in result.missing["rel_volume"]
    assert v["gamma_sign"] is None and "not available" in result.missing["gamma_sign"]


def test_the_first_hour_range_is_absent_before_an_hour_has_passed() -> None:
    result = morning_inputs(session(DAY, path([(0, 100.0), (389, 110.0)])), PRIOR, "10:00")
    assert result.values["or60_atr"] is None
    assert "less than 60 minutes" in result.missing["or60_atr"]


def test_a_checkpoint_after_an_early_close_is_refused() -> None:
    early_close = dt.date(2025, 7, 3)  # closes at 13:00
    bars = session(early_close, path([(0, 100.0), (209, 110.0)], minutes=210))
    assert bars.minutes == 210
    with pytest.raises(DataError, match="outside the session"):
        morning_inputs(bars, PRIOR, "13:30")
