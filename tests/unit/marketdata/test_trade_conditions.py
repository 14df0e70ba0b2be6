"""Trade condition eligibility follows Polygon's consolidated update rules (AND over codes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.marketdata.conditions import (
    condition_matrix,
    conditions_from_strings,
    high_low_eligible,
    open_close_eligible,
    price_eligible,
    volume_eligible,
)

# (conditions, updates high/low, updates open/close, updates volume) per Polygon's reference.
CASES = [
    ([], True, True, True),  # regular sale
    ([37], False, False, True),  # odd lot: volume only
    ([12, 37], False, False, True),  # extended hours odd lot
    ([14], True, True, True),  # intermarket sweep
    ([14, 41], True, True, True),  # ISO + trade-through exempt
    ([2], False, False, True),  # average price trade
    ([15], False, False, False),  # market center official close: a marker, not a trade
    ([16], False, False, False),  # official open marker
    ([32], True, False, True),  # sold out of sequence: moves the range, not open/close
    ([14, 37], False, False, True),  # one exclusion is enough
    ([38], True, True, False),  # corrected consolidated close
    ([200], True, True, True),  # unknown code never hides a trade
]


@pytest.mark.parametrize(("codes", "high_low", "open_close", "volume"), CASES)
def test_eligibility_of_documented_conditions(codes: list[int], high_low: bool, open_close: bool, volume: bool) -> None:
    matrix = condition_matrix([codes], width=4)
    assert high_low_eligible(matrix).tolist() == [high_low]
    assert open_close_eligible(matrix).tolist() == [open_close]
    assert volume_eligible(matrix).tolist() == [volume]
    assert price_eligible(matrix).tolist() == [high_low]


def test_lookups_are_vectorised_over_rows() -> None:
    matrix = condition_matrix([codes for codes, *_ in CASES])
    assert volume_eligible(matrix).tolist() == [case[3] for case in CASES]


@settings(deadline=None)  # the first call pays pyarrow's kernel start-up
@given(st.lists(st.lists(st.integers(min_value=0, max_value=255), max_size=4), max_size=30))
def test_flat_file_strings_parse_to_the_same_matrix(rows: list[list[int]]) -> None:
    cells = [",".join(str(code) for code in row) for row in rows]
    assert np.array_equal(conditions_from_strings(cells, width=4), condition_matrix(rows, width=4))


def test_null_and_padded_cells_parse_as_no_conditions() -> None:
    matrix = conditions_from_strings([None, "", " 12 , 37 "], width=2)
    assert matrix.tolist() == [[-1, -1], [-1, -1], [12, 37]]


@pytest.mark.parametrize("bad", [np.array([1, 2, 3]), np.array([[1.5]]), np.array([[-2]])])
def test_malformed_condition_matrices_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="conditions"):
        volume_eligible(bad)


def test_non_numeric_cells_are_refused() -> None:
    with pytest.raises(ValueError, match="conditions"):
        conditions_from_strings(["12,x"])


@given(st.lists(st.integers(min_value=0, max_value=70), max_size=4))
def test_the_one_trade_check_agrees_with_the_columnar_one(codes: list[int]) -> None:
    from scalper.marketdata.conditions import counts_in_volume, volume_eligible

    matrix = np.full((1, 4), -1, dtype=np.int16)
    matrix[0, : len(codes)] = codes
    assert counts_in_volume(codes) == bool(volume_eligible(matrix)[0])
