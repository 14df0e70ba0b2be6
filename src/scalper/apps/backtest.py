"""``scalper backtest``: the recorded one-second data of the database through the trading engine.

:func:`run_backtest` replays the stored seconds of the index and proxy symbols, session by
session, in the order the live runner applies them (a second when it is complete, plus the feed's
aggregate delay; ties by symbol, as :class:`~scalper.engine.sequencer.Sequencer`), through the
:class:`~scalper.engine.trader.Trader` with a :class:`~scalper.core.clock.ReplayClock`, the
:class:`~scalper.brokers.sim.SimBroker`, the session policy of ``scalper run``
(:class:`~scalper.apps.live_policy.LivePolicy`, reading the database at market time) and the
same journal, so the run is stored under its run id like a paper run (kind ``backtest``). With
the built-in plays the events go through :class:`~scalper.engine.replay_loop.CompiledReplay`,
which takes the very decisions of ``Trader.on_event`` in compiled code (the policy's levels asked
once per minute, in time order, before each session); a user's own play goes event by event.

Set-up, as a live start before the first session's open: the features are warmed up on the
sessions stored before it (``features.seed_sessions``); each session's first event sets the
proxies' daily sigma from the minute bars stored before it. Nothing later than the replay clock is
read: the seconds come in time order, the policy reads what was stored before each minute.

Same database, same range, same thresholds → the same signals, orders and fills (the client ids
differ only through the run id, which is their namespace).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import psycopg
from numpy.typing import NDArray
from rich.table import Table

from scalper.adapters.parquet_seconds import ParquetSeconds, day_bounds
from scalper.adapters.store import connect
from scalper.adapters.store.feature_history import SecondsReader, warm_up_with
from scalper.adapters.store.journal import StoreJournal
from scalper.adapters.store.orders import write_run
from scalper.adapters.store.readers import read_minutes_merged, read_seconds_merged
from scalper.apps.live_policy import LivePolicy
from scalper.apps.run import daily_sigma
from scalper.backtest.report import ReportData, ReportPaths, write_report
from scalper.backtest.segments import Excursion, by_segment, excursion, time_of_day
from scalper.backtest.stats import break_even_cents, daily_pnl, probabilistic_sharpe, slippage_sweep
from scalper.backtest.trades import RoundTrip, round_trips
from scalper.brokers.sim import SimBroker, SimConfig
from scalper.config.model import Config
from scalper.core.clock import ReplayClock
from scalper.core.errors import ConfigError, DataError, StoreError
from scalper.core.events import SECOND_NS, MinuteAgg, SecondAgg
from scalper.core.timeutil import NEW_YORK, NS_PER_MS, datetime_to_ns
from scalper.engine.replay_loop import CompiledReplay, seconds_arrays
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine, Resolution
from scalper.marketdata.calendar import session_table
from scalper.plays import load_plays
from scalper.plays.compiled import CompiledPlay
from scalper.strategy.thresholds import Thresholds

log = logging.getLogger(__name__)

Progress = Callable[[dt.date, int, int], None]  # (session, its events, sessions done)


@dataclass(slots=True)
class BacktestReport:
    """What a backtest did; its records are stored under ``run_id``."""

    run_id: str
    sessions: list[dt.date]
    events: int
    warmed_up: int
    trader: Trader
    journal: StoreJournal
    seconds: float
    trips: list[RoundTrip]
    still_open: int
    excursions: dict[str, Excursion]
    #: (times, closes) of the chart symbol on the chart days, for the report
    prices: dict[dt.date, tuple[NDArray[np.int64], NDArray[np.float64]]]
    chart_symbol: str


def sessions_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The XNYS sessions from ``first`` to ``last`` (inclusive), New York dates."""
    if last < first:
        raise ConfigError(f"--to {last}: expected on or after --from {first}")
    opens = session_table()[:, 0]
    lo = datetime_to_ns(dt.datetime.combine(first, dt.time(0), NEW_YORK))
    hi = datetime_to_ns(dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), NEW_YORK))
    chosen = opens[(opens >= lo) & (opens < hi)]
    return [dt.datetime.fromtimestamp(int(ns) / 1e9, NEW_YORK).date() for ns in chosen]


