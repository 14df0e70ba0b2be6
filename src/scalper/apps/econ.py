"""``scalper calendar``: the economic calendar (high-impact releases) in ``econ_events``.

``load`` stores the snapshot shipped in the package; ``refresh --ics FILE`` stores a publisher's
.ics (e.g. the BLS release calendar); ``show`` lists events and the calendar's staleness. Every
command first loads the shipped snapshot when the table is empty.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalper.apps.arguments import parse_date

if TYPE_CHECKING:
    import psycopg

    from scalper.econ.store import UpsertResult

calendar_app = typer.Typer(
    help="Economic calendar: load the shipped snapshot, refresh from an .ics file, show events and staleness.",
    no_args_is_help=True,
)
console = Console()

TodayOption = Annotated[
    str | None, typer.Option("--today", help="Pretend today is this date (YYYY-MM-DD); default: today in New York.")
]


def _run(action: Callable[[], None]) -> None:
    from scalper.apps.cli import _run as run

    run(action)


@contextlib.contextmanager
def _database() -> Iterator[psycopg.Connection[Any]]:
    """The configured database, migrated, with the shipped snapshot loaded when the table is empty."""
    from scalper.adapters.store.migrations import migrate
    from scalper.apps.cli import _context
    from scalper.econ.store import ensure_loaded

    with _context().database() as (_, conn):
        migrate(conn)
        loaded = ensure_loaded(conn)
        if loaded is not None:
            console.print(f"econ_events was empty: loaded the shipped snapshot ({len(loaded.added)} events)")
        yield conn


def _today(text: str | None) -> dt.date:
    from scalper.core.clock import LiveClock
    from scalper.core.timeutil import NEW_YORK

    if text is not None:
        return parse_date("--today", text)
    return dt.datetime.fromtimestamp(LiveClock().now_ns() / 1e9, tz=NEW_YORK).date()


@calendar_app.command("load")
def load() -> None:
    """Store the economic calendar snapshot shipped with scalper (idempotent)."""

    def body() -> None:
        from scalper.econ.snapshot import load_snapshot
        from scalper.econ.store import load_shipped

        with _database() as conn:
            result = load_shipped(conn)
        snap = load_snapshot()
        console.print(f"snapshot {snap.version} (retrieved {snap.retrieved_on}):", highlight=False)
        print_upsert(console, result)

    _run(body)


@calendar_app.command("refresh")
def refresh(
    ics: Annotated[Path, typer.Option("--ics", help="iCalendar file (e.g. BLS's bls.ics).", dir_okay=False)],
    source: Annotated[
        str | None, typer.Option(help="Where the file came from (URL); default: the file's path.")
    ] = None,
    retrieved_on: Annotated[
        str | None, typer.Option("--retrieved-on", help="Date the file was retrieved (YYYY-MM-DD); default: today.")
    ] = None,
) -> None:
    """Parse an .ics release calendar and upsert its high-impact events by UID; prints what was
    added and updated and how many events were skipped as not high-impact."""

    def body() -> None:
        from scalper.core.errors import ConfigError
        from scalper.econ.ics import parse_ics
        from scalper.econ.store import upsert_events

        try:
            text = ics.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--ics: {ics} cannot be read: {exc}") from None
        parsed = parse_ics(
            text,
            source=source or ics.resolve().as_uri(),
            retrieved_on=_today(retrieved_on),
            where=str(ics),
        )
        with _database() as conn:
            result = upsert_events(conn, parsed.events)
        print_upsert(console, result)
        console.print(
            f"{len(parsed.events)} high-impact events read; {len(parsed.skipped)} skipped as not high-impact; "
            f"{parsed.defaulted_time} whole-day events placed at their kind's usual time",
            highlight=False,
        )

    _run(body)


@calendar_app.command("show")
def show(
    first: Annotated[str | None, typer.Option("--from", help="First date (YYYY-MM-DD); default: today.")] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last date (YYYY-MM-DD); default: every later event.")
    ] = None,
    today: TodayOption = None,
) -> None:
    """List stored events (New York time) and whether the calendar is stale as of today."""

    def body() -> None:
        from scalper.econ.flags import staleness, xnys_sessions_from
        from scalper.econ.store import read_events
        from scalper.strategy.thresholds import load_thresholds

        day = _today(today)
        cal = load_thresholds().policy.calendar
        with _database() as conn:
            shown = read_events(conn, first=parse_date("--from", first) or day, last=parse_date("--to", last))
            every = read_events(conn)
        table = Table("date", "time (ET)", "kind", "name", "source", "retrieved", title="economic calendar")
        for e in shown:
            table.add_row(str(e.day), f"{e.local:%H:%M}", e.kind, e.name, e.source, str(e.retrieved_on))
        console.print(table)
        stale = staleness(
            every,
            day,
            xnys_sessions_from(day, cal.reduce_below_sessions),
            kinds=cal.required_kinds,
            reduce_below=cal.reduce_below_sessions,
            off_below=cal.off_below_sessions,
        )
        console.print(f"as of {day}: calendar {stale.level}: {stale.describe()}", highlight=False)

    _run(body)


def print_upsert(out: Console, result: UpsertResult) -> None:
    for e in result.added:
        out.print(f"added   {e.day} {e.local:%H:%M} {e.kind:<14} {e.name}  [{e.uid}]", highlight=False)
    for old, new in result.updated:
        out.print(
            f"updated {new.day} {new.local:%H:%M} {new.kind:<14} {new.name}  [{new.uid}] "
            f"(was {old.day} {old.local:%H:%M} {old.kind} {old.name})",
            highlight=False,
        )
    out.print(
        f"{len(result.added)} added, {len(result.updated)} updated, {result.unchanged} unchanged, "
        f"{result.replaced} snapshot rows replaced",
        highlight=False,
    )
