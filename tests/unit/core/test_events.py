import dataclasses
import math

import msgspec
import pytest

from scalper.core.clock import ReplayClock
from scalper.core.errors import InvariantError
from scalper.core.events import SECOND_NS, IndexValue, Quote, SecondAgg, Trade
from scalper.core.timeutil import datetime_to_ns, ns_to_datetime


def agg(**kw: float) -> SecondAgg:
    fields = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5} | kw
    return SecondAgg(symbol="SPY", ts_event=0, ts_end=SECOND_NS, **fields)


def test_events_are_frozen_and_keyword_only() -> None:
    bar = agg()
    with pytest.raises(AttributeError):
        bar.close = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        SecondAgg("SPY", 0, SECOND_NS, 1.0, 1.0, 1.0, 1.0)  # type: ignore[misc]


@pytest.mark.parametrize("kw", [{"high": 9.5}, {"low": 10.6}, {"open": math.nan}, {"close": -1.0}])
def test_inconsistent_bar_is_refused_with_the_values(kw: dict[str, float]) -> None:
    with pytest.raises(InvariantError, match="expected"):
        agg(**kw)


def test_bar_window_must_be_positive() -> None:
    with pytest.raises(InvariantError, match="ts_end > ts_event"):
        SecondAgg(symbol="SPY", ts_event=5, ts_end=5, open=1.0, high=1.0, low=1.0, close=1.0)


def test_trade_and_value_refuse_non_positive_numbers() -> None:
    with pytest.raises(InvariantError, match="trade size"):
        Trade(symbol="SPY", ts_event=1, price=500.0, size=0.0)
    with pytest.raises(InvariantError, match="I:SPX value"):
        IndexValue(symbol="I:SPX", ts_event=1, value=math.inf)


def test_quote_mid_is_nan_when_a_side_is_missing() -> None:
    assert Quote(symbol="SPY", ts_event=1, bid=1.0, bid_size=1, ask=1.02, ask_size=1).mid == pytest.approx(1.01)
    assert math.isnan(Quote(symbol="SPY", ts_event=1, bid=0.0, bid_size=0, ask=1.02, ask_size=1).mid)


def test_events_round_trip_through_msgspec() -> None:
    bar = agg()
    assert msgspec.json.decode(msgspec.json.encode(bar), type=SecondAgg) == bar
    assert not dataclasses.is_dataclass(bar)


def test_replay_clock_never_goes_backwards() -> None:
    clock = ReplayClock(10)
    clock.advance_to(20)
    assert clock.now_ns() == 20
    with pytest.raises(InvariantError, match="backwards"):
        clock.advance_to(19)


def test_nanoseconds_and_datetimes_convert_both_ways() -> None:
    ns = 1_735_828_200_123_456_000
    assert datetime_to_ns(ns_to_datetime(ns)) == ns
    with pytest.raises(ValueError, match="naive"):
        datetime_to_ns(ns_to_datetime(ns).replace(tzinfo=None))
