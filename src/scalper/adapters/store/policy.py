"""Session-policy decisions into ``policy_decisions`` (idempotent by play, moment and thresholds version)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg

from scalper.core.errors import StoreError
from scalper.strategy.policy import PolicyDecision

_UPSERT = (
    "INSERT INTO policy_decisions (play, ts, version, level, reasons, inputs) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (play, ts, version) DO UPDATE SET level = EXCLUDED.level, reasons = EXCLUDED.reasons, "
    "inputs = EXCLUDED.inputs, decided_at = now()"
)


def reasons_json(decision: PolicyDecision, play: str) -> list[dict[str, str]]:
    """The reasons of one play's decision as JSON-ready dicts (what signals carry in ``policy``)."""
    return [{"code": r.code, "text": r.text, "effect": r.effect} for r in decision.plays[play].reasons]


def store_decision(conn: psycopg.Connection[Any], decision: PolicyDecision, inputs: Mapping[str, Any]) -> int:
    """Store every play's decision at ``decision.at``; returns the rows written."""
    rows = [
        (
            play,
            decision.at,
            decision.version,
            d.level,
            json.dumps(reasons_json(decision, play)),
            json.dumps(inputs, default=str),
        )
        for play, d in decision.plays.items()
    ]
    try:
        with conn.cursor() as cur:
            cur.executemany(_UPSERT, rows)
    except psycopg.Error as exc:
        raise StoreError(f"storing policy decisions at {decision.at.isoformat()} failed: {exc}") from exc
    return len(rows)
