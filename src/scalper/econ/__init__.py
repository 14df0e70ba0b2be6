"""The economic calendar: high-impact releases, the shipped snapshot, the .ics parser, session flags.

Named ``econ`` rather than ``calendar`` so it is never confused with the standard library's
``calendar`` module or with :mod:`scalper.marketdata.calendar` (the XNYS trading calendar).
"""

from scalper.econ.events import KINDS, EconEvent
from scalper.econ.flags import SessionFlags, Staleness, session_flags, staleness
from scalper.econ.ics import IcsResult, kind_of, parse_ics
from scalper.econ.snapshot import Snapshot, load_snapshot

__all__ = [
    "KINDS",
    "EconEvent",
    "IcsResult",
    "SessionFlags",
    "Snapshot",
    "Staleness",
    "kind_of",
    "load_snapshot",
    "parse_ics",
    "session_flags",
    "staleness",
]
