"""Parse an iCalendar (``.ics``) release calendar, as BLS publishes its schedule, into events.

Conventions:

* ``SUMMARY`` is matched against :data:`KIND_PATTERNS` ("Consumer Price Index for October 2026"
  → CPI); events of no listed kind are not high-impact and are skipped (and counted).
* ``DTSTART`` may be UTC (``...Z``), carry ``TZID`` (BLS writes ``US-Eastern``; the aliases in
  :data:`NEW_YORK_TZIDS` are read as America/New_York whatever VTIMEZONE says, any other TZID
  must be defined by a VTIMEZONE in the file) or be a whole day (``VALUE=DATE``): a whole-day
  event of a known kind is placed at the kind's usual release time and counted as defaulted.
  A floating time (no zone) is refused: the instant would be a guess.
* The event's ``UID`` is kept as its id; without one, ``ics:{KIND}:{date}`` is used.
* Any malformed event fails the whole file with a :class:`DataError` naming its line and
  summary, so a half-read calendar is never stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK
from scalper.econ.events import KINDS, EconEvent, at_new_york

#: (kind, pattern on SUMMARY), first match wins.
KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("FOMC_PRESS", r"\b(FOMC|federal open market committee)\b.*\bpress conference\b"),
        ("FOMC", r"\b(FOMC|federal open market committee)\b.*\b(statement|meeting|decision)\b"),
        ("CPI", r"^consumer price index\b"),
        ("PPI", r"^producer price index\b"),
        ("NFP", r"^(the )?employment situation(\s+for\b|\s*$)"),
        ("JOLTS", r"^job openings and labor turnover"),
        ("JOBLESS_CLAIMS", r"\bunemployment insurance weekly claims\b|\bjobless claims\b"),
        ("RETAIL_SALES", r"\bretail (and food services )?sales\b|\bmonthly sales for retail\b"),
        ("GDP", r"^gross domestic product\b"),
        ("PCE", r"^personal income and outlays\b"),
        ("ISM", r"\bISM\b|\breport on business\b"),
        ("UMICH", r"\buniversity of michigan\b|\bsurveys of consumers\b"),
    )
)
NEW_YORK_TZIDS = frozenset({"US-Eastern", "US/Eastern", "America/New_York", "Eastern Standard Time", "EST5EDT"})


@dataclass(frozen=True, kw_only=True, slots=True)
class IcsResult:
    """High-impact events read, the summaries skipped as not high-impact, whole-day events timed by default."""

    events: tuple[EconEvent, ...]
    skipped: tuple[str, ...]
    defaulted_time: int


def kind_of(summary: str) -> str | None:
    """The event kind a summary names, or ``None`` when it is not a high-impact release."""
    text = summary.strip()
    return next((kind for kind, pattern in KIND_PATTERNS if pattern.search(text)), None)


def parse_ics(text: str, *, source: str, retrieved_on: dt.date, where: str = "calendar") -> IcsResult:
    """Parse ``text`` (the .ics content); ``where`` names the file in errors."""
    import icalendar

    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        raise DataError(f"{where}: not an iCalendar file (no BEGIN:VCALENDAR near the start)")
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise DataError(f"{where}: not a valid iCalendar file: {exc}") from exc
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().upper() == "BEGIN:VEVENT"]
    events: dict[str, EconEvent] = {}
    skipped: list[str] = []
    defaulted = 0
    for n, component in enumerate(cal.walk("VEVENT")):
        line = lines[n] if n < len(lines) else None
        summary = str(component.get("SUMMARY", "")).strip()
        label = f"{where}: event at line {line} ({summary or 'no SUMMARY'})"
        if not summary:
            raise DataError(f"{label}: SUMMARY is missing")
        kind = kind_of(summary)
        if kind is None:
            skipped.append(summary)
            continue
        ts, was_day = _start(component, kind, label)
        defaulted += was_day
        uid = str(component.get("UID", "")).strip() or f"ics:{kind}:{ts.astimezone(NEW_YORK).date().isoformat()}"
        events[uid] = EconEvent(uid=uid, ts=ts, name=summary, kind=kind, source=source, retrieved_on=retrieved_on)
    return IcsResult(
        events=tuple(sorted(events.values(), key=lambda e: (e.ts, e.kind))),
        skipped=tuple(skipped),
        defaulted_time=defaulted,
    )


def _start(component: Any, kind: str, label: str) -> tuple[dt.datetime, bool]:
    """(aware UTC start, whether it was a whole day placed at the kind's usual time)."""
    errors = [msg for prop, msg in getattr(component, "errors", []) if prop == "DTSTART"]
    prop = component.get("DTSTART")
    if errors or prop is None:
        raise DataError(f"{label}: DTSTART is " + (f"malformed: {errors[0]}" if errors else "missing"))
    value = prop.dt
    if isinstance(value, dt.datetime):
        tzid = prop.params.get("TZID")
        if tzid in NEW_YORK_TZIDS:
            return value.replace(tzinfo=None).replace(tzinfo=NEW_YORK).astimezone(dt.UTC), False
        if value.tzinfo is None or value.utcoffset() is None:
            what = f"TZID {tzid!r} is not defined by a VTIMEZONE in the file" if tzid else "a floating time (no zone)"
            raise DataError(f"{label}: DTSTART {value.isoformat()} is {what}")
        return value.astimezone(dt.UTC), False
    if isinstance(value, dt.date):
        return at_new_york(value, KINDS[kind][0]), True
    raise DataError(f"{label}: DTSTART {value!r} is invalid: expected a date or date-time")
