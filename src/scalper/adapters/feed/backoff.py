"""Reconnect delays: capped exponential backoff with full jitter, as a pure function."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """``delay(attempt)`` is uniform in [base/2, min(cap, base·2^attempt)] ("equal jitter")."""

    base_s: float = 0.5
    cap_s: float = 30.0
    long_s: float = 300.0  # after max_connections: another process holds the key; don't fight it

    def delay(self, attempt: int, rng: random.Random, *, long: bool = False) -> float:
        if long:
            return self.long_s * (0.75 + 0.5 * rng.random())
        ceiling = min(self.cap_s, self.base_s * (2.0 ** max(attempt, 0)))
        return ceiling / 2 + rng.random() * ceiling / 2
