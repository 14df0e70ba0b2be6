"""Stored seconds as feature-engine events: warming the engine up from history at start-up.

A live start at 11:00 replays the stored one-second aggregates of the last ``sessions`` sessions
up to now through the same compiled step the live path uses, so session values (VWAP, opening
ranges, cumulative delta, relative volume) are those of an engine that ran all along.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.store.readers import Columns, read_seconds_merged
from scalper.core.events import SECOND_NS
from scalper.features.engine import MINUTE_STAMP_NS, EventArrays, FeatureEngine

#: (symbols, start_ns, end_ns) → their seconds merged (``read_seconds_merged``'s columns)
SecondsReader = Callable[[Sequence[str], int, int], Columns]


def stored_seconds(conn: psycopg.Connection[Any], symbols: Sequence[str], start_ns: int, end_ns: int) -> EventArrays:
    """Every stored second of ``symbols`` starting in [start_ns, end_ns), in the order they become known."""
    return seconds_events(read_seconds_merged(conn, symbols, start_ns, end_ns))


def seconds_events(cols: Columns) -> EventArrays:
    """Merged seconds columns as feature-engine events, in the order they become known."""
    events = EventArrays.seconds(
        cols["symbol_id"].astype(np.int64),
        cols["ts_ns"],
        cols["open"],
        cols["high"],
        cols["low"],
        cols["close"],
        cols["volume"],
        cols["vwap"],
    )
    return EventArrays.merge(events)


def warm_up_start(engine: FeatureEngine, now_ns: int, sessions: int) -> int:
    """The open of the session ``sessions − 1`` sessions before the one at or before ``now_ns``."""
    opens = engine.sessions[:, 0]
    current = int(np.searchsorted(opens, now_ns, side="right")) - 1
    return int(opens[max(current - (sessions - 1), 0)])


def warm_up(engine: FeatureEngine, conn: psycopg.Connection[Any], *, now_ns: int, sessions: int) -> int:
    """Replay the stored seconds from ``sessions`` sessions back to ``now_ns`` (exclusive); returns the events applied.

    The last second replayed starts before ``now_ns − 1 s``, i.e. it had ended by ``now_ns``.
    """
    return warm_up_with(engine, functools.partial(read_seconds_merged, conn), now_ns=now_ns, sessions=sessions)


def warm_up_with(engine: FeatureEngine, read: SecondsReader, *, now_ns: int, sessions: int) -> int:
    """:func:`warm_up` from any source of bars at the engine's resolution: seconds (the database,
    exported Parquet files), or minute bars for an engine at minute resolution (each stepped as the
    last second of its minute, as :meth:`FeatureEngine.on_minute` does)."""
    start = warm_up_start(engine, now_ns, sessions)
    bar_ns = 60 * SECOND_NS if engine.resolution == "minute" else SECOND_NS
    end = now_ns - bar_ns + 1_000  # bars starting at or before now − their length (the store keeps microseconds)
    cols = read(engine.symbols, start, end)
    if engine.resolution == "minute":
        cols = {**cols, "ts_ns": cols["ts_ns"] + MINUTE_STAMP_NS}
    events = seconds_events(cols)
    status, _ = engine.replay(events)
    return int(np.count_nonzero(status == 0))
