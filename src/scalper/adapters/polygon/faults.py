"""Fault knobs of the replay server: the ways the real feed misbehaves, on demand.

A :class:`Faults` value is frozen configuration; each connection gets its own
:class:`FaultPlan`, which counts that connection's data frames and says which extra frames
(malformed, duplicated, corrected) to insert after each one. Counts are 1-based: with
``malformed_every=3`` a truncated frame follows the 3rd, 6th, ... data frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from scalper.core.errors import ConfigError

AGGREGATES: Final = frozenset({"A", "AM"})
CORRECTION_STEP: Final = 0.01  # a corrected bar's close moves by one cent
FRAME_FAULTS: Final = (  # the websocket knobs that count frames
    "drop_after_frames",
    "max_connections_after_frames",
    "pause_after_frames",
    "malformed_every",
    "duplicate_every",
    "correct_every",
    "slow_consumer_queue",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Faults:
    """Which faults to inject; ``None`` disables a knob. Applies to connections opened afterwards."""

    drop_after_frames: int | None = None  # abort TCP (no close frame) after N data frames
    max_connections_after_frames: int | None = None  # send max_connections, then close
    pause_after_frames: int | None = None  # stall for ``pause_s`` seconds after N data frames
    pause_s: float = 0.0
    malformed_every: int | None = None  # a truncated JSON frame after every N-th data frame
    duplicate_every: int | None = None  # re-send an aggregate of every N-th frame holding one
    correct_every: int | None = None  # re-send an ``A`` bar of every N-th frame holding one, close changed
    slow_consumer_queue: int | None = None  # more than N frames waiting unsent: slow_consumer, close
    rest_rate_limit_after: int | None = None  # REST: after N (>= 0) authorised requests, answer 429 ...
    rest_rate_limit_count: int = 1  # ... to this many requests, then serve again
    rest_forbidden: bool = False  # REST: 403 NOT_AUTHORIZED for index aggregates (no indices plan)

    def __post_init__(self) -> None:
        for name in FRAME_FAULTS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"faults.{name}: expected a positive integer or None, was {value!r}")
        after = self.rest_rate_limit_after
        if after is not None and (not isinstance(after, int) or after < 0):
            raise ConfigError(f"faults.rest_rate_limit_after: expected an integer >= 0 or None, was {after!r}")
        if not isinstance(self.rest_rate_limit_count, int) or self.rest_rate_limit_count < 1:
            raise ConfigError(f"faults.rest_rate_limit_count: expected >= 1, was {self.rest_rate_limit_count!r}")
        if self.pause_s < 0 or (self.pause_after_frames is not None and self.pause_s == 0):
            raise ConfigError(f"faults.pause_s: expected > 0 with pause_after_frames, was {self.pause_s!r}")

    def counts_frames(self) -> bool:
        """Whether a websocket fault is set that counts data frames (or queued frames)."""
        return any(getattr(self, name) is not None for name in FRAME_FAULTS)


@dataclass(kw_only=True, slots=True)
class FaultPlan:
    """One connection's fault counters; :meth:`extras` lists the frames to insert after a data frame."""

    faults: Faults
    frames: int = 0
    aggregate_frames: int = 0
    a_frames: int = 0

    def extras(self, data: bytes) -> list[tuple[str, bytes]]:
        """Count one data frame and return ``(kind, frame)`` pairs to send right after it."""
        self.frames += 1
        out: list[tuple[str, bytes]] = []
        f = self.faults
        if f.duplicate_every is not None or f.correct_every is not None:  # only these look inside the frame
            events: list[dict[str, Any]] = json.loads(data)
            aggregate = next((e for e in events if e.get("ev") in AGGREGATES), None)
            if aggregate is not None:
                self.aggregate_frames += 1
                if _due(f.duplicate_every, self.aggregate_frames):
                    out.append(("duplicate", _frame([aggregate])))
            bar = next((e for e in events if e.get("ev") == "A"), None)
            if bar is not None:
                self.a_frames += 1
                if _due(f.correct_every, self.a_frames):
                    out.append(("correction", _frame([corrected(bar)])))
        if _due(f.malformed_every, self.frames):
            out.append(("malformed", truncated(data)))
        return out

    def after_sent(self, sent: int) -> str | None:
        """The disruptive fault due once ``sent`` data frames are out: drop, max_connections, pause."""
        f = self.faults
        if f.drop_after_frames is not None and sent == f.drop_after_frames:
            return "drop"
        if f.max_connections_after_frames is not None and sent == f.max_connections_after_frames:
            return "max_connections"
        if f.pause_after_frames is not None and sent == f.pause_after_frames:
            return "pause"
        return None


def rate_limited(faults: Faults, request_number: int) -> bool:
    """Whether the ``request_number``-th authorised REST request (1-based) gets a 429."""
    after = faults.rest_rate_limit_after
    return after is not None and after < request_number <= after + faults.rest_rate_limit_count


def _due(every: int | None, count: int) -> bool:
    return every is not None and count % every == 0


def _frame(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events, separators=(",", ":")).encode()


def truncated(data: bytes) -> bytes:
    """A malformed frame: the first half of a JSON array (never parses)."""
    return data[: max(1, len(data) // 2)]


def corrected(bar: dict[str, Any]) -> dict[str, Any]:
    """The bar re-sent as the feed corrects it: close moved a cent, high/low widened to match."""
    close = round(float(bar["c"]) + CORRECTION_STEP, 2)
    return {**bar, "c": close, "h": max(float(bar["h"]), close), "l": min(float(bar["l"]), close)}
