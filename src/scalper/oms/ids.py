"""Idempotent client order ids, derived from (signal id, leg, generation).

The same signal, leg and generation always give the same id, so an order re-sent after a
crash or a timeout is recognised by the broker (which refuses a second order with the same
client id) and by the store (``orders`` is keyed by it) instead of being placed twice.

Format: ``sc-{leg}-{generation}-{digest}``, e.g. ``sc-entry-0-3f9a0c…`` (20 hex digits), at most
:data:`MAX_LENGTH` = 36 characters of ``[a-z0-9-]`` (Alpaca allows 128). The leg and generation
are readable; the digest is BLAKE2b (80 bits) over namespace, signal id, leg and generation, so
ids of different signals, legs or generations differ (a collision among the few thousand orders
of a run has a probability below 1e-16).

``generation`` counts replacements of the same leg (a moved stop is generation 1, 2, ...).
``namespace`` separates id spaces sharing one broker account (e.g. two strategies, or a paper
re-run of a recorded day): it must be stable across restarts of the same run, so never a
process start time.
"""

from __future__ import annotations

import hashlib
import re

from scalper.core.errors import InvariantError
from scalper.core.orders import Leg

PREFIX = "sc"
MAX_GENERATION = 9999
_DIGEST_BYTES = 10
MAX_LENGTH = len(PREFIX) + 1 + max(len(leg.value) for leg in Leg) + 1 + len(str(MAX_GENERATION)) + 1 + 2 * _DIGEST_BYTES
_PATTERN = re.compile(rf"^{PREFIX}-({'|'.join(leg.value for leg in Leg)})-(0|[1-9][0-9]{{0,3}})-([0-9a-f]{{20}})$")


def client_order_id(signal_id: str, leg: Leg, generation: int = 0, *, namespace: str = "") -> str:
    """The client order id of ``leg`` of ``signal_id`` (its ``generation``-th replacement)."""
    if not signal_id:
        raise InvariantError("client order id: expected a non-empty signal id, was ''")
    if not 0 <= generation <= MAX_GENERATION:
        raise InvariantError(f"client order id generation: expected 0..{MAX_GENERATION}, was {generation}")
    key = "\x1f".join((namespace, signal_id, leg.value, str(generation))).encode()
    digest = hashlib.blake2b(key, digest_size=_DIGEST_BYTES, person=b"scalper.coid").hexdigest()
    return f"{PREFIX}-{leg.value}-{generation}-{digest}"


def parse_client_order_id(cid: str) -> tuple[Leg, int] | None:
    """(leg, generation) of one of our ids; None for an id we did not make (e.g. a manual order)."""
    match = _PATTERN.match(cid)
    if match is None:
        return None
    return Leg(match.group(1)), int(match.group(2))
