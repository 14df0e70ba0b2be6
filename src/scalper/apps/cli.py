"""The ``scalper`` command line.

Each command is a thin function that loads the context lazily and calls one start function;
errors that scalper raises on purpose are printed as one clear message and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalper.apps.alerts import alerts_app
from scalper.apps.arguments import parse_date
from scalper.apps.econ import calendar_app
from scalper.apps.features import features_app
from scalper.apps.options import options_app
from scalper.apps.regime import regime_app
from scalper.core.errors import ConfigError, ScalperError

HELP = """scalper: intraday scalping of the S&P 500 and Nasdaq-100.

Signals are computed on the indices (I:SPX, I:NDX) from one-second data; orders go to the
ETF proxies (SPY, QQQ). PostgreSQL is the system of record: without SCALPER_DATABASE_URL an
embedded PostgreSQL server is started in your user data directory.

Configuration: a TOML file (--config, $SCALPER_CONFIG or ./scalper.toml) plus
SCALPER_<SECTION>__<KEY> environment variables. Secrets (API keys, webhook, database password)
come only from the environment or *_FILE secret files. See docs/CONFIGURATION.md.
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database: apply migrations, show schema status.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration: show the effective settings (secrets redacted).", no_args_is_help=True)
thresholds_app = typer.Typer(help="Thresholds: apply a tune's proposal as a new version.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(thresholds_app, name="thresholds")
app.add_typer(config_app, name="config")
app.add_typer(regime_app, name="regime")
app.add_typer(features_app, name="features")
app.add_typer(options_app, name="options")
app.add_typer(calendar_app, name="calendar")
app.add_typer(alerts_app, name="alerts")

console = Console()
err_console = Console(stderr=True)
_state: dict[str, Path | None] = {"config": None}

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.", dir_okay=False)]


@app.callback()
def _root(config: ConfigOption = None) -> None:
    _state["config"] = config


def _context() -> Any:
    from scalper.apps.context import AppContext

    return AppContext.load(_state["config"])


def _run(action: Callable[[], None]) -> None:
    """Run a command body, turning scalper's errors into a message and an exit code."""
    try:
        action()
    except ConfigError as exc:
        err_console.print(f"[bold red]configuration error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    except ScalperError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (idempotent; each migration is all-or-nothing)."""

    def body() -> None:
        from scalper.adapters.store.migrations import migrate

        with _context().database() as (_, conn):
            result = migrate(conn)
        if result.applied:
            for name in result.applied:
                console.print(f"applied {name}")
        console.print(
            f"schema up to date ({result.variant} PostgreSQL; "
            f"{result.already + len(result.applied)} migrations, {len(result.applied)} new)"
        )

    _run(body)


@db_app.command("status")
def db_status() -> None:
    """List applied and pending migrations, the server and whether TimescaleDB is used."""

    def body() -> None:
        from scalper.adapters.store import redact_url
        from scalper.adapters.store.migrations import (
            applied_migrations,
            choose_variant,
            discover,
            timescale_usable,
        )

        with _context().database() as (url, conn):
            applied = applied_migrations(conn)
            timescale = timescale_usable(conn)
            version = conn.execute("SHOW server_version").fetchone()
        variant = choose_variant(applied, timescale)
        done = {m.version for m in applied}
        table = Table("version", "name", "variant", "applied at", title="schema migrations")
        for m in applied:
            table.add_row(f"{m.version:04d}", m.name, m.variant or "-", str(m.applied_at))
        for f in discover():
            if f.version not in done and f.variant in (None, variant):
                table.add_row(f"{f.version:04d}", f.name, f.variant or "-", "[yellow]pending[/]")
        console.print(
            f"database: {redact_url(url)} (PostgreSQL {version[0] if version else '?'}, "
            f"TimescaleDB {'usable' if timescale else 'not available'})",
            highlight=False,
        )
        console.print(table)

    _run(body)


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration as JSON; secrets are shown only as set / not set."""

    def body() -> None:
        from scalper.adapters.store import redact_url

        ctx = _context()
        data = ctx.config.model_dump(mode="json")
        if data["database"]["url"]:
            data["database"]["url"] = redact_url(data["database"]["url"])
        data["secrets"] = {k: ("set" if v else "not set") for k, v in ctx.secrets.present().items()}
        console.print_json(json.dumps(data))

    _run(body)


@app.command("demo")
def demo(
    sessions: Annotated[int, typer.Option(help="Synthetic sessions to generate.", min=1, max=60)] = 3,
    start: Annotated[str, typer.Option(help="First session date (YYYY-MM-DD); holidays are skipped.")] = "2025-11-25",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 7,
) -> None:
    """Run the demo offline: database (embedded by default), migrations, synthetic sessions
    loaded through the bulk writer, and a report of what is stored and how long it took."""

    def body() -> None:
        from scalper.apps.demo import run_demo

        run_demo(_context(), console, start=parse_date("--start", start), sessions=sessions, seed=seed)

    _run(body)


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Directory to write into (created if missing).", file_okay=False)],
    start: Annotated[str, typer.Option(help="First session date (YYYY-MM-DD).")] = "2025-11-25",
    sessions: Annotated[int, typer.Option(help="Number of XNYS sessions.", min=1, max=2520)] = 3,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives byte-identical files.")] = 7,
    what: Annotated[str, typer.Option(help="Comma list of: flatfiles, events, snapshots.")] = "flatfiles,events",
) -> None:
    """Write a deterministic synthetic market in Polygon/Massive formats.

    flatfiles: OUT/flatfiles/{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz exactly as the S3 flat files;
    events: OUT/events/{market}/{date}.jsonl, one websocket frame (a JSON array) per line;
    snapshots: OUT/snapshots/options/{underlying}/{date}.json, REST options chain snapshots.
    """

    def body() -> None:
        from scalper.synthetic.writer import WHAT, write_synthetic

        parts = {p.strip() for p in what.split(",") if p.strip()}
        if not parts or parts - WHAT:
            raise ConfigError(f"--what: value {what!r} is invalid: expected a comma list of {sorted(WHAT)}")
        summary = write_synthetic(out, start=parse_date("--start", start), sessions=sessions, seed=seed, what=parts)
        table = Table("dataset", "rows / frames", title=f"synthetic market in {out}")
        for key, count in sorted(summary.counts.items()):
            table.add_row(key, f"{count:,}")
        console.print(table)
        console.print(
            f"{len(summary.sessions)} sessions ({summary.sessions[0]} … {summary.sessions[-1]}), "
            f"{len(summary.files)} files, {summary.elapsed_s:.1f} s"
        )

    _run(body)


@app.command("ingest")
def ingest(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).", min=0)
    ] = None,
    features: Annotated[
        bool, typer.Option("--features", help="Also run the feature engine and store its snapshots.")
    ] = False,
) -> None:
    """Capture the live feed into the database: SPX/NDX and SPY/QQQ, no trading.

    One websocket per cluster (only one process may hold each: the provider closes the older
    connection). Reconnects with backoff, treats a refused key as fatal, detects stalls during
    regular hours, and writes through the idempotent bulk writer. Point feed.ws_url at a local
    `scalper replay-server` to capture the synthetic market offline. With --features the
    feature engine (warmed up from the stored seconds) runs on the captured events and stores a
    snapshot per symbol every [features] snapshot_every_s seconds in `features`.
    """

    def body() -> None:
        from scalper.apps.ingest import run_ingest

        try:
            report = run_ingest(_context(), duration, features=features)
        except KeyboardInterrupt:
            console.print("stopped")
            return
        if report.interrupted:
            console.print("stopped")
        stats = report.pipeline.stats
        table = Table("figure", "value", title="capture")
        for kind, n in sorted(stats.events.items()):
            table.add_row(f"events {kind}", f"{n:,}")
        for name, n in sorted(stats.rows_written.items()):
            table.add_row(f"rows written {name}", f"{n:,}")
        table.add_row("parse errors", f"{stats.parse_errors:,}")
        for market, client in report.clients.items():
            table.add_row(f"reconnects {market}", ", ".join(f"{k}: {v}" for k, v in client.reconnects.items()) or "0")
        table.add_row("gaps seen / repaired", f"{len(report.pipeline.gaps)} / {stats.gaps_repaired}")
        table.add_row("seconds backfilled", f"{stats.rows_repaired:,}")
        if report.features is not None:
            live = report.features
            table.add_row("events dropped before the engine", f"{stats.engine_dropped:,}")
            table.add_row("feature events applied", f"{live.events:,}")
            table.add_row("feature snapshots stored", f"{live.snapshots_written:,}")
            refused = ", ".join(f"{k}: {v:,}" for k, v in sorted(live.engine.refused.items()))
            table.add_row("feature events refused", refused or "0")
            if live.sequencer is not None:
                table.add_row("feature events late", f"{live.sequencer.late:,}")
        console.print(table)

    _run(body)


@app.command("run")
def run(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).", min=0)
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live", help="Send real orders (needs broker.kind = 'alpaca' and APCA_API_KEY_ID/APCA_API_SECRET_KEY)."
        ),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(help="The run to start or take over (default: {paper|live}-{broker}-{date}).", min=1),
    ] = None,
) -> None:
    """Trade: the live feed, the trading engine and the broker in one process. Paper by default.

    Captures the feed as `scalper ingest` does and runs the four plays through the same engine
    as a backtest (features, session policy, risk, order management). Every signal, order,
    transition and fill is stored under the run id. A restart with the same run id resumes the
    run: the stored book is reloaded, the broker reconciled, no order placed twice. Point
    feed.ws_url at `scalper replay-server --timeline live` to trade a synthetic session offline.
    """

    def body() -> None:
        from scalper.apps.run import run_trading

        try:
            report = run_trading(_context(), duration, live=live, run_id=run_id)
        except KeyboardInterrupt:
            console.print("stopped")
            return
        if report.interrupted:
            console.print("stopped")
        console.print(run_summary(report))

    _run(body)


def run_summary(report: Any) -> Table:
    """The closing table of `scalper run`."""
    table = Table("figure", "value", title=f"run {report.run_id} ({report.kind}, {report.broker})")
    for line in report.resumed:
        table.add_row("resumed", line)
    for line in report.discrepancies:
        table.add_row("reconciliation", line)
    trading = report.trading
    if trading is not None:
        trader = trading.trader
        table.add_row("events to the engine", f"{trading.events:,}")
        table.add_row("stored events warmed up on", f"{trading.warmed_up or 0:,}")
        entries = [r for r in trader.signals if r.kind == "enter"]
        table.add_row(
            "entry signals (taken / refused)",
            f"{sum(r.accepted for r in entries)} / {sum(not r.accepted for r in entries)}",
        )
        fills = trader.book.fills()
        table.add_row("fills", f"{len(fills)}")
        for symbol, position in sorted(trader.positions().items()):
            table.add_row(f"position {symbol}", f"{position.qty:+g} (realised {position.realised_pnl:+.2f} $)")
        trips = ", ".join(t.code for t in trader.kill_switch.trips) or "none"
        table.add_row("kill switch trips", trips)
        for play in sorted(trader.plays):
            skips = sorted(((n, code) for (name, code), n in trader.skips.items() if name == play), reverse=True)
            table.add_row(f"{play} skipped", ", ".join(f"{code} {n:,}" for n, code in skips[:4]) or "0")
            if skips:
                table.add_row("", f"latest {skips[0][1]}: {trader.skip_texts[(play, skips[0][1])]}")
    latency = report.latency_us()
    if latency is not None:
        table.add_row(
            "event-to-decision (index bars)",
            f"p50 {latency['p50_us']} µs, p99 {latency['p99_us']} µs, max {latency['max_us']} µs "
            f"over {int(latency['events']):,}",
        )
    if trading is not None and trading.sequencer is not None:
        table.add_row("events late (applied out of replay order)", f"{trading.sequencer.late:,}")
    if report.journal is not None:
        table.add_row("journal records waiting", f"{report.journal.waiting}")
    return table


@app.command("backtest")
def backtest(
    first: Annotated[str, typer.Option("--from", help="First session (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last session (YYYY-MM-DD), inclusive.")],
    plays: Annotated[
        str | None, typer.Option(help="Comma list of plays (default: every play of the thresholds file).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Id to store the run under (default: backtest-FROM-TO-TIME); must be new.")
    ] = None,
    parquet: Annotated[
        Path | None,
        typer.Option(help="Read the seconds from this `scalper export` folder instead of the database."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Folder for report.html, trades.csv and summary.json (default: reports/RUN_ID)."),
    ] = None,
    resolution: Annotated[
        str,
        typer.Option(
            help="second: the stored one-second aggregates; minute: the stored minute bars (history with "
            "minute data only: features built from minute bars, decisions and fills on minute bars)."
        ),
    ] = "second",
) -> None:
    """Replay the stored one-second data through the trading engine and the simulated broker.

    The same engine, session policy and journal as `scalper run`, on the replay clock: features
    warmed up on the sessions before --from, each session's seconds in the order the live runner
    applies them. Signals, orders, transitions and fills are stored under the run id (kind
    backtest). Same data and thresholds give the same trades.
    """

    def body() -> None:
        import datetime as dt

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from scalper.adapters.store.migrations import migrate
        from scalper.apps.backtest import (
            evidence_table,
            regime_labels,
            run_backtest,
            segment_tables,
            sessions_between,
            write_backtest_report,
        )
        from scalper.apps.paper import trades_table
        from scalper.strategy.thresholds import load_thresholds

        start, end = parse_date("--from", first), parse_date("--to", last)
        if resolution not in ("second", "minute"):
            raise ConfigError(f"--resolution: expected 'second' or 'minute', was {resolution!r}")
        names = [p.strip() for p in plays.split(",") if p.strip()] if plays else None
        rid = run_id or f"backtest-{start}-{end}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        ctx = _context()
        total = len(sessions_between(start, end))
        with (
            ctx.database() as (url, conn),
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
            ) as bar,
        ):
            migrate(conn)
            task = bar.add_task("sessions", total=total)

            def step(day: dt.date, events: int, done: int) -> None:
                bar.update(task, completed=done, description=f"{day} ({events:,} events)")

            result = run_backtest(
                url,
                ctx.config,
                load_thresholds(),
                first=start,
                last=end,
                run_id=rid,
                plays=names,
                progress=step,
                parquet=parquet,
                resolution="minute" if resolution == "minute" else "second",
            )
            labels = regime_labels(conn, ctx.config.feed.index_symbols)
        paths = write_backtest_report(
            result, labels, report or Path("reports") / result.run_id, equity=ctx.config.broker.paper_equity
        )
        console.print(trades_table(result.trader, result.run_id))
        for segment_table in segment_tables(result, labels):
            console.print(segment_table)
        evidence = evidence_table(result)
        if evidence is not None:
            console.print(evidence)
        table = Table("figure", "value", title=f"backtest {result.run_id}")
        table.add_row("sessions", f"{len(result.sessions)} ({result.sessions[0]} to {result.sessions[-1]})")
        table.add_row("resolution", resolution)
        table.add_row("events replayed", f"{result.events:,} ({result.events / result.seconds:,.0f}/s)")
        table.add_row("stored events warmed up on", f"{result.warmed_up:,}")
        entries = [r for r in result.trader.signals if r.kind == "enter"]
        table.add_row(
            "entry signals (taken / refused)",
            f"{sum(r.accepted for r in entries)} / {sum(not r.accepted for r in entries)}",
        )
        table.add_row("fills", f"{len(result.trader.book.fills())}")
        table.add_row("closed trades / still open", f"{len(result.trips)} / {result.still_open}")
        table.add_row("stored as run", result.run_id)
        table.add_row("report", str(paths.html.resolve()))
        table.add_row("trades, summary", f"{paths.trades_csv}, {paths.summary_json}")
        console.print(table)

    _run(body)


@app.command("export")
def export(
    first: Annotated[str, typer.Option("--from", help="First session (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last session (YYYY-MM-DD), inclusive.")],
    out: Annotated[Path, typer.Option(help="Folder to write OUT/agg_1s/YYYY-MM-DD.parquet into.")],
) -> None:
    """Export the stored one-second aggregates of the configured symbols as Parquet, one file a day.

    `scalper backtest --parquet OUT` replays them (include the sessions before --from that the
    features warm up on: features.seed_sessions).
    """

    def body() -> None:
        from scalper.adapters.parquet_seconds import export_seconds
        from scalper.apps.backtest import sessions_between

        start, end = parse_date("--from", first), parse_date("--to", last)
        ctx = _context()
        symbols = [*ctx.config.feed.index_symbols, *ctx.config.feed.proxy_symbols]
        with ctx.database() as (_, conn):
            written = export_seconds(conn, symbols, sessions_between(start, end), out)
        table = Table("session", "seconds", "file", title=f"exported to {out}")
        for item in written:
            table.add_row(str(item.day), f"{item.rows:,}", str(item.path))
        console.print(table if written else f"no stored seconds between {start} and {end}")

    _run(body)


@app.command("tune")
def tune(
    first: Annotated[str, typer.Option("--from", help="First session (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last session (YYYY-MM-DD), inclusive.")],
    grid: Annotated[
        list[str], typer.Option(help="PLAY.key=v1,v2,... (repeatable): the values to try; every combination is run.")
    ],
    train: Annotated[int, typer.Option(help="Sessions a set is chosen on.", min=1)] = 20,
    test: Annotated[int, typer.Option(help="Sessions the chosen set is then evaluated on.", min=1)] = 5,
    anchored: Annotated[
        bool, typer.Option(help="Train on every session since --from (else a rolling window).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="The result file (default: tune-TIME.json).")] = None,
) -> None:
    """Walk-forward threshold iteration: backtest every combination of the grid, choose on each
    training window, report only the following out-of-sample sessions, with the probability of
    backtest overfitting and the deflated Sharpe ratio. `scalper thresholds apply FILE` then
    writes the proposal (the set chosen on the last fold) as a new thresholds version.
    """

    def body() -> None:
        import datetime as dt

        from scalper.adapters.store.migrations import migrate
        from scalper.apps.backtest import run_backtest, sessions_between
        from scalper.apps.tune import parse_grid, run_tune
        from scalper.strategy.thresholds import load_thresholds

        start, end = parse_date("--from", first), parse_date("--to", last)
        ctx = _context()
        thresholds = load_thresholds()
        axes = parse_grid(grid, thresholds)
        plays = sorted({a.play for a in axes})
        days = sessions_between(start, end)
        stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        with ctx.database() as (url, conn):
            migrate(conn)

            def backtest(variant: Any, run_id: str) -> Any:
                report = run_backtest(url, ctx.config, variant, first=start, last=end, run_id=run_id, plays=plays)
                return report.trips

            def step(done: int, total: int, label: str) -> None:
                err_console.print(f"set {done}/{total} backtested: {label}", highlight=False)

            result = run_tune(
                backtest, thresholds, axes, days, train=train, test=test, anchored=anchored, stamp=stamp, progress=step
            )
        path = out or Path(f"tune-{stamp}.json")
        path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        e = result["evidence"]
        table = Table("fold", "train", "test", "chosen", title="walk-forward (out-of-sample only)")
        for f in result["folds"]:
            table.add_row(str(f["fold"]), " to ".join(f["train"]), " to ".join(f["test"]), f["label"])
        console.print(table)
        console.print(
            f"out-of-sample: {e['oos_sessions']} sessions, total {e['oos_total_pnl']:+.2f} $, "
            f"deflated Sharpe {e.get('oos_deflated_sharpe')}, PBO {e.get('pbo')} over {len(result['sets'])} sets; "
            f"proposal: {result['sets'][result['proposal']]['label']}\nresult: {path}",
            highlight=False,
        )

    _run(body)


@thresholds_app.command("apply")
def thresholds_apply(
    result_file: Annotated[Path, typer.Argument(help="A `scalper tune` result file.")],
    thresholds: Annotated[
        Path | None, typer.Option(help="The thresholds file to update (default: the packaged one).")
    ] = None,
    progress: Annotated[Path, typer.Option(help="The progress log to append the entry to.")] = Path("docs/PROGRESS.md"),
) -> None:
    """Write a tune's proposal into the thresholds file as a new version, and record the change
    (old → new values, the out-of-sample evidence) in the progress log."""

    def body() -> None:
        import datetime as dt

        import scalper.strategy
        from scalper.apps.tune import apply_result

        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"tune result {result_file}: cannot be read: {exc}") from None
        path = thresholds or Path(scalper.strategy.__file__).parent / "thresholds.toml"
        old, new = apply_result(result, path, progress, dt.datetime.now(dt.UTC).date())
        console.print(f"thresholds {old} → {new} written to {path}; entry added to {progress}", highlight=False)

    _run(body)


@app.command("replay-server")
def replay_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for ws://HOST:PORT/{indices,stocks,options}.", min=0)] = 8765,
    speed: Annotated[
        float, typer.Option(help="1 = real time, N = N times faster, 0 = as fast as possible.", min=0)
    ] = 1.0,
    api_key: Annotated[str | None, typer.Option(help="Key to accept; default: any non-empty key.")] = None,
    start: Annotated[str, typer.Option(help="First session served (YYYY-MM-DD).")] = "2025-11-25",
    sessions: Annotated[int, typer.Option(help="Sessions to serve, from --start.", min=1)] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 7,
    timeline: Annotated[
        str,
        typer.Option(
            help="replay: each connection replays from the first session; live: one market clock running from "
            "server start, a client gets only what is sent while it is subscribed (backfill over REST)."
        ),
    ] = "replay",
    anchor_epoch_ns: Annotated[
        int | None,
        typer.Option(
            help="Live timeline: Unix time (ns) at which the first session's open goes out (may be in the past: "
            "what the market already passed is never sent). A server restarted with the same value resumes "
            "where the market is. Default: the market starts when the server does."
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            help="synthetic: the generated market (--seed); db: the sessions recorded in the configured "
            "database (seconds, minute bars, trades, one NBBO per second), from --start."
        ),
    ] = "synthetic",
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="A fault to inject, NAME=VALUE (repeatable), e.g. malformed_every=50, drop_after_frames=1000, "
            "max_connections_after_frames=500, pause_after_frames=100 with pause_s=20, duplicate_every=30, "
            "correct_every=25, slow_consumer_queue=1000, rest_rate_limit_after=10, rest_forbidden=true."
        ),
    ] = None,
) -> None:
    """Serve a synthetic or recorded market over the exact Polygon/Massive protocol.

    Handshake, auth, per-topic subscribe acks and JSON-array frames with millisecond timestamps,
    as the real service, plus REST aggregates on the same port; by default each connection
    replays from the first session (--timeline live: one shared market clock). Stop with Ctrl-C.
    """

    def body() -> None:
        import asyncio
        import contextlib
        import functools

        from scalper.adapters.polygon.replay_server import serve
        from scalper.adapters.store import connect

        if source not in ("synthetic", "db"):
            raise ConfigError(f"--source: value {source!r} is invalid: expected synthetic or db")
        with contextlib.ExitStack() as stack:
            recorded = None
            if source == "db":
                ctx = _context()
                url, _ = stack.enter_context(ctx.database())
                recorded = functools.partial(connect, url, timeout_s=ctx.config.database.connect_timeout_s)
            coro = serve(
                host,
                port,
                speed=speed,
                api_key=api_key,
                start=parse_date("--start", start),
                sessions=sessions,
                seed=seed,
                timeline=timeline,
                anchor_epoch_ns=anchor_epoch_ns,
                recorded=recorded,
                faults=_faults(fault or []),
            )
            console.print(f"replay server on ws://{host}:{port}/{{indices,stocks,options}} (Ctrl-C stops)")
            try:
                asyncio.run(coro)
            except KeyboardInterrupt:
                console.print("stopped")

    _run(body)


@app.command("backfill")
def backfill(
    first: Annotated[str, typer.Option("--from", help="First session (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last session (YYYY-MM-DD), inclusive.")],
    datasets: Annotated[
        str | None,
        typer.Option(help="Comma list of datasets, e.g. us_indices/values_v1 (default: flatfiles.datasets)."),
    ] = None,
) -> None:
    """Load flat-file history (S3 or flatfiles.local_dir) for every session in a date range.

    Holidays have no files and are skipped. Each file is loaded once: a rerun skips what the
    manifest says is loaded, a republished file (new ETag) replaces its day, and a file that
    fails is reported (and recorded) while the others load. Exits 1 if any file failed.
    """

    def body() -> None:
        from scalper.apps.backfill import run_backfill

        names = _datasets(datasets)
        results = run_backfill(
            _context(), console, first=parse_date("--from", first), last=parse_date("--to", last), datasets=names
        )
        _print_files(results, f"backfill {first} … {last}")

    _run(body)


@app.command("sync")
def sync(
    datasets: Annotated[str | None, typer.Option(help="Comma list of datasets (default: flatfiles.datasets).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Pretend today is this date (YYYY-MM-DD); default: today in New York.")
    ] = None,
) -> None:
    """Load the most recent published session's flat files (files appear about 11:00 ET the next day)."""

    def body() -> None:
        from scalper.apps.backfill import run_sync

        today = parse_date("--as-of", as_of) if as_of else None
        results = run_sync(_context(), console, today=today, datasets=_datasets(datasets))
        _print_files(results, "sync")

    _run(body)


def _datasets(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def _print_files(results: Any, title: str) -> None:
    from scalper.apps.backfill import summary_table

    console.print(summary_table(results, title))
    failed = [r for r in results if r.outcome == "failed"]
    for r in failed:
        err_console.print(f"[bold red]failed:[/] {r.error}", markup=True, highlight=False)
    if failed:
        raise typer.Exit(1)


def _faults(items: list[str]) -> Any:
    """``--fault NAME=VALUE`` options as the replay server's Faults (each value checked by Faults itself)."""
    import dataclasses

    from scalper.adapters.polygon import Faults

    kinds = {f.name: f.type for f in dataclasses.fields(Faults)}
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in kinds:
            raise ConfigError(f"--fault: {item!r} is invalid: expected NAME=VALUE with NAME one of {sorted(kinds)}")
        try:
            if "bool" in str(kinds[name]):
                if text.strip().lower() not in ("true", "false"):
                    raise ValueError(text)
                values[name] = text.strip().lower() == "true"
            elif "float" in str(kinds[name]):
                values[name] = float(text)
            else:
                values[name] = int(text)
        except ValueError:
            raise ConfigError(f"--fault: {item!r} is invalid: {name} expects a {kinds[name]}") from None
    return Faults(**values)


@app.command("scheduler")
def scheduler(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit (1 if a job failed).")] = False,
    show: Annotated[
        bool, typer.Option("--list", help="Show every job's schedule and its last runs, then exit.")
    ] = False,
    now: Annotated[
        str | None, typer.Option(help="With --once or --list: pretend it is this time (ISO; no offset = New York).")
    ] = None,
    poll: Annotated[
        float | None, typer.Option(help="Seconds between looks (default: scheduler.poll_s).", min=1)
    ] = None,
) -> None:
    """Run the maintenance jobs on their New York schedule: flatfile_sync, retention, vacuum,
    calendar_check, tune_report (see docs/SCHEDULER.md).

    Every run is recorded in job_runs and never repeated; runs missed while stopped are caught up
    (each missed one, or only the latest for idempotent jobs); a failed job raises a job_failed
    alert and the others still run. One scheduler per database (an advisory lock): a second one
    exits with an error. Runs until Ctrl-C or SIGTERM.
    """

    def body() -> None:
        from scalper.apps.scheduler import parse_now, scheduler_command

        at = parse_now(now) if now is not None else None
        ok = scheduler_command(_context(), console, once=once, show=show, now=at, poll_s=poll)
        if not ok:
            raise typer.Exit(1)

    _run(body)


@app.command("bench")
def bench(
    name: Annotated[
        str,
        typer.Argument(help="Benchmark to run: writer, feed, flatfiles, features, gex, decision, reference or replay."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
    rows: Annotated[int, typer.Option(help="Rows to write (writer).", min=1000)] = 1_000_000,
    megabytes: Annotated[
        int, typer.Option(help="Uncompressed size of the synthetic trades file (flatfiles).", min=10)
    ] = 2100,
    sessions: Annotated[
        int | None,
        typer.Option(
            help="Sessions of one-second data (features: 10 synthetic; reference: 43 reference days; replay: 252).",
            min=1,
        ),
    ] = None,
    seconds: Annotated[float, typer.Option(help="Wall seconds of the paper session (decision).", min=5)] = 60.0,
) -> None:
    """Run a benchmark and print its figures (a table, or JSON lines with --json).

    writer: the bulk writer against a raw binary COPY into the same indexed table, on the
    configured (or embedded) database. Keys: name, rows, rows_per_s (new rows, append path),
    copy_rows_per_s, ratio, upsert_rows_per_s and upsert_ratio (every row rewritten).

    feed: a replay server (own process) at full speed → websocket consumer → database (a
    scratch database, dropped after). Keys: name, events, events_per_s, lost, and p99_ms_at_2k
    (frame receipt to engine dequeue, server paced at ~2,000 events/s).

    flatfiles: a synthetic trades flat file (--megabytes uncompressed, many tickers) loaded by
    the backfill (SPY/QQQ seconds and trades) into a scratch database, against a raw binary
    COPY of the same trades. Keys: name, rows, parse_rows_per_s (decompress + parse + ticker
    filter), load_rows_per_s (the whole backfill), copy_rows_per_s, load_ratio, peak_rss_mb.

    features: every feature over --sessions synthetic sessions of SPX, SPY, NDX and QQQ
    seconds, no database. Keys: name, events, events_per_s (replay, one thread, a snapshot
    after every event), live_p50_us / live_p99_us / live_max_us (one live update call),
    state_bytes_per_symbol, compile_s.

    gex: dealer gamma profile, walls and zero-gamma level of a generated 5,000-contract chain on
    a 200-point spot grid, no database. Keys: name, contracts, grid, ms (median of 21 runs),
    min_ms, zero_gamma.

    decision: a `scalper run` paper session of --seconds wall seconds on an embedded database of
    its own (synthetic history) against the replay server (own process, live timeline, 300x).
    Keys: name, events (index bars: the decisions), p50_us, p99_us, max_us (event taken by the
    engine to decision returned, orders recorded and sent included), signals, fills, engine_events.

    reference: the reference workload (--sessions days of one-second bars, 43: 1,006,200 bars;
    EMA(30)/EMA(120) cross, next-open fills, no costs) in scalper's engine (compiled strategy scan,
    order book, simulated broker) and in backtrader in the same run (needs the development
    extras). Keys: name, bars, events_per_s, fills, units, position, pnl, backtrader_events_per_s,
    backtrader_fills, backtrader_pnl, ratio, agree, compile_s.

    replay: the whole pipeline (features, the four plays, the session policy per minute from the
    shipped calendar, kill switch, sizing, brackets, simulated broker) over --sessions synthetic
    sessions (252: a year) of SPX, SPY, NDX and QQQ seconds, no database. Keys: name, events,
    events_per_s, sessions, signals, entries, fills, compiled_events, python_events, generate_s,
    compile_s.
    """

    def body() -> None:
        from scalper.adapters.store.migrations import migrate

        names = ("writer", "feed", "flatfiles", "features", "gex", "decision", "reference", "replay")
        if name not in names:
            raise ConfigError(f"unknown benchmark {name!r}; expected one of: {', '.join(names)}")
        if name == "decision":
            from scalper.bench import decision

            _print_result(decision.run(seconds=seconds), as_json)
            return
        if name == "replay":
            from scalper.bench import replay

            _print_result(replay.run(sessions=sessions or 252), as_json)
            return
        if name == "reference":
            from scalper.bench import reference

            _print_result(reference.run(days=sessions or 43), as_json)
            return
        if name == "gex":
            from scalper.bench import gex

            _print_result(gex.run(), as_json)
            return
        if name == "features":
            from scalper.bench import features

            _print_result(features.run(sessions=sessions or 10), as_json)
            return
        from scalper.bench import feed, writer

        with _context().database() as (url, conn):
            migrate(conn)
            if name == "flatfiles":
                from scalper.bench import flatfiles

                result = flatfiles.run(url, megabytes=megabytes)
            else:
                result = writer.run(conn, rows=rows) if name == "writer" else feed.run(url)
        _print_result(result, as_json)

    _run(body)


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    table = Table("figure", "value", title=f"bench {result['name']}")
    for key, value in result.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
