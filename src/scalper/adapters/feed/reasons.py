"""The fixed vocabularies of feed trouble, shared by the client, the parser and the metrics."""

from __future__ import annotations

from enum import StrEnum


class ParseErrorReason(StrEnum):
    """Why (part of) a frame was skipped."""

    BAD_JSON = "bad_json"  # not JSON, or not a JSON array
    UNKNOWN_EVENT = "unknown_event"  # an ``ev`` we don't know, or an event missing required keys
    BAD_VALUE = "bad_value"  # decodes, but breaks an invariant (low > high, negative size, ...)


class ReconnectReason(StrEnum):
    """Why a websocket session ended."""

    CLOSED = "closed"
    TIMEOUT = "timeout"
    STALL = "stall"
    MAX_CONNECTIONS = "max_connections"
    SLOW_CONSUMER = "slow_consumer"
    FORCE_DISCONNECT = "force_disconnect"
    CONNECT_FAILED = "connect_failed"
    PROTOCOL = "protocol"
