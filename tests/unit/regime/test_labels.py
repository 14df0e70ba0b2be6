import numpy as np
import pytest
from regime_sessions import DAYS, path, quiet_history, session

from scalper.core.errors import DataError
from scalper.regime.daily import summarise
from scalper.regime.labels import LabelParams, day_type, label_session, label_version

DAY = DAYS[30]


def label_of(closes: np.ndarray) -> tuple[str, str]:
    result = label_session(summarise(session(DAY, closes)), quiet_history(25))
    return result.label, result.day_type


def test_a_clean_rally_from_the_open_to_the_close_is_a_trend_up_day() -> None:
    assert label_of(path([(0, 100.0), (389, 130.0)])) == ("trend_up", "trend")


def test_a_clean_decline_is_a_trend_down_day() -> None:
    assert label_of(path([(0, 130.0), (389, 100.0)])) == ("trend_down", "trend")


def test_a_wide_day_that_closes_mid_range_is_balanced() -> None:
    label, _ = label_of(path([(0, 100.0), (200, 125.0), (389, 112.0)]))
    assert label == "balanced"


def test_a_trend_shaped_day_narrower_than_usual_is_balanced() -> None:
    label, _ = label_of(path([(0, 100.0), (389, 105.0)]))  # range 5 < mean range 10
    assert label == "balanced"


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([(0, 100.0), (30, 120.0), (59, 100.0), (389, 110.0)], "normal"),  # the first hour holds the day
        ([(0, 100.0), (59, 110.0), (200, 115.0), (389, 112.0)], "normal_variation"),  # range 1.5 x IB, one side
        ([(0, 100.0), (59, 105.0), (389, 130.0)], "trend"),  # range 6 x IB, one side
        ([(0, 100.0), (59, 110.0), (150, 114.0), (300, 96.0), (389, 104.0)], "neutral"),  # both sides of the IB
    ],
)
def test_market_profile_day_types(points: list[tuple[int, float]], expected: str) -> None:
    kind, inputs = day_type(summarise(session(DAY, path(points))), LabelParams())
    assert kind == expected, inputs


def test_continuous_inputs_are_the_documented_ratios() -> None:
    result = label_session(
        summarise(session(DAY, path([(0, 104.0), (100, 100.0), (200, 120.0), (389, 115.0)]))), quiet_history(25)
    )
    assert result.inputs["open_location"] == pytest.approx(4 / 20)
    assert result.inputs["close_location"] == pytest.approx(15 / 20)
    assert result.inputs["body_ratio"] == pytest.approx(11 / 20)
    assert result.inputs["range_ratio"] == pytest.approx(20 / 10, rel=1e-3)


def test_a_session_without_bars_is_refused_with_the_reason() -> None:
    empty = session(DAY, path([(0, 100.0), (389, 101.0)])).complete_by(0)
    with pytest.raises(DataError, match="no minute bars stored"):
        summarise(empty)


def test_a_flat_session_has_a_non_positive_range() -> None:
    with pytest.raises(DataError, match="non-positive day range"):
        summarise(session(DAY, np.full(390, 100.0)))


def test_labelling_needs_the_range_average_history() -> None:
    with pytest.raises(DataError, match="needs 20 prior sessions, had 5"):
        label_session(summarise(session(DAY, path([(0, 100.0), (389, 130.0)]))), quiet_history(5))


def test_the_label_version_changes_with_a_threshold() -> None:
    assert label_version(LabelParams()) == label_version(LabelParams())
    assert label_version(LabelParams(extreme=0.25)) != label_version(LabelParams())
