"""``scalper options``: option-chain snapshots and the dealer gamma levels computed from them.

``snapshot`` takes the chain from the REST snapshot endpoint (the provider live; a local
``scalper replay-server`` offline), fills missing IVs and greeks with the project's own solver,
and stores the chain (``option_snapshots``) and its gamma levels (``gamma_levels``, three
variants: open interest, open interest without today's expiries, today's volume). ``gamma``
recomputes the levels from a stored chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalper.core.errors import DataError

if TYPE_CHECKING:
    import psycopg

    from scalper.options.chains import Chain
    from scalper.options.gex import GammaLevels

options_app = typer.Typer(help="Option chains and dealer gamma levels.", no_args_is_help=True)
console = Console()
UnderlyingOption = Annotated[
    list[str] | None, typer.Option("--underlying", help="Underlying (repeatable); default I:SPX and SPY.")
]
DEFAULT_UNDERLYINGS = ("I:SPX", "SPY")
CLOSE_NEIGHBOURS = 4  # strikes per side in the ATM fit of a chain priced from closes


def levels_of(chain: Chain) -> list[GammaLevels]:
    """IVs and greeks completed, then the gamma levels of every variant."""
    from scalper.options.chains import complete, gamma_chain, terms
    from scalper.options.gex import Variant, gamma_levels

    filled, _ = complete(chain)
    inputs = gamma_chain(filled, terms(filled))
    if len(inputs) == 0:
        raise DataError(f"{chain.underlying}: no unexpired contract with a forward in the chain at {chain.ts_ns}")
    return [gamma_levels(inputs, v) for v in Variant]


def snapshot_time(results: Sequence[Mapping[str, Any]]) -> int | None:
    """The chain's as-of time: the latest ``last_updated`` of its quotes and underlying (ns), if any."""
    stamps = [
        int(part["last_updated"])
        for r in results
        for part in (r.get("last_quote") or {}, r.get("underlying_asset") or {})
        if isinstance(part.get("last_updated"), int)
    ]
    return max(stamps) if stamps else None


def gamma_table(underlying: str, ts_ns: int, levels: Sequence[GammaLevels]) -> Table:
    """The levels of each variant side by side."""
    from scalper.core.timeutil import NEW_YORK, ns_to_datetime

    when = ns_to_datetime(ts_ns).astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")
    table = Table("variant", "spot", "net GEX ($/1%)", "zero gamma", "call wall", "put wall", "contracts")
    table.title = f"dealer gamma of {underlying} at {when} New York"
    for lv in levels:
        zero = f"{lv.zero_gamma:,.2f}" if lv.zero_gamma == lv.zero_gamma else f"— ({lv.zero_gamma_reason})"
        table.add_row(
            lv.variant.value,
            f"{lv.spot:,.2f}",
            f"{lv.net_gex:,.0f}",
            zero,
            f"{lv.call_wall:,.0f}",
            f"{lv.put_wall:,.0f}",
            f"{lv.contracts:,}",
        )
    return table


def store_levels(conn: psycopg.Connection[Any], chain: Chain, *, source: str | None) -> list[GammaLevels]:
    """Store the chain (when ``source`` is given) and its gamma levels; returns the levels."""
    from scalper.adapters.store.options import write_chain, write_gamma_levels
    from scalper.adapters.store.writer import BulkWriter

    levels = levels_of(chain)
    writer = BulkWriter(conn)
    if source is not None:
        write_chain(writer, chain, source=source)
    write_gamma_levels(writer, chain.underlying, chain.ts_ns, levels)
    return levels


