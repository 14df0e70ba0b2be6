"""``scalper features``: compute feature snapshots from stored seconds, and show them at a time.

``compute`` replays the stored one-second aggregates session by session through the feature
engine (after warming it up on the sessions before the range) and stores a snapshot per symbol
at the configured cadence in ``features``. ``show`` warms an engine up to a moment, exactly as a
live start at that moment would, and prints the snapshot.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalper.apps.arguments import parse_date
from scalper.core.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

    from scalper.config.model import FeaturesConfig
    from scalper.features.engine import FeatureEngine
    from scalper.features.params import FeatureParams

features_app = typer.Typer(
    help="Features: compute and store snapshots from stored seconds; show them at a moment.", no_args_is_help=True
)
console = Console()
DEFAULT_SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
SHOWN = (
    ("close", "close"),
    ("VWAP", "vwap"),
    ("VWAP σ", "vwap_std"),
    ("VWAP mode", "vwap_mode"),
    ("OR30 high", "or30_high"),
    ("OR30 low", "or30_low"),
    ("prior high", "prior_high"),
    ("AVWAP prior high", "avwap_prior_high"),
    ("EMA 1m / 15m", ("ema_1m", "ema_15m")),
    ("slope 1s/1m/5m/15m (ATR)", ("slope_1s", "slope_1m", "slope_5m", "slope_15m")),
    ("aligned", "aligned"),
    ("ATR 1m", "atr_1m"),
    ("ADX 1m", "adx_1m"),
    ("ER 1m", "er_1m"),
    ("squeeze (BB in KC)", "squeeze"),
    ("realised vol 5 min", "rv_window"),
    ("cum delta (method)", ("cum_delta", "delta_method")),
    ("relative volume", "rel_volume"),
    ("index/proxy ratio", "proxy_ratio"),
)
SymbolOption = Annotated[list[str] | None, typer.Option("--symbol", help="Symbol (repeatable); default all four.")]


def feature_params(cfg: FeaturesConfig) -> FeatureParams:
    """The engine's parameters from the ``[features]`` section (cap violations name the key)."""
    from scalper.features.params import FeatureParams

    return FeatureParams(
        ema_periods=cfg.ema_periods,
        slope_lags=cfg.slope_lags,
        atr_period=cfg.atr_period,
        adx_period=cfg.adx_period,
        er_period=cfg.er_period,
        bb_period=cfg.bb_period,
        bb_k=cfg.bb_k,
        kc_multiplier=cfg.kc_multiplier,
        atr_fast=cfg.atr_fast,
        rv_window_s=cfg.rv_window_s,
        pivot_strength=cfg.pivot_strength,
        relvol_sessions=cfg.relvol_sessions,
        relvol_min_sessions=cfg.relvol_min_sessions,
        bvc_period=cfg.bvc_period,
        ratio_minutes=cfg.ratio_minutes,
        index_vwap=cfg.index_vwap,
    )


@dataclass
class ComputeResult:
    """What ``compute`` did."""

    version: str
    sessions: list[dt.date] = field(default_factory=list)
    events: int = 0
    snapshots: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def stored_sessions(conn: psycopg.Connection[Any], symbols: Sequence[str]) -> list[tuple[dt.date, int, int]]:
    """(day, open_ns, close_ns) of every XNYS session with stored seconds of ``symbols``."""
    import numpy as np

    from scalper.marketdata.calendar import session_table

    row = conn.execute(
        "SELECT (EXTRACT(EPOCH FROM min(ts)) * 1e9)::int8, (EXTRACT(EPOCH FROM max(ts)) * 1e9)::int8 "
        "FROM agg_1s WHERE symbol = ANY(%s)",
        (list(symbols),),
    ).fetchone()
    if row is None or row[0] is None:
        return []
    table = session_table()
    first = int(np.searchsorted(table[:, 1], row[0], side="right"))
    last = int(np.searchsorted(table[:, 0], row[1], side="right"))
    return [(_day(int(o)), int(o), int(c)) for o, c in table[first:last]]


def _day(open_ns: int) -> dt.date:
    from scalper.core.timeutil import NEW_YORK, ns_to_datetime

    return ns_to_datetime(open_ns).astimezone(NEW_YORK).date()


