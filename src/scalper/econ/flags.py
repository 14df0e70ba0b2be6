"""What the calendar says about one session: its events, hours, early close, and staleness.

Staleness, precisely: for each required kind K (by default FOMC, CPI, NFP) let L_K be the New
York date of the last stored event of kind K. The calendar *covers* a session s for K when
s ≤ L_K (beyond L_K a K release may exist that the calendar does not know). ``coverage[K]`` is
the number of upcoming XNYS sessions, starting with ``today`` when it is one, that it covers
(0 when L_K < today or K has no event at all). With c = min over K of coverage[K]:

* ``off``     when c < ``off_below`` (default 1: the calendar does not even cover today);
* ``reduced`` when c < ``reduce_below`` (default 10 sessions, about two weeks);
* ``fresh``   otherwise.

Pure functions take the sessions as data; :func:`xnys_sessions_from` and :func:`xnys_hours`
read them from ``exchange_calendars`` (XNYS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scalper.core.timeutil import NEW_YORK
from scalper.econ.events import EconEvent

StaleLevel = Literal["fresh", "reduced", "off"]
DEFAULT_REQUIRED_KINDS = ("FOMC", "CPI", "NFP")


@dataclass(frozen=True, kw_only=True, slots=True)
class Staleness:
    """How far ahead the calendar is known, per required kind, and the resulting level."""

    level: StaleLevel
    coverage: dict[str, int]
    last: dict[str, dt.date | None]
    reduce_below: int
    off_below: int

    def describe(self) -> str:
        """One line naming the kinds that fall short."""
        short = [
            f"{k} known through {self.last[k] or 'never'} ({self.coverage[k]} sessions)"
            for k in sorted(self.coverage)
            if self.coverage[k] < self.reduce_below
        ]
        return "; ".join(short) if short else f"covers the next {min(self.coverage.values(), default=0)} sessions"


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionFlags:
    """One session as the policy sees it: hours (aware), early close, that day's events, staleness."""

    day: dt.date
    open: dt.datetime
    close: dt.datetime
    early_close: bool
    staleness: Staleness
    events: tuple[EconEvent, ...] = field(default=())

    def of_kind(self, *kinds: str) -> tuple[EconEvent, ...]:
        """That day's events of the given kinds, by time."""
        return tuple(e for e in self.events if e.kind in kinds)


def staleness(
    events: Iterable[EconEvent],
    today: dt.date,
    sessions: Sequence[dt.date],
    *,
    kinds: Sequence[str] = DEFAULT_REQUIRED_KINDS,
    reduce_below: int = 10,
    off_below: int = 1,
) -> Staleness:
    """Staleness of a calendar holding ``events`` as of ``today``; ``sessions`` are the upcoming XNYS
    sessions in order (at least ``reduce_below`` of them, from ``today`` on)."""
    last: dict[str, dt.date | None] = dict.fromkeys(kinds)
    for e in events:
        if e.kind in last:
            d = e.day
            prior = last[e.kind]
            last[e.kind] = d if prior is None or d > prior else prior
    upcoming = [s for s in sessions if s >= today]
    coverage = {k: sum(1 for s in upcoming if (lk := last[k]) is not None and s <= lk) for k in kinds}
    worst = min(coverage.values(), default=0)
    level: StaleLevel = "off" if worst < off_below else "reduced" if worst < reduce_below else "fresh"
    return Staleness(level=level, coverage=coverage, last=last, reduce_below=reduce_below, off_below=off_below)


def session_flags(
    day: dt.date,
    events: Iterable[EconEvent],
    *,
    open_: dt.datetime,
    close: dt.datetime,
    early_close: bool,
    stale: Staleness,
) -> SessionFlags:
    """The flags of session ``day``: the events whose New York date is ``day``."""
    todays = tuple(sorted((e for e in events if e.day == day), key=lambda e: (e.ts, e.kind)))
    return SessionFlags(day=day, open=open_, close=close, early_close=early_close, staleness=stale, events=todays)


def xnys_sessions_from(today: dt.date, count: int) -> list[dt.date]:
    """The first ``count`` XNYS sessions on or after ``today``."""
    import pandas as pd

    from scalper.marketdata.calendar import xnys

    cal = xnys()
    last = cal.last_session.date()
    if today > last:
        return []
    days = cal.sessions_in_range(
        pd.Timestamp(today), pd.Timestamp(min(last, today + dt.timedelta(days=count * 2 + 14)))
    )
    return [d.date() for d in days[:count]]


def xnys_hours(day: dt.date) -> tuple[dt.datetime, dt.datetime, bool] | None:
    """(open, close, early close) of XNYS session ``day`` as aware New York datetimes, or ``None``."""
    import pandas as pd

    from scalper.marketdata.calendar import xnys

    cal = xnys()
    ts = pd.Timestamp(day)
    if not cal.is_session(ts):
        return None
    early = bool((cal.early_closes == ts).any())
    return (
        cal.session_open(ts).to_pydatetime().astimezone(NEW_YORK),
        cal.session_close(ts).to_pydatetime().astimezone(NEW_YORK),
        early,
    )
