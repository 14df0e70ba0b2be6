"""``scalper regime``: daily labels, the morning score and its walk-forward report.

Commands load the context lazily and call one job of :mod:`scalper.regime.service`; the demo
step :func:`regime_demo` writes a synthetic minute-bar history and prints the report over it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalper.apps.arguments import parse_date

if TYPE_CHECKING:
    import psycopg

    from scalper.regime.service import LabelResult, ReportResult, Score

regime_app = typer.Typer(
    help="Daily regime: label finished sessions, score mornings, report the walk-forward accuracy.",
    no_args_is_help=True,
)
console = Console()

SymbolOption = Annotated[
    list[str] | None, typer.Option("--symbol", help="Symbol (repeatable); default I:SPX and I:NDX.")
]
CheckpointOption = Annotated[
    list[str] | None, typer.Option("--checkpoint", help="HH:MM New York time (repeatable); default 10:00 and 10:30.")
]
FromOption = Annotated[str | None, typer.Option("--from", help="First session (YYYY-MM-DD); default the first stored.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Last session (YYYY-MM-DD); default the last stored.")]


def _run(action: Callable[[], None]) -> None:
    from scalper.apps.cli import _run as run

    run(action)


@contextlib.contextmanager
def _database() -> Iterator[psycopg.Connection[Any]]:
    """The configured database's connection, migrated (the regime tables come with 0007)."""
    from scalper.adapters.store.migrations import migrate
    from scalper.apps.cli import _context

    with _context().database() as (_, conn):
        migrate(conn)
        yield conn


def _checkpoints(values: list[str] | None) -> tuple[str, ...]:
    from scalper.regime.morning import parse_checkpoint
    from scalper.regime.service import DEFAULT_CHECKPOINTS

    cps = tuple(values or DEFAULT_CHECKPOINTS)
    for cp in cps:
        parse_checkpoint(cp)
    return cps


@regime_app.command("label")
def label(symbol: SymbolOption = None, first: FromOption = None, last: ToOption = None) -> None:
    """Label every stored session (or --from/--to): trend_up / trend_down / balanced and the
    Market Profile day type, stored in `regimes` (kind 'label'); unusable sessions are stored
    with the reason and listed."""

    def body() -> None:
        from scalper.regime.service import DEFAULT_SYMBOLS, Settings, run_label

        with _database() as conn:
            results = [
                run_label(conn, s, parse_date("--from", first), parse_date("--to", last), Settings())
                for s in symbol or DEFAULT_SYMBOLS
            ]
        print_labels(console, results)

    _run(body)


@regime_app.command("score")
def score(
    day: Annotated[list[str], typer.Option("--date", help="Session to score (repeatable).")],
    symbol: SymbolOption = None,
    checkpoint: CheckpointOption = None,
) -> None:
    """Score sessions at the checkpoints with a model fitted on the labelled sessions before each
    one; stores the scores in `regimes` (kind 'score@HH:MM') and prints probabilities and inputs."""

    def body() -> None:
        from scalper.regime.service import DEFAULT_SYMBOLS, Settings, run_score

        days = [d for d in (parse_date("--date", t) for t in day) if d is not None]
        cps = _checkpoints(checkpoint)
        with _database() as conn:
            scores = [x for s in symbol or DEFAULT_SYMBOLS for x in run_score(conn, s, days, cps, Settings())]
        print_scores(console, scores)

    _run(body)


@regime_app.command("report")
def report(
    symbol: SymbolOption = None,
    checkpoint: CheckpointOption = None,
    first: FromOption = None,
    last: ToOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per symbol and checkpoint.")] = False,
) -> None:
    """Walk-forward evaluation of the morning score (expanding window, refitted every 20
    sessions after the first 60): confusion matrix, accuracy against the majority-class
    baseline, Brier score against climatology, n. Stored with the model version."""

    def body() -> None:
        from scalper.regime.service import DEFAULT_SYMBOLS, Settings, run_report

        cps = _checkpoints(checkpoint)
        with _database() as conn:
            results = [
                r
                for s in symbol or DEFAULT_SYMBOLS
                for r in run_report(conn, s, cps, parse_date("--from", first), parse_date("--to", last), Settings())
            ]
        if as_json:
            for r in results:
                sys.stdout.write(json.dumps(r.to_json()) + "\n")
        else:
            print_report(console, results)

    _run(body)


