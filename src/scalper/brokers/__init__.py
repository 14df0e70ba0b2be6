"""Brokers: the port every broker implements and the simulated broker for paper trading and backtests.

See ``docs/EXECUTION.md`` ("Simulated broker").
"""

from __future__ import annotations

from scalper.brokers.port import BracketRequest, Broker, UpdateListener
from scalper.brokers.sim import FeeSchedule, SimBroker, SimConfig, TafSchedule

__all__ = [
    "BracketRequest",
    "Broker",
    "FeeSchedule",
    "SimBroker",
    "SimConfig",
    "TafSchedule",
    "UpdateListener",
]
