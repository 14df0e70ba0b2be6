"""The .ics parser on a BLS-style calendar: TZID, UTC, whole-day events, skipped kinds, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from scalper.core.errors import DataError
from scalper.econ.ics import kind_of, parse_ics

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:US-Eastern
BEGIN:STANDARD
DTSTART:19671029T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19870405T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
END:DAYLIGHT
END:VTIMEZONE
"""


def calendar(*events: str, timezone: str = VTIMEZONE) -> str:
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Bureau of Labor Statistics//EN\n{timezone}{body}END:VCALENDAR\n"


BLS = calendar(
    # daylight time in October: 08:30 EDT = 12:30 UTC
    "UID:cpi-2026-10@bls.gov\nDTSTAMP:20261101T120000Z\nDTSTART;TZID=US-Eastern:20261014T083000\n"
    "DTEND;TZID=US-Eastern:20261014T093000\nSUMMARY:Consumer Price Index for September 2026",
    # standard time in December: 08:30 EST = 13:30 UTC, given in UTC
    "UID:empsit-2026-12@bls.gov\nDTSTART:20261204T133000Z\nSUMMARY:Employment Situation for November 2026",
    # a folded SUMMARY line
    "UID:ppi-2026-11@bls.gov\nDTSTART;TZID=US-Eastern:20261113T083000\n"
    "SUMMARY:Producer Price Index for Oct\n ober 2026",
    "UID:jolts-2026-12@bls.gov\nDTSTART;TZID=US-Eastern:20261208T100000\n"
    "SUMMARY:Job Openings and Labor Turnover Survey for October 2026",
    # whole-day event of a known kind: placed at 08:30 New York
    "UID:cpi-2026-12@bls.gov\nDTSTART;VALUE=DATE:20261210\nSUMMARY:Consumer Price Index for November 2026",
    # not high-impact: skipped
    "UID:rearn@bls.gov\nDTSTART;TZID=US-Eastern:20261014T083000\nSUMMARY:Real Earnings for September 2026",
    "UID:vets@bls.gov\nDTSTART;VALUE=DATE:20261111\nSUMMARY:Veterans Day",
    "UID:vet-emp@bls.gov\nDTSTART;TZID=US-Eastern:20261120T100000\nSUMMARY:Employment Situation of Veterans for 2025",
)


def test_reads_high_impact_events_at_their_instants() -> None:
    result = parse_ics(BLS, source="bls", retrieved_on=dt.date(2026, 11, 25))
    got = {e.uid: (e.kind, e.ts) for e in result.events}
    assert got == {
        "cpi-2026-10@bls.gov": ("CPI", dt.datetime(2026, 10, 14, 12, 30, tzinfo=dt.UTC)),
        "empsit-2026-12@bls.gov": ("NFP", dt.datetime(2026, 12, 4, 13, 30, tzinfo=dt.UTC)),
        "ppi-2026-11@bls.gov": ("PPI", dt.datetime(2026, 11, 13, 13, 30, tzinfo=dt.UTC)),
        "jolts-2026-12@bls.gov": ("JOLTS", dt.datetime(2026, 12, 8, 15, 0, tzinfo=dt.UTC)),
        "cpi-2026-12@bls.gov": ("CPI", dt.datetime(2026, 12, 10, 13, 30, tzinfo=dt.UTC)),
    }
    assert {e.source for e in result.events} == {"bls"}
    assert {e.retrieved_on for e in result.events} == {dt.date(2026, 11, 25)}


def test_counts_skipped_and_defaulted_events() -> None:
    result = parse_ics(BLS, source="bls", retrieved_on=dt.date(2026, 11, 25))
    assert sorted(result.skipped) == [
        "Employment Situation of Veterans for 2025",
        "Real Earnings for September 2026",
        "Veterans Day",
    ]
    assert result.defaulted_time == 1


def test_us_eastern_tzid_without_vtimezone_is_new_york() -> None:
    text = calendar(
        "UID:x\nDTSTART;TZID=US-Eastern:20260313T083000\nSUMMARY:Consumer Price Index for February 2026", timezone=""
    )
    (event,) = parse_ics(text, source="s", retrieved_on=dt.date(2026, 3, 1)).events
    assert event.ts == dt.datetime(2026, 3, 13, 12, 30, tzinfo=dt.UTC)  # EDT began 2026-03-08


def test_missing_uid_gets_a_derived_one() -> None:
    text = calendar("DTSTART:20261204T133000Z\nSUMMARY:Employment Situation for November 2026")
    (event,) = parse_ics(text, source="s", retrieved_on=dt.date(2026, 11, 25)).events
    assert event.uid == "ics:NFP:2026-12-04"


@pytest.mark.parametrize(
    ("summary", "kind"),
    [
        ("Consumer Price Index for October 2026", "CPI"),
        ("Producer Price Index for October 2026", "PPI"),
        ("Employment Situation for October 2026", "NFP"),
        ("Employment Situation", "NFP"),
        ("Employment Situation of Veterans for 2025", None),
        ("Job Openings and Labor Turnover Survey for September 2026", "JOLTS"),
        ("FOMC Press Conference", "FOMC_PRESS"),
        ("FOMC statement", "FOMC"),
        ("Advance Monthly Sales for Retail and Food Services, October 2026", "RETAIL_SALES"),
        ("Gross Domestic Product, Third Quarter 2026 (Advance Estimate)", "GDP"),
        ("Personal Income and Outlays, October 2026", "PCE"),
        ("Real Earnings for October 2026", None),
        ("County Employment and Wages for Second Quarter 2026", None),
    ],
)
def test_kind_of_summary(summary: str, kind: str | None) -> None:
    assert kind_of(summary) == kind


def test_malformed_dtstart_names_the_line_and_event() -> None:
    text = calendar(
        "UID:ok\nDTSTART:20261204T133000Z\nSUMMARY:Employment Situation for November 2026",
        "UID:bad\nDTSTART;TZID=US-Eastern:2026BAD\nSUMMARY:Producer Price Index for October 2026",
    )
    line = text.splitlines().index("BEGIN:VEVENT", text.splitlines().index("END:VEVENT")) + 1
    with pytest.raises(DataError, match=rf"bls.ics: event at line {line} \(Producer Price Index for October 2026\)"):
        parse_ics(text, source="s", retrieved_on=dt.date(2026, 11, 25), where="bls.ics")


def test_unknown_tzid_is_refused() -> None:
    text = calendar("UID:x\nDTSTART;TZID=Nowhere/Zone:20261110T083000\nSUMMARY:Consumer Price Index for October 2026")
    with pytest.raises(DataError, match="TZID 'Nowhere/Zone' is not defined"):
        parse_ics(text, source="s", retrieved_on=dt.date(2026, 11, 25))


def test_floating_time_is_refused() -> None:
    text = calendar("UID:x\nDTSTART:20261110T083000\nSUMMARY:Consumer Price Index for October 2026")
    with pytest.raises(DataError, match="floating time"):
        parse_ics(text, source="s", retrieved_on=dt.date(2026, 11, 25))


def test_missing_dtstart_is_refused() -> None:
    text = calendar("UID:x\nSUMMARY:Consumer Price Index for October 2026")
    with pytest.raises(DataError, match="DTSTART is missing"):
        parse_ics(text, source="s", retrieved_on=dt.date(2026, 11, 25))


def test_not_an_icalendar_file_is_refused() -> None:
    with pytest.raises(DataError, match="not an iCalendar file"):
        parse_ics("<html>Access Denied</html>", source="s", retrieved_on=dt.date(2026, 11, 25), where="bls.ics")
