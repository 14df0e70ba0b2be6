"""The flat-file datasets: S3 key layout, exact CSV headers, and which trading days have files.

Key layout: ``{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz``, one gzip CSV per XNYS session holding
every ticker (POLYGON.md). Headers are checked byte for byte before a file is loaded, so a
changed format fails loudly instead of loading shifted columns.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from scalper.core.errors import ConfigError
from scalper.core.timeutil import NEW_YORK, datetime_to_ns
from scalper.marketdata.calendar import xnys

AGG_COLUMNS: Final = ("ticker", "volume", "open", "close", "high", "low", "window_start", "transactions")
INDEX_AGG_COLUMNS: Final = ("ticker", "open", "close", "high", "low", "window_start")

HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "us_indices/values_v1": ("ticker", "value", "timestamp"),
    "us_indices/minute_aggs_v1": INDEX_AGG_COLUMNS,
    "us_indices/day_aggs_v1": INDEX_AGG_COLUMNS,
    "us_stocks_sip/trades_v1": (
        "ticker",
        "conditions",
        "correction",
        "exchange",
        "id",
        "participant_timestamp",
        "price",
        "sequence_number",
        "sip_timestamp",
        "size",
        "tape",
        "trf_id",
        "trf_timestamp",
    ),
    "us_stocks_sip/quotes_v1": (
        "ticker",
        "ask_exchange",
        "ask_price",
        "ask_size",
        "bid_exchange",
        "bid_price",
        "bid_size",
        "conditions",
        "indicators",
        "participant_timestamp",
        "sequence_number",
        "sip_timestamp",
        "tape",
        "trf_timestamp",
    ),
    "us_stocks_sip/minute_aggs_v1": AGG_COLUMNS,
    "us_stocks_sip/day_aggs_v1": AGG_COLUMNS,
    "us_options_opra/minute_aggs_v1": AGG_COLUMNS,
    "us_options_opra/day_aggs_v1": AGG_COLUMNS,
}
DEFAULT_DATASETS: Final = (
    "us_indices/values_v1",
    "us_indices/minute_aggs_v1",
    "us_stocks_sip/trades_v1",
    "us_stocks_sip/minute_aggs_v1",
)


def object_key(dataset: str, day: dt.date) -> str:
    """``{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz``."""
    return f"{dataset}/{day:%Y}/{day:%m}/{day:%Y-%m-%d}.csv.gz"


def check_datasets(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The names, validated against the known datasets (a clear error otherwise)."""
    unknown = [n for n in names if n not in HEADERS]
    if unknown or not names:
        raise ConfigError(f"datasets: value {list(names)!r} is invalid: expected names from {sorted(HEADERS)}")
    return tuple(dict.fromkeys(names))


def sessions_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """XNYS sessions from ``first`` to ``last`` inclusive: weekends and holidays have no files."""
    if last < first:
        raise ConfigError(f"date range: expected --from <= --to, was {first} > {last}")
    cal = xnys()
    lo = max(first, cal.first_session.date())
    hi = min(last, cal.last_session.date())
    if hi < lo:
        return []
    return [ts.date() for ts in cal.sessions_in_range(lo.isoformat(), hi.isoformat())]


def sessions_before(today: dt.date, count: int = 5) -> list[dt.date]:
    """The ``count`` most recent sessions strictly before ``today``, newest first.

    A day's files appear around 11:00 ET the next day, so the newest candidate is the session
    before ``today``; callers try them in order and take the first one that exists.
    """
    cal = xnys()
    end = min(today - dt.timedelta(days=1), cal.last_session.date())
    labels = cal.sessions_in_range((end - dt.timedelta(days=10 + 2 * count)).isoformat(), end.isoformat())
    return [ts.date() for ts in labels[::-1][:count]]


def session_bounds_ns(day: dt.date) -> tuple[int, int]:
    """(open_ns, close_ns) of the regular session: early closes end at 13:00 ET."""
    cal = xnys()
    return int(cal.session_open(day.isoformat()).value), int(cal.session_close(day.isoformat()).value)


def day_range_ns(day: dt.date) -> tuple[int, int]:
    """[00:00, 24:00) New York time of ``day`` in UTC nanoseconds: the rows a day's file owns."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    nxt = day + dt.timedelta(days=1)
    return datetime_to_ns(start), datetime_to_ns(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=NEW_YORK))