def latest_chain_ts(conn: psycopg.Connection[Any], underlying: str, at_ns: int | None = None) -> int | None:
    """The time of the latest stored chain of ``underlying`` (at or before ``at_ns``)."""
    from scalper.core.timeutil import ns_to_datetime

    at = None if at_ns is None else ns_to_datetime(at_ns)
    row = conn.execute(
        "SELECT (EXTRACT(EPOCH FROM max(ts)) * 1000000)::int8 * 1000 FROM option_snapshots "
        "WHERE underlying = %s AND (%s::timestamptz IS NULL OR ts <= %s::timestamptz)",
        (underlying, at, at),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _run(action: Callable[[], None]) -> None:
    from scalper.apps.cli import _run as run

    run(action)


@options_app.command("snapshot")
def snapshot_command(underlying: UnderlyingOption = None) -> None:
    """Fetch the option-chain snapshot over REST, complete IVs and greeks, store the chain and its gamma levels."""

    def body() -> None:
        from scalper.adapters.polygon.rest import PolygonRest
        from scalper.adapters.store.migrations import migrate
        from scalper.apps.cli import _context
        from scalper.core.clock import LiveClock
        from scalper.core.errors import ConfigError
        from scalper.options.chains import chain_from_snapshot

        ctx = _context()
        key = ctx.secrets.market_data_api_key
        if key is None:
            raise ConfigError("no market data API key: set MASSIVE_API_KEY (or POLYGON_API_KEY, or *_FILE)")
        rest = PolygonRest(key.reveal(), base_url=ctx.config.feed.rest_base())
        with ctx.database() as (_, conn):
            migrate(conn)
            for name in underlying or DEFAULT_UNDERLYINGS:
                results = rest.options_snapshot(name)
                if not results:
                    raise DataError(f"options snapshot of {name}: the provider returned no contracts")
                ts = snapshot_time(results) or LiveClock().now_ns()
                chain = chain_from_snapshot(results, underlying=name, ts_ns=ts)
                levels = store_levels(conn, chain, source="rest")
                console.print(f"{name}: {len(chain):,} contracts stored", highlight=False)
                console.print(gamma_table(name, ts, levels))

    _run(body)


@options_app.command("gamma")
def gamma_command(underlying: UnderlyingOption = None) -> None:
    """Recompute and store the gamma levels of the latest stored chain of each underlying."""

    def body() -> None:
        from scalper.adapters.store.migrations import migrate
        from scalper.adapters.store.options import read_chain
        from scalper.apps.cli import _context

        with _context().database() as (_, conn):
            migrate(conn)
            for name in underlying or DEFAULT_UNDERLYINGS:
                ts = latest_chain_ts(conn, name)
                if ts is None:
                    raise DataError(f"no stored option chain of {name}: run `scalper options snapshot` or a backfill")
                levels = store_levels(conn, read_chain(conn, name, ts), source=None)
                console.print(gamma_table(name, ts, levels))

    _run(body)


def daily_atm_series(
    conn: psycopg.Connection[Any], underlying: str, *, days: float = 30.0
) -> list[tuple[str, float, str | None]]:
    """(New York date, ``days``-day ATM IV, why nan) of the last stored chain of each day, oldest first."""
    from scalper.adapters.store.options import read_chain
    from scalper.options.atm import atm_iv

    rows = conn.execute(
        "SELECT (EXTRACT(EPOCH FROM max(ts)) * 1000000)::int8 * 1000 FROM option_snapshots WHERE underlying = %s "
        "GROUP BY (ts AT TIME ZONE 'America/New_York')::date ORDER BY 1",
        (underlying,),
    ).fetchall()
    out = []
    for (ts,) in rows:
        chain = read_chain(conn, underlying, int(ts))
        value, reason = atm_iv(chain, days=days)
        out.append((chain.session_date.isoformat(), value, reason))
    return out


def iv_rank_table(underlying: str, series: Sequence[tuple[str, float, str | None]], days: float) -> Table:
    """The last sessions of the series with today's rank and percentile (— and why when not ready)."""
    import math

    from scalper.gates.ivrank import iv_standing

    values = [v for _, v, _ in series]
    standing = iv_standing(values) if values else None
    table = Table("session", f"{days:g}-day ATM IV", "note", title=f"IV rank of {underlying}")
    for date, value, reason in series[-5:]:
        table.add_row(date, "—" if math.isnan(value) else f"{value:.4f}", reason or "")
    if standing is None:
        table.caption = "no stored chain"
    elif standing.rank is None:
        table.caption = f"IV rank and percentile not ready: {standing.reason}"
    else:
        table.caption = (
            f"IV rank {standing.rank:.1f}, IV percentile {standing.percentile:.1f} ({standing.present} sessions)"
        )
    return table


@options_app.command("ivrank")
def ivrank_command(
    underlying: UnderlyingOption = None,
    days: Annotated[float, typer.Option(help="Constant maturity of the ATM IV series, in calendar days.", min=1)] = 30,
) -> None:
    """IV rank and percentile of the daily constant-maturity ATM implied volatility (252 sessions)."""

    def body() -> None:
        from scalper.adapters.store.migrations import migrate
        from scalper.apps.cli import _context

        with _context().database() as (_, conn):
            migrate(conn)
            for name in underlying or DEFAULT_UNDERLYINGS:
                console.print(iv_rank_table(name, daily_atm_series(conn, name, days=days), days))

    _run(body)


def chains_from_day_bars(
    conn: psycopg.Connection[Any],
    underlying: str,
    sessions: Sequence[tuple[str, int]],
    *,
    rate: float,
    days: float = 30.0,
) -> list[tuple[str, int, float, str | None]]:
    """Store the close-of-day chain of each (date, close_ns) session from the flat-file day aggregates.

    Closes print at different times, so the discount factor cannot be implied from them: ``rate``
    (annual, continuous) gives it and only the forward comes from put–call parity. A session
    that already has a stored chain of ``underlying`` keeps it (a quoted snapshot beats closes).
    Returns (date, contracts stored, ATM IV, note) per session.
    """
    import math

    from scalper.adapters.store.options import read_day_bars_chain, write_chain
    from scalper.adapters.store.writer import BulkWriter
    from scalper.options.atm import atm_iv
    from scalper.options.chains import complete

    writer = BulkWriter(conn)
    out: list[tuple[str, int, float, str | None]] = []
    for date, close_ns in sessions:
        held = conn.execute(
            "SELECT 1 FROM option_snapshots WHERE underlying = %s AND (ts AT TIME ZONE 'America/New_York')::date = %s "
            "LIMIT 1",
            (underlying, date),
        ).fetchone()
        if held is not None:
            out.append((date, 0, math.nan, "a stored snapshot exists: kept"))
            continue
        try:
            chain = read_day_bars_chain(conn, underlying, close_ns)
        except DataError as exc:
            out.append((date, 0, math.nan, str(exc)))
            continue
        filled, _ = complete(chain, rate=rate)
        write_chain(writer, filled, source="flatfile")
        value, reason = atm_iv(chain, days=days, rate=rate, neighbours=CLOSE_NEIGHBOURS)
        out.append((date, len(chain), value, reason))
    return out


@options_app.command("history")
def history_command(
    underlying: UnderlyingOption = None,
    first: Annotated[str | None, typer.Option("--from", help="First session (YYYY-MM-DD).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last session (YYYY-MM-DD).")] = None,
) -> None:
    """Close-of-day chains from the flat-file option day aggregates (`scalper backfill` with the OPRA
    day aggs) for the sessions without a stored snapshot: IVs and greeks from the closes, stored in
    `option_snapshots` (source 'flatfile'); the history behind `scalper options ivrank`."""

    def body() -> None:
        import math

        from scalper.adapters.store.migrations import migrate
        from scalper.apps.arguments import parse_date
        from scalper.apps.cli import _context
        from scalper.marketdata.calendar import xnys

        cal = xnys()
        ctx = _context()
        with ctx.database() as (_, conn):
            migrate(conn)
            span = conn.execute(
                "SELECT min(ts)::date, max(ts)::date FROM option_bars WHERE timeframe = '1d'"
            ).fetchone()
            if span is None or span[0] is None:
                raise DataError("no option day aggregates stored: run `scalper backfill` with the OPRA day aggregates")
            start, end = parse_date("--from", first) or span[0], parse_date("--to", last) or span[1]
            labels = cal.sessions_in_range(start.isoformat(), end.isoformat())
            sessions = [(str(x.date()), int(cal.session_close(x).value)) for x in labels]
            for name in underlying or DEFAULT_UNDERLYINGS:
                table = Table(
                    "session", "contracts stored", "30-day ATM IV", "note", title=f"{name} chains from day bars"
                )
                for date, n, value, note in chains_from_day_bars(conn, name, sessions, rate=ctx.config.options.rate):
                    table.add_row(date, f"{n:,}", "—" if math.isnan(value) else f"{value:.4f}", note or "")
                console.print(table)

    _run(body)