def print_labels(out: Console, results: Sequence[LabelResult]) -> None:
    table = Table(
        "symbol",
        "sessions",
        "trend_up",
        "trend_down",
        "balanced",
        "day types",
        "skipped",
        "version",
        title="daily labels",
    )
    for r in results:
        labels = Counter(x.label for x in r.labels)
        types = Counter(x.day_type for x in r.labels)
        table.add_row(
            r.symbol,
            str(len(r.labels)),
            str(labels["trend_up"]),
            str(labels["trend_down"]),
            str(labels["balanced"]),
            ", ".join(f"{k} {v}" for k, v in sorted(types.items())),
            str(len(r.skips)),
            r.version,
        )
    out.print(table)
    for r in results:
        reasons = Counter(re.sub(r"\d+", "N", k.reason.split(": ", 1)[-1]) for k in r.skips)
        for reason, n in reasons.most_common(5):
            out.print(f"{r.symbol}: {n} session(s) skipped: {reason}", highlight=False)


def print_scores(out: Console, scores: Sequence[Score]) -> None:
    table = Table(
        "symbol",
        "session",
        "at",
        "P(trend_up)",
        "P(trend_down)",
        "P(balanced)",
        "inputs",
        "trained on",
        title="morning regime score",
    )
    for s in scores:
        p = s.probabilities
        shown = ", ".join(f"{k} {v:.2f}" for k, v in s.inputs.values.items() if v is not None)
        table.add_row(
            s.inputs.symbol,
            str(s.inputs.day),
            s.inputs.checkpoint,
            f"{p['trend_up']:.2f}",
            f"{p['trend_down']:.2f}",
            f"{p['balanced']:.2f}",
            shown,
            f"{s.n_train} sessions",
        )
    out.print(table)


def print_report(out: Console, results: Sequence[ReportResult]) -> None:
    for r in results:
        e = r.evaluation
        table = Table(
            "actual \\ predicted",
            *e.classes,
            "n",
            title=f"{r.symbol} @ {r.checkpoint} walk-forward {e.first_day} … {e.last_day} ({r.version})",
        )
        for name, row in zip(e.classes, e.confusion, strict=True):
            table.add_row(name, *map(str, row), str(sum(row)))
        out.print(table)
        out.print(
            f"accuracy {e.accuracy:.3f} vs majority-class baseline {e.baseline_accuracy:.3f} ({e.baseline_class}); "
            f"Brier {e.brier:.3f} vs climatology {e.climatology_brier:.3f}; n {e.n}, {e.refits} refits, "
            f"{r.skipped} sessions skipped",
            highlight=False,
        )
        out.print(f"inputs: {', '.join(r.inputs)}", highlight=False)


def _write_history(conn: psycopg.Connection[Any], start: dt.date, sessions: int, seed: int) -> int:
    """Synthetic minute bars of the four symbols into ``bars`` (the index paths do not depend on
    the trade rates, so a low rate gives the same SPX/NDX at a fraction of the cost)."""
    import numpy as np

    from scalper.adapters.store.tables import BARS
    from scalper.adapters.store.writer import BulkWriter
    from scalper.synthetic import columns
    from scalper.synthetic.market import MarketConfig, generate_market_days

    config = MarketConfig(trades_per_second=0.5, quotes_per_second=0.5)
    writer, batch, rows = BulkWriter(conn), [], 0
    for i, day in enumerate(generate_market_days(start, sessions, seed, config), 1):
        b = columns.bars(day)
        minute = b["timeframe"] == "1m"
        batch.append({k: v[minute] for k, v in b.items()})
        if len(batch) == 50 or i == sessions:
            rows += writer.write(BARS, {k: np.concatenate([p[k] for p in batch]) for k in batch[0]}).rows_in
            batch = []
    return rows


def regime_demo(
    conn: psycopg.Connection[Any],
    out: Console,
    *,
    end: dt.date = dt.date(2025, 11, 25),
    sessions: int = 300,
    seed: int = 7,
) -> list[ReportResult]:
    """Write ``sessions`` synthetic sessions ending before ``end``, label them and print the walk-forward report."""
    from scalper.adapters.store.migrations import migrate
    from scalper.regime.service import DEFAULT_CHECKPOINTS, DEFAULT_SYMBOLS, Settings, run_label, run_report
    from scalper.regime.store import sessions_before

    migrate(conn)
    start = sessions_before(end, sessions)
    last = end - dt.timedelta(days=1)
    began = time.perf_counter()
    rows = _write_history(conn, start, sessions, seed)
    written = time.perf_counter()
    labels = [run_label(conn, s, start, last, Settings()) for s in DEFAULT_SYMBOLS]
    results = [r for s in DEFAULT_SYMBOLS for r in run_report(conn, s, DEFAULT_CHECKPOINTS, start, last, Settings())]
    out.print(
        f"regime history: {sessions} synthetic sessions {start} … {last}, {rows:,} minute bars "
        f"written in {written - began:.1f} s; labelled and evaluated in {time.perf_counter() - written:.1f} s",
        highlight=False,
    )
    print_labels(out, labels)
    print_report(out, results)
    return results
