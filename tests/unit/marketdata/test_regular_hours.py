import pandas as pd
import pytest

from scalper.marketdata.calendar import is_regular_hours


@pytest.mark.parametrize(
    ("utc", "open_"),
    [
        ("2025-11-26 14:29", False),  # 09:29 ET
        ("2025-11-26 14:30", True),  # the open
        ("2025-11-26 20:59", True),  # 15:59 ET
        ("2025-11-26 21:01", False),  # after the close
        ("2025-11-27 15:00", False),  # Thanksgiving
        ("2025-11-28 17:59", True),  # early close day, 12:59 ET
        ("2025-11-28 18:01", False),  # after the 13:00 early close
        ("2025-07-07 13:30", True),  # summer time: 09:30 EDT
        ("2025-11-29 15:00", False),  # Saturday
    ],
)
def test_regular_hours_follow_the_exchange_calendar(utc: str, open_: bool) -> None:
    assert is_regular_hours(pd.Timestamp(utc, tz="UTC").value) is open_


def test_session_at_gives_the_bounds_of_the_open_session() -> None:
    from scalper.marketdata.calendar import session_at

    inside = pd.Timestamp("2025-11-28 15:00", tz="UTC").value
    assert session_at(inside) == (
        pd.Timestamp("2025-11-28 14:30", tz="UTC").value,
        pd.Timestamp("2025-11-28 18:00", tz="UTC").value,
    )  # early close
    assert session_at(pd.Timestamp("2025-11-28 18:00", tz="UTC").value) is None