def compute(
    conn: psycopg.Connection[Any],
    cfg: FeaturesConfig,
    *,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> tuple[ComputeResult, FeatureEngine]:
    """Replay stored seconds from ``first`` to ``last`` (default: all), storing snapshots at the cadence."""
    from scalper.adapters.store.feature_history import stored_seconds, warm_up
    from scalper.adapters.store.tables import FEATURES
    from scalper.adapters.store.writer import BulkWriter
    from scalper.features.engine import FeatureEngine
    from scalper.features.recorder import SnapshotRecorder, feature_version

    params = feature_params(cfg)
    engine = FeatureEngine(symbols, params)
    recorder = SnapshotRecorder(symbols, every_s=cfg.snapshot_every_s, version=feature_version(params))
    result = ComputeResult(version=recorder.version)
    began = time.perf_counter()
    days = [
        s for s in stored_sessions(conn, symbols) if (first is None or s[0] >= first) and (last is None or s[0] <= last)
    ]
    if not days:
        raise ConfigError(f"features compute: no stored seconds of {', '.join(symbols)} in the range")
    warm_up(engine, conn, now_ns=days[0][1], sessions=cfg.seed_sessions)
    writer = BulkWriter(conn)
    previous_close = days[0][1]
    for day, _, close in days:
        events = stored_seconds(conn, symbols, previous_close, close)  # the overnight before it, then the session
        mask = recorder.due_mask(events)
        status, rows = engine.replay(events, keep=mask)
        recorder.add_replay(events, mask, status, rows)
        result.snapshots += len(recorder)
        writer.write(FEATURES, recorder.take())
        result.sessions.append(day)
        result.events += len(events)
        previous_close = close
    result.refused = dict(engine.refused)
    result.seconds = time.perf_counter() - began
    return result, engine


def show_at(
    conn: psycopg.Connection[Any], cfg: FeaturesConfig, at_ns: int, symbols: Sequence[str] = DEFAULT_SYMBOLS
) -> FeatureEngine:
    """An engine warmed up to ``at_ns`` from the stored seconds, as a live start at that moment would be."""
    from scalper.adapters.store.feature_history import warm_up
    from scalper.features.engine import FeatureEngine

    engine = FeatureEngine(symbols, feature_params(cfg))
    warm_up(engine, conn, now_ns=at_ns, sessions=cfg.seed_sessions)
    return engine


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"


def snapshot_table(engine: FeatureEngine, title: str) -> Table:
    """The main features of each symbol side by side (— = not ready)."""
    table = Table("feature", *engine.symbols, title=title)
    snaps = {s: engine.latest_dict(s) for s in engine.symbols}
    for label, key in SHOWN:
        keys = key if isinstance(key, tuple) else (key,)
        table.add_row(label, *(" / ".join(_fmt(snaps[s][k]) for k in keys) for s in engine.symbols))
    return table


def _run(action: Callable[[], None]) -> None:
    from scalper.apps.cli import _run as run

    run(action)


@features_app.command("compute")
def compute_command(
    symbol: SymbolOption = None,
    first: Annotated[str | None, typer.Option("--from", help="First session (YYYY-MM-DD).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last session (YYYY-MM-DD).")] = None,
) -> None:
    """Replay stored seconds through the feature engine and store snapshots in `features`
    (every [features] snapshot_every_s seconds per symbol, keyed by the feature-set version)."""

    def body() -> None:
        from scalper.adapters.store.migrations import migrate
        from scalper.apps.cli import _context

        ctx = _context()
        with ctx.database() as (_, conn):
            migrate(conn)
            result, engine = compute(
                conn,
                ctx.config.features,
                symbols=tuple(symbol or DEFAULT_SYMBOLS),
                first=parse_date("--from", first),
                last=parse_date("--to", last),
            )
        console.print(
            f"{len(result.sessions)} sessions ({result.sessions[0]} … {result.sessions[-1]}), "
            f"{result.events:,} events, "
            f"{result.snapshots:,} snapshots stored as {result.version} in {result.seconds:.1f} s; "
            f"refused: {result.refused or 'none'}",
            highlight=False,
        )
        console.print(snapshot_table(engine, f"features at the end of {result.sessions[-1]}"))

    _run(body)


@features_app.command("show")
def show_command(
    at: Annotated[str, typer.Option("--at", help="Moment, New York time: 'YYYY-MM-DD HH:MM'.")],
    symbol: SymbolOption = None,
) -> None:
    """Warm the engine up from stored seconds to a moment (as a live start then would) and print the features."""

    def body() -> None:
        from scalper.adapters.store.migrations import migrate
        from scalper.apps.cli import _context
        from scalper.core.timeutil import NEW_YORK, datetime_to_ns

        try:
            moment = dt.datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=NEW_YORK)
        except ValueError:
            raise ConfigError(f"--at: value {at!r} is invalid: expected 'YYYY-MM-DD HH:MM' (New York time)") from None
        ctx = _context()
        with ctx.database() as (_, conn):
            migrate(conn)
            engine = show_at(conn, ctx.config.features, datetime_to_ns(moment), tuple(symbol or DEFAULT_SYMBOLS))
        console.print(snapshot_table(engine, f"features at {at} New York"))

    _run(body)
