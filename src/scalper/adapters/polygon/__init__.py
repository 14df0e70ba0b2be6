"""Polygon/Massive adapters: a replay server speaking the exact websocket protocol (POLYGON.md)."""

from scalper.adapters.polygon.faults import Faults
from scalper.adapters.polygon.recorded import RecordedDays, recorded_sources
from scalper.adapters.polygon.replay_server import (
    FrameSource,
    ReplayServer,
    SentCounts,
    ServerConfig,
    Subscriptions,
    serve,
    status,
    synthetic_sources,
)

__all__ = [
    "Faults",
    "FrameSource",
    "RecordedDays",
    "ReplayServer",
    "SentCounts",
    "ServerConfig",
    "Subscriptions",
    "recorded_sources",
    "serve",
    "status",
    "synthetic_sources",
]
