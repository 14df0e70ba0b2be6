"""The regime code's database side: minute bars in, labels, scores, models and evaluations out.

Tables: ``bars`` (read), ``regimes`` (labels and scores; a session that could not be used is
stored with ``label`` NULL and the reason in ``inputs.skipped``), ``regime_models`` and
``regime_evaluations`` (migration 0007). Non-finite numbers are stored as JSON null.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from scalper.core.errors import DataError, StoreError
from scalper.core.timeutil import NEW_YORK
from scalper.marketdata.calendar import xnys
from scalper.regime.daily import SessionBars
from scalper.regime.labels import DayLabel
from scalper.regime.morning import MorningInputs
from scalper.regime.pipeline import Skip

_BARS_SQL = (
    "SELECT (EXTRACT(EPOCH FROM ts) * 1000000)::int8, open, high, low, close, COALESCE(volume, 'NaN') "
    "FROM bars WHERE symbol = %s AND timeframe = '1m' AND ts >= %s AND ts < %s ORDER BY ts"
)


def clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def stored_dates(conn: psycopg.Connection[Any], symbol: str) -> tuple[dt.date, dt.date] | None:
    """New York dates of the first and last stored minute bar of ``symbol``; None when there is none."""
    row = conn.execute("SELECT min(ts), max(ts) FROM bars WHERE symbol = %s AND timeframe = '1m'", (symbol,)).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0].astimezone(NEW_YORK).date(), row[1].astimezone(NEW_YORK).date()


def session_bounds(first: dt.date, last: dt.date) -> list[tuple[dt.date, int, int]]:
    """(day, open_ns, close_ns) of every XNYS session from ``first`` to ``last`` inclusive."""
    if last < first:
        return []
    schedule = xnys().schedule.loc[first.isoformat() : last.isoformat()]
    return [
        (label.date(), int(o.value), int(c.value))
        for label, o, c in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
    ]


def sessions_before(day: dt.date, count: int) -> dt.date:
    """The date of the session ``count`` sessions before ``day`` (the calendar's first if it has fewer)."""
    cal = xnys()
    first: dt.date = cal.first_session.date()
    if day <= first:
        return first
    labels = cal.sessions_in_range(first.isoformat(), (day - dt.timedelta(days=1)).isoformat())
    found: dt.date = labels[max(0, len(labels) - count)].date() if len(labels) else first
    return found


def read_sessions(conn: psycopg.Connection[Any], symbol: str, first: dt.date, last: dt.date) -> list[SessionBars]:
    """Minute bars of ``symbol`` grouped by XNYS session, one entry per session (empty if no bars)."""
    bounds = session_bounds(first, last)
    if not bounds:
        return []
    lo = dt.datetime.fromtimestamp(bounds[0][1] / 1e9, tz=dt.UTC)
    hi = dt.datetime.fromtimestamp(bounds[-1][2] / 1e9, tz=dt.UTC)
    try:
        rows = conn.execute(_BARS_SQL, (symbol, lo, hi)).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"reading minute bars of {symbol}: {exc}") from exc
    data = np.array(rows, dtype=np.float64).reshape(len(rows), 6)
    ts = data[:, 0].astype(np.int64) * 1000
    opens = np.array([b[1] for b in bounds], dtype=np.int64)
    closes = np.array([b[2] for b in bounds], dtype=np.int64)
    which = np.searchsorted(opens, ts, side="right") - 1
    inside = (which >= 0) & (ts < closes[np.maximum(which, 0)])
    sessions = []
    for i, (day, open_ns, close_ns) in enumerate(bounds):
        rows_i = np.flatnonzero(inside & (which == i))
        sessions.append(
            SessionBars(
                symbol=symbol,
                day=day,
                open_ns=open_ns,
                close_ns=close_ns,
                ts_ns=ts[rows_i],
                open=data[rows_i, 1],
                high=data[rows_i, 2],
                low=data[rows_i, 3],
                close=data[rows_i, 4],
                volume=data[rows_i, 5],
            )
        )
    return sessions


