"""A restarted capture resumes where today's stored seconds end (the hole becomes a gap to repair)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import psycopg

from scalper.adapters.store.tables import AGG_1S
from scalper.adapters.store.writer import BulkWriter
from scalper.apps.ingest import restart_starts

OPEN = pd.Timestamp("2025-11-26 14:30", tz="UTC").value  # 09:30 ET
S = 1_000_000_000


def test_capture_resumes_after_the_last_stored_second_of_the_session(db: psycopg.Connection[Any]) -> None:
    n = 10
    close = np.full(n, 590.0)
    BulkWriter(db).write(
        AGG_1S,
        {
            "symbol": np.full(n, "SPY", dtype=object),
            "ts": OPEN + np.arange(n, dtype=np.int64) * S,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": close,
            "vwap": close,
            "trades": np.ones(n),
            "source": np.full(n, "ws", dtype=object),
        },
    )
    starts = restart_starts(db, ["SPY", "QQQ"], OPEN + 1800 * S)
    assert starts == {"SPY": OPEN + n * S, "QQQ": OPEN}


def test_outside_regular_hours_there_is_nothing_to_resume(db: psycopg.Connection[Any]) -> None:
    assert restart_starts(db, ["SPY"], OPEN - 60 * S) == {}
    assert restart_starts(db, ["SPY"], pd.Timestamp("2025-11-27 16:00", tz="UTC").value) == {}  # Thanksgiving
