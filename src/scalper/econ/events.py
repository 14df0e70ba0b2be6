"""Economic events: the kinds the session policy knows and their usual release times (New York).

An :class:`EconEvent` is one scheduled release at an aware instant. ``kind`` is one of
:data:`KINDS`; the release time of a kind is the one its publisher uses (BLS 08:30, FOMC
statement 14:00, press conference 14:30, ISM/JOLTS/UMich 10:00), used only when a source gives a
date without a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from scalper.core.errors import InvariantError
from scalper.core.timeutil import NEW_YORK

#: kind → (usual release time in New York, human name)
KINDS: dict[str, tuple[dt.time, str]] = {
    "FOMC": (dt.time(14, 0), "FOMC statement"),
    "FOMC_PRESS": (dt.time(14, 30), "FOMC press conference"),
    "CPI": (dt.time(8, 30), "Consumer Price Index"),
    "PPI": (dt.time(8, 30), "Producer Price Index"),
    "NFP": (dt.time(8, 30), "Employment Situation"),
    "RETAIL_SALES": (dt.time(8, 30), "Advance retail sales"),
    "GDP": (dt.time(8, 30), "Gross domestic product"),
    "PCE": (dt.time(8, 30), "Personal income and outlays (PCE)"),
    "JOBLESS_CLAIMS": (dt.time(8, 30), "Unemployment insurance weekly claims"),
    "ISM": (dt.time(10, 0), "ISM manufacturing/services PMI"),
    "JOLTS": (dt.time(10, 0), "Job Openings and Labor Turnover Survey"),
    "UMICH": (dt.time(10, 0), "University of Michigan consumer sentiment"),
}
IMPACTS = ("low", "medium", "high")


@dataclass(frozen=True, kw_only=True, slots=True)
class EconEvent:
    """One scheduled release. ``ts`` is aware; ``uid`` is the source's stable id (ICS UID or derived)."""

    uid: str
    ts: dt.datetime
    name: str
    kind: str
    source: str
    retrieved_on: dt.date
    impact: str = "high"

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise InvariantError(f"econ event {self.uid}: expected an aware timestamp, was naive {self.ts}")
        if self.kind not in KINDS:
            raise InvariantError(f"econ event {self.uid}: expected kind one of {sorted(KINDS)}, was {self.kind!r}")
        if self.impact not in IMPACTS:
            raise InvariantError(f"econ event {self.uid}: expected impact one of {IMPACTS}, was {self.impact!r}")
        if not self.uid:
            raise InvariantError("econ event: expected a non-empty uid")

    @property
    def local(self) -> dt.datetime:
        """The release instant in New York time."""
        return self.ts.astimezone(NEW_YORK)

    @property
    def day(self) -> dt.date:
        """The New York calendar date of the release."""
        return self.local.date()


def at_new_york(day: dt.date, time: dt.time) -> dt.datetime:
    """``day`` at wall-clock ``time`` in New York, as an aware UTC datetime."""
    return dt.datetime.combine(day, time, tzinfo=NEW_YORK).astimezone(dt.UTC)
