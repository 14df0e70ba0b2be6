"""Risk: position sizing, bracket plans, trailing stops, and the kill switch with its limits.

Pure functions and small state machines: no I/O, no wall clock (time comes in as integer
nanoseconds UTC). Thresholds come from ``[risk.*]`` in the versioned thresholds file
(:mod:`scalper.strategy.thresholds`); every rule is described in docs/RISK.md.
"""

from scalper.risk.brackets import TICKS, BracketPlan, Direction, plan_bracket, round_to_tick
from scalper.risk.limits import (
    BrokerConnected,
    BrokerDisconnected,
    ClockTick,
    DataHeartbeat,
    EntryVerdict,
    Event,
    FillPnl,
    FlattenRequest,
    KillSwitch,
    MarkToMarket,
    OperatorReset,
    OrderSubmitted,
    Reset,
    Trip,
    UnrecoverableError,
)
from scalper.risk.sizing import Size, expectancy_factor, size_position
from scalper.risk.trailing import AlongLevel, AtrMultiple, FixedDistance, TrailingStop, TrailRule, TrailStep

__all__ = [
    "TICKS",
    "AlongLevel",
    "AtrMultiple",
    "BracketPlan",
    "BrokerConnected",
    "BrokerDisconnected",
    "ClockTick",
    "DataHeartbeat",
    "Direction",
    "EntryVerdict",
    "Event",
    "FillPnl",
    "FixedDistance",
    "FlattenRequest",
    "KillSwitch",
    "MarkToMarket",
    "OperatorReset",
    "OrderSubmitted",
    "Reset",
    "Size",
    "TrailRule",
    "TrailStep",
    "TrailingStop",
    "Trip",
    "UnrecoverableError",
    "expectancy_factor",
    "plan_bracket",
    "round_to_tick",
    "size_position",
]
