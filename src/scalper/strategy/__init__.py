"""Strategy: the session policy (per-play aggressiveness with reasons) and its versioned thresholds."""

from scalper.strategy.policy import (
    LEVELS,
    PLAYS,
    Gates,
    MorningScore,
    PlayDecision,
    PolicyDecision,
    Reason,
    decide,
)
from scalper.strategy.thresholds import Thresholds, load_thresholds

__all__ = [
    "LEVELS",
    "PLAYS",
    "Gates",
    "MorningScore",
    "PlayDecision",
    "PolicyDecision",
    "Reason",
    "Thresholds",
    "decide",
    "load_thresholds",
]