_UPSERT = """
INSERT INTO regimes (symbol, session_date, kind, model_version, label, day_type, score, probabilities, inputs)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (symbol, session_date, kind, model_version) DO UPDATE SET
    label = EXCLUDED.label, day_type = EXCLUDED.day_type, score = EXCLUDED.score,
    probabilities = EXCLUDED.probabilities, inputs = EXCLUDED.inputs, computed_at = now()
"""


def _upsert(conn: psycopg.Connection[Any], rows: Sequence[tuple[Any, ...]]) -> int:
    if rows:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_UPSERT, rows)
    return len(rows)


def store_labels(
    conn: psycopg.Connection[Any], version: str, labels: Iterable[DayLabel], skips: Iterable[Skip] = ()
) -> int:
    """Upsert labels (kind ``label``) and the sessions that could not be labelled (label NULL)."""
    rows: list[tuple[Any, ...]] = [
        (x.symbol, x.day, "label", version, x.label, x.day_type, None, None, Jsonb(clean(x.inputs))) for x in labels
    ]
    rows += [(s.symbol, s.day, "label", version, None, None, None, None, Jsonb({"skipped": s.reason})) for s in skips]
    return _upsert(conn, rows)


def store_scores(
    conn: psycopg.Connection[Any],
    version: str,
    scored: Iterable[tuple[MorningInputs, dict[str, float]]],
) -> int:
    """Upsert morning scores: kind ``score@HH:MM``, label = most probable, score = P(trend up or down)."""
    rows = []
    for inputs, probs in scored:
        best = max(probs, key=lambda k: probs[k])
        trend = probs.get("trend_up", 0.0) + probs.get("trend_down", 0.0)
        payload = {**inputs.values, "missing": inputs.missing}
        rows.append(
            (
                inputs.symbol,
                inputs.day,
                f"score@{inputs.checkpoint}",
                version,
                best,
                None,
                trend,
                Jsonb(clean(probs)),
                Jsonb(clean(payload)),
            )
        )
    return _upsert(conn, rows)


def store_model(
    conn: psycopg.Connection[Any],
    *,
    version: str,
    symbol: str,
    checkpoint: str,
    label_version: str,
    train_first: dt.date,
    train_last: dt.date,
    params: dict[str, Any],
) -> None:
    """Record a fitted model (its coefficients and settings) by version, symbol, checkpoint and training end."""
    conn.execute(
        "INSERT INTO regime_models (model_version, symbol, checkpoint, train_last, train_first, label_version, params)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (model_version, symbol, checkpoint, train_last)"
        " DO UPDATE SET train_first = EXCLUDED.train_first, label_version = EXCLUDED.label_version,"
        " params = EXCLUDED.params, fitted_at = now()",
        (version, symbol, checkpoint, train_last, train_first, label_version, Jsonb(clean(params))),
    )


def store_evaluation(
    conn: psycopg.Connection[Any], *, version: str, symbol: str, checkpoint: str, evaluation: dict[str, Any]
) -> None:
    """Record a walk-forward evaluation; the headline figures also as columns."""
    e = evaluation
    try:
        first, last = dt.date.fromisoformat(e["first_day"]), dt.date.fromisoformat(e["last_day"])
        figures = (e["n"], e["accuracy"], e["baseline_accuracy"], e["brier"], e["climatology_brier"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"evaluation of {symbol} @ {checkpoint} is incomplete: {exc}") from exc
    conn.execute(
        "INSERT INTO regime_evaluations (model_version, symbol, checkpoint, first_day, last_day, n, accuracy,"
        " baseline_accuracy, brier, climatology_brier, evaluation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (model_version, symbol, checkpoint, first_day, last_day) DO UPDATE SET n = EXCLUDED.n,"
        " accuracy = EXCLUDED.accuracy, baseline_accuracy = EXCLUDED.baseline_accuracy, brier = EXCLUDED.brier,"
        " climatology_brier = EXCLUDED.climatology_brier, evaluation = EXCLUDED.evaluation, computed_at = now()",
        (version, symbol, checkpoint, first, last, *figures, Jsonb(clean(e))),
    )
