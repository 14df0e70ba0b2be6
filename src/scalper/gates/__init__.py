"""Flow gates: IV rank/percentile over a daily IV series and relative 0DTE option volume.

Pure math in :mod:`scalper.gates.ivrank` and :mod:`scalper.gates.relvol`; the database reader
in :mod:`scalper.gates.store`.
"""

from scalper.gates.ivrank import IvStanding, iv_standing, iv_standing_series
from scalper.gates.relvol import RelativeVolume, completed_minutes, minute_profile, relative_volume

__all__ = [
    "IvStanding",
    "RelativeVolume",
    "completed_minutes",
    "iv_standing",
    "iv_standing_series",
    "minute_profile",
    "relative_volume",
]
