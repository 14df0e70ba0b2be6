"""The demo's options and policy step: gamma levels of the stored chains, and the session policy
of the captured session at a few moments of the day, each decision with its reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psycopg
from rich.table import Table

from scalper.adapters.store.options import read_chain
from scalper.adapters.store.policy import store_decision
from scalper.apps.options import daily_atm_series, gamma_table, iv_rank_table, latest_chain_ts, store_levels
from scalper.core.timeutil import NEW_YORK
from scalper.gates.store import relative_0dte_volume
from scalper.options.gex import GammaLevels, Variant
from scalper.regime.service import Score
from scalper.strategy.policy import Gates, MorningScore, PolicyDecision, decide
from scalper.strategy.session import load_session_flags
from scalper.strategy.thresholds import load_thresholds

MOMENTS = ("09:40", "10:15", "10:45", "14:10", "15:50")


@dataclass
class PolicyReport:
    """What the step produced, for printing."""

    gamma: list[Table] = field(default_factory=list)
    decisions: list[PolicyDecision] = field(default_factory=list)
    relvol: list[tuple[str, float | None, str | None]] = field(default_factory=list)
    version: str = ""


def _gates(levels: Sequence[GammaLevels]) -> Gates:
    oi = next(lv for lv in levels if lv.variant == Variant.OI)
    walls = [w for w in (oi.call_wall, oi.put_wall) if w == w]
    distance = min(abs(oi.spot - w) for w in walls) / oi.spot * 100 if walls else None
    return Gates(net_gex=oi.net_gex, wall_distance_pct=distance)


def run_policy_step(conn: psycopg.Connection[Any], day: dt.date, scores: Sequence[Score]) -> PolicyReport:
    """Gamma levels from the latest chains before ``day``; the policy at :data:`MOMENTS` of ``day``."""
    report = PolicyReport()
    open_ns = int(dt.datetime.combine(day, dt.time(9, 30), NEW_YORK).timestamp()) * 1_000_000_000
    gates: dict[str, Gates] = {}
    for underlying in ("I:SPX", "SPY"):
        ts = latest_chain_ts(conn, underlying, open_ns)
        if ts is None:
            continue
        levels = store_levels(conn, read_chain(conn, underlying, ts), source=None)
        report.gamma.append(gamma_table(underlying, ts, levels))
        if underlying == "I:SPX":  # the SPX chain's gamma gates the SPX plays
            gates["I:SPX"] = _gates(levels)
    report.gamma.append(iv_rank_table("I:SPX", daily_atm_series(conn, "I:SPX"), 30))
    thresholds = load_thresholds()
    report.version = thresholds.version
    flags = load_session_flags(conn, day, thresholds.policy.calendar)
    for moment in MOMENTS:
        at = dt.datetime.combine(day, dt.time.fromisoformat(moment), NEW_YORK)
        known: dict[str, MorningScore | None] = {}
        for s in sorted(scores, key=lambda s: s.inputs.checkpoint):
            if dt.time.fromisoformat(s.inputs.checkpoint) <= at.time():  # only scores already known then
                known[s.inputs.symbol] = MorningScore.from_mapping(s.probabilities, s.inputs.checkpoint)
        flow = relative_0dte_volume(conn, ("SPX", "SPXW"), int(at.timestamp()) * 1_000_000_000, min_sessions=3)
        report.relvol.append((moment, flow.ratio, flow.reason))
        spx = gates.get("I:SPX", Gates())
        now_gates = {**gates, "I:SPX": replace(spx, relvol_0dte=flow.ratio)}
        decision = decide(at=at, flags=flags, scores=known, gates=now_gates, thresholds=thresholds)
        inputs = {
            "scores": {k: asdict(v) for k, v in known.items() if v},
            "gates": {k: asdict(v) for k, v in now_gates.items()},
        }
        calendar = {
            "stale": flags.staleness.level,
            "coverage": flags.staleness.describe(),
            "events": [e.kind for e in flags.events],
        }
        store_decision(conn, decision, {**inputs, "calendar": calendar})
        report.decisions.append(decision)
    return report


def policy_table(report: PolicyReport, day: dt.date) -> Table:
    """One row per moment and play: the level and the codes of its reasons."""
    table = Table("time", "play", "level", "reasons", title=f"session policy on {day} ({report.version})")
    flows = "; ".join(
        f"{m} {ratio:.2f}" if ratio is not None else f"{m} not ready ({reason})" for m, ratio, reason in report.relvol
    )
    table.caption = f"SPX relative 0DTE volume: {flows}. Decisions stored in policy_decisions."
    for decision in report.decisions:
        when = decision.at.strftime("%H:%M")
        for play in decision.plays.values():
            codes = ", ".join(dict.fromkeys(r.code for r in play.reasons)) or "—"
            table.add_row(when, play.play, play.level, codes)
    return table
