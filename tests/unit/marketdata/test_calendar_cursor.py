"""The session cursor answers exactly as session_at, in any order of times."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.marketdata.calendar import SessionCursor, session_at

LO = int(dt.datetime(2025, 11, 20, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
HI = int(dt.datetime(2025, 12, 10, tzinfo=dt.UTC).timestamp()) * 1_000_000_000  # Thanksgiving, an early close


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(LO, HI), min_size=1, max_size=200), st.booleans())
def test_the_cursor_agrees_with_session_at(times: list[int], ordered: bool) -> None:
    cursor = SessionCursor()
    for ts in sorted(times) if ordered else times:
        assert cursor.at(ts) == session_at(ts)


def test_the_cursor_at_the_bounds_of_sessions() -> None:
    from scalper.marketdata.calendar import session_table

    table = session_table()
    rows = table[(table[:, 0] >= LO) & (table[:, 0] < HI)]
    cursor = SessionCursor()
    for open_ns, close_ns in rows.tolist():
        for ts in (open_ns - 1, open_ns, open_ns + 1, close_ns - 1, close_ns, close_ns + 1):
            assert cursor.at(ts) == session_at(ts)
