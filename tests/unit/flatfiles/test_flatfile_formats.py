import datetime as dt

import pytest

from scalper.adapters.flatfiles import HEADERS, check_datasets, object_key, sessions_before, sessions_between
from scalper.core.errors import ConfigError
from scalper.synthetic.flatfiles import DATASETS as SYNTHETIC_HEADERS


def test_keys_follow_the_bucket_layout() -> None:
    assert (
        object_key("us_stocks_sip/trades_v1", dt.date(2025, 3, 4))
        == "us_stocks_sip/trades_v1/2025/03/2025-03-04.csv.gz"
    )


def test_the_headers_are_those_of_the_published_formats() -> None:
    assert {name: ",".join(cols) for name, cols in HEADERS.items()} == SYNTHETIC_HEADERS


def test_sessions_skip_weekends_and_holidays_and_keep_early_closes() -> None:
    days = sessions_between(dt.date(2025, 11, 24), dt.date(2025, 12, 1))
    assert days == [dt.date(2025, 11, d) for d in (24, 25, 26, 28)] + [dt.date(2025, 12, 1)]


def test_a_reversed_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="--from <= --to"):
        sessions_between(dt.date(2025, 11, 26), dt.date(2025, 11, 25))


def test_the_newest_candidate_for_sync_is_the_session_before_today() -> None:
    assert sessions_before(dt.date(2025, 11, 28), count=3) == [
        dt.date(2025, 11, 26),
        dt.date(2025, 11, 25),
        dt.date(2025, 11, 24),
    ]
    assert sessions_before(dt.date(2025, 12, 1), count=1) == [dt.date(2025, 11, 28)]


def test_unknown_datasets_are_named_in_the_error() -> None:
    with pytest.raises(ConfigError, match="us_stocks/trades"):
        check_datasets(["us_stocks/trades"])
    assert check_datasets(["us_indices/values_v1", "us_indices/values_v1"]) == ("us_indices/values_v1",)
