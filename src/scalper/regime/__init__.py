"""The daily regime: labels of finished sessions, the morning score, and its walk-forward evaluation.

Pure modules (no I/O): :mod:`daily` (a session's bars and summary), :mod:`labels`,
:mod:`morning`, :mod:`model`, :mod:`walkforward`, :mod:`pipeline`; :mod:`store` is the database
side. Definitions and measured figures: docs/REGIME.md.
"""

from scalper.regime.daily import DailyStats, SessionBars, SessionRules, summarise
from scalper.regime.labels import DAY_TYPES, LABELS, DayLabel, LabelParams, label_session, label_version
from scalper.regime.model import LogitModel, LogitParams, fit_logit
from scalper.regime.morning import INPUTS, PROXIES, MorningInputs, MorningParams, morning_inputs
from scalper.regime.walkforward import Evaluation, WalkForwardParams, walk_forward

__all__ = [
    "DAY_TYPES",
    "INPUTS",
    "LABELS",
    "PROXIES",
    "DailyStats",
    "DayLabel",
    "Evaluation",
    "LabelParams",
    "LogitModel",
    "LogitParams",
    "MorningInputs",
    "MorningParams",
    "SessionBars",
    "SessionRules",
    "WalkForwardParams",
    "fit_logit",
    "label_session",
    "label_version",
    "morning_inputs",
    "summarise",
    "walk_forward",
]
