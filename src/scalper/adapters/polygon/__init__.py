"""Polygon/Massive adapters: a replay server speaking the exact websocket protocol (POLYGON.md)."""

from scalper.adapters.polygon.faults import Faults
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
    "ReplayServer",
    "SentCounts",
    "ServerConfig",
    "Subscriptions",
    "serve",
    "status",
    "synthetic_sources",
]