def session_events(
    read: SecondsReader, symbols: Sequence[str], day: dt.date, resolution: Resolution = "second"
) -> list[SecondAgg] | list[MinuteAgg]:
    """The recorded bars of ``symbols`` on New York date ``day`` (seconds, or minute bars at
    ``resolution`` minute), in the live runner's order."""
    start, end = day_bounds(day)
    cols = read(symbols, start, end)  # by (ts, position in symbols): the replay order
    ts = cols["ts_ns"].astype(np.int64)
    sym = cols["symbol_id"]
    o, h, lo, c, v, w = (cols[k].tolist() for k in ("open", "high", "low", "close", "volume", "vwap"))
    names = list(symbols)
    kind, length = (MinuteAgg, 60 * SECOND_NS) if resolution == "minute" else (SecondAgg, SECOND_NS)
    out: list[Any] = []
    for i, t in enumerate(ts.tolist()):
        volume, vwap = v[i], w[i]
        out.append(
            kind(
                symbol=names[int(sym[i])],
                ts_event=t,
                ts_end=t + length,
                open=o[i],
                high=h[i],
                low=lo[i],
                close=c[i],
                volume=None if volume != volume else volume,
                vwap=None if vwap != vwap else vwap,
            )
        )
    return out


def run_exists(conn: psycopg.Connection[Any], run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE run_id = %s", (run_id,)).fetchone() is not None


def run_backtest(
    url: str,
    config: Config,
    thresholds: Thresholds,
    *,
    first: dt.date,
    last: dt.date,
    run_id: str,
    plays: Sequence[str] | None = None,
    progress: Progress | None = None,
    parquet: Path | None = None,
    chart_days: int = 3,
    resolution: Resolution = "second",
) -> BacktestReport:
    """Replay the stored sessions ``first``..``last`` through the engine; store the run as ``run_id``.

    ``resolution`` minute replays the stored minute bars instead of the seconds (for history with
    minute data only): the features are built from the minute bars (the second-level ones move once
    a minute), the plays decide and the simulated broker fills on minute bars (an order decided at a
    minute's end fills at the next minute's open at the earliest)."""
    if resolution == "minute" and parquet is not None:
        raise ConfigError("--parquet holds seconds; a minute-resolution backtest reads the stored minute bars")
    started = time.perf_counter()
    db = config.database
    connect_db = functools.partial(
        connect, url, timeout_s=db.connect_timeout_s, statement_timeout_s=db.statement_timeout_s
    )
    sessions = sessions_between(first, last)
    if not sessions:
        raise DataError(f"no XNYS session between {first} and {last}")
    all_plays = load_plays(thresholds.play_sections())
    if plays:
        unknown = sorted(set(plays) - set(all_plays))
        if unknown:
            raise ConfigError(f"--plays: unknown play(s) {', '.join(unknown)}; expected some of {', '.join(all_plays)}")
    chosen = [p for name, p in all_plays.items() if not plays or name in plays]
    symbols = [*config.feed.index_symbols, *config.feed.proxy_symbols]
    from scalper.apps.features import feature_params

    engine = FeatureEngine(symbols, feature_params(config.features), resolution=resolution)
    with connect_db() as conn:
        if run_exists(conn, run_id):
            raise ConfigError(f"--run-id {run_id}: a run with this id is stored already; choose another")
        write_run(
            conn,
            run_id=run_id,
            kind="backtest",
            started_ns=time.time_ns(),
            params={
                "from": first.isoformat(),
                "to": last.isoformat(),
                "plays": [p.name for p in chosen],
                "thresholds": thresholds.version,
                "resolution": resolution,
            },
        )
    clock = ReplayClock(0)
    journal = StoreJournal(connect_db, run_id)
    policy = LivePolicy(connect_db, thresholds, indices=tuple(config.feed.index_symbols))
    sigma = dict.fromkeys({p.proxy for p in chosen}, config.broker.default_daily_sigma)
    trader = Trader(
        features=engine,
        plays=chosen,
        risk=thresholds.risk,
        broker=SimBroker(
            clock, SimConfig(latency_ns=config.broker.sim_latency_ms * NS_PER_MS, id_prefix=f"sim-{run_id}")
        ),
        clock=clock,
        equity=config.broker.paper_equity,
        daily_sigma=sigma,
        level_of=policy,
        perf_counter_ns=time.perf_counter_ns,
        journal=journal,
        namespace=run_id,
    )
    trader.broker_connected(0)  # as `scalper run` on a new run: connected before any event
    # the compiled replay loop takes the very decisions of on_event, faster; plays without a
    # compiled rule (a user's own) go event by event
    compiled = (
        CompiledReplay(trader) if resolution == "second" and all(isinstance(p, CompiledPlay) for p in chosen) else None
    )
    excursions: dict[str, Excursion] = {}
    prices: dict[dt.date, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
    chart = config.feed.proxy_symbols[0]
    charted = set(sessions[-chart_days:]) if chart_days > 0 else set()
    events = warmed = 0
    ready = False
    try:
        with connect_db() as conn:
            read: SecondsReader = functools.partial(
                read_minutes_merged if resolution == "minute" else read_seconds_merged, conn
            )
            if parquet is not None:
                read = ParquetSeconds(parquet).read
            for n, day in enumerate(sessions):
                batch = session_events(read, symbols, day, resolution)
                if not batch:
                    log.warning("backtest: no stored %ss on %s", resolution, day)
                    continue
                known = batch[0].ts_end
                if not ready:  # as a live start before this session's first event
                    warmed = warm_up_with(engine, read, now_ns=known, sessions=config.features.seed_sessions)
                    ready = True
                for proxy in sigma:
                    value = daily_sigma(conn, proxy, known)
                    trader.daily_sigma[proxy] = value or config.broker.default_daily_sigma
                if compiled is not None:
                    compiled.run(seconds_arrays(cast(list[SecondAgg], batch), engine.codes))
                else:
                    for event in batch:
                        trader.on_event(event)
                _measure_excursions(trader, batch, excursions)
                if day in charted:
                    mine = [e for e in batch if e.symbol == chart]
                    prices[day] = (np.array([e.ts_end for e in mine], np.int64), np.array([e.close for e in mine]))
                events += len(batch)
                if progress is not None:
                    progress(day, len(batch), n + 1)
    finally:
        policy.close()
        journal.flush()
        journal.close()
    if not journal.healthy:
        raise StoreError(f"backtest {run_id}: {journal.waiting} records could not be stored: {journal.last_error}")
    trips, still_open = round_trips(trader.book.orders(), trader.book.fills())
    return BacktestReport(
        run_id=run_id,
        sessions=sessions,
        events=events,
        warmed_up=warmed,
        trader=trader,
        journal=journal,
        seconds=time.perf_counter() - started,
        trips=trips,
        still_open=still_open,
        excursions=excursions,
        prices=prices,
        chart_symbol=chart,
    )


def _measure_excursions(
    trader: Trader, batch: Sequence[SecondAgg] | Sequence[MinuteAgg], out: dict[str, Excursion]
) -> None:
    """MAE/MFE of the trades of this session (entered since its first event), from its bars."""
    first = batch[0].ts_event
    orders = [o for o in trader.book.orders() if o.request.signal_id is not None and o.request.ts_created >= first]
    if not orders:
        return
    trips, _ = round_trips(orders, trader.book.fills())
    bars: dict[str, tuple[Any, Any, Any]] = {}
    for symbol in {t.symbol for t in trips}:
        mine = [e for e in batch if e.symbol == symbol]
        bars[symbol] = (
            np.array([e.ts_event for e in mine], dtype=np.int64),
            np.array([e.high for e in mine]),
            np.array([e.low for e in mine]),
        )
    for trip in trips:
        out[trip.signal_id] = excursion(trip, *bars[trip.symbol])


def regime_labels(conn: psycopg.Connection[Any], indices: Sequence[str]) -> dict[tuple[str, dt.date], str]:
    """(index, session) → the stored daily label (``regimes``, kind ``label``; the latest model's)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (symbol, session_date) symbol, session_date, label FROM regimes "
        "WHERE kind = 'label' AND symbol = ANY(%s) AND label IS NOT NULL "
        "ORDER BY symbol, session_date, computed_at DESC",
        (list(indices),),
    ).fetchall()
    return {(str(symbol), day): str(label) for symbol, day, label in rows}


def write_backtest_report(
    report: BacktestReport, labels: Mapping[tuple[str, dt.date], str], out_dir: Path, *, equity: float
) -> ReportPaths:
    """The run's HTML report, trades.csv and summary.json in ``out_dir``; regime shading from the
    first index's daily labels."""
    index = next(iter(p.index for p in report.trader.plays.values()), "")
    regimes = {day: label for (symbol, day), label in labels.items() if symbol == index}
    data = ReportData(
        run_id=report.run_id,
        trips=report.trips,
        prices=report.prices,
        regimes=regimes,
        equity_start=equity,
        title=f"backtest {report.run_id}: {report.sessions[0]} to {report.sessions[-1]}",
        chart_symbol=report.chart_symbol,
    )
    return write_report(data, out_dir)


def segment_tables(report: BacktestReport, labels: Mapping[tuple[str, dt.date], str]) -> list[Table]:
    """Per play, per regime of the day and per time of day: the segments' statistics as tables."""
    if not report.trips:
        return []
    index_of = {name: play.index for name, play in report.trader.plays.items()}

    def regime(trip: RoundTrip) -> str:
        return labels.get((index_of.get(trip.play, ""), trip.day), "unlabelled")

    keys: list[tuple[str, Callable[[RoundTrip], str]]] = [
        ("play", lambda t: t.play),
        ("regime of the day", regime),
        ("time of day (New York)", time_of_day),
    ]
    tables = []
    for title, key in keys:
        table = Table(
            title,
            "trades",
            "win",
            "expectancy $ [95% CI]",
            "total $",
            "median pnl",
            "hold s",
            "slip ¢",
            "MAE/MFE $",
            "max DD $",
            title=f"by {title}",
        )
        for seg in by_segment(report.trips, key, excursions=report.excursions):
            ci = "" if seg.ci is None else f" [{seg.ci.low:+.2f}, {seg.ci.high:+.2f}]"
            slip = "—" if seg.slippage_mean is None else f"{100 * seg.slippage_mean:.2f}"
            marks = (
                "—"
                if seg.mae_mean is None or seg.mfe_mean is None
                else f"{round(seg.mae_mean):+d}/{round(seg.mfe_mean):+d}"
            )
            table.add_row(
                seg.key,
                str(seg.trades),
                f"{seg.win_rate:.0%}",
                f"{seg.expectancy:+.2f}{ci}",
                f"{seg.total:+.2f}",
                f"{seg.quantiles[2]:+.2f}",
                f"{seg.holding_median_s:.0f}",
                slip,
                marks,
                f"{seg.max_drawdown:.2f}",
            )
        tables.append(table)
    return tables


def evidence_table(report: BacktestReport) -> Table | None:
    """Per play and in total: expectancy with more slippage (0–3 ¢ a share and side), the break-even
    slippage, and the probabilistic Sharpe of the daily PnL (a single configuration: DSR = PSR)."""
    if not report.trips:
        return None
    cents = (0.0, 1.0, 2.0, 3.0)
    table = Table(
        "set", *(f"+{c:g}¢ exp. $" for c in cents), "break-even ¢", "PSR (daily)", title="slippage sweep and evidence"
    )
    groups: dict[str, list[RoundTrip]] = {"all": list(report.trips)}
    for trip in report.trips:
        groups.setdefault(trip.play, []).append(trip)
    for name, trips in groups.items():
        sweep = slippage_sweep(trips, cents)
        _, daily, _ = daily_pnl(trips)
        try:
            psr = f"{probabilistic_sharpe(daily):.2f}"
        except DataError:
            psr = "—"  # fewer than two days, or no variation
        table.add_row(name, *(f"{p.expectancy:+.2f}" for p in sweep), f"{break_even_cents(trips):+.2f}", psr)
    return table
