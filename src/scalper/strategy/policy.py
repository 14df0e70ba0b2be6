"""The session policy: (morning scores, calendar flags, gates, time, staleness) → per-play aggressiveness.

A pure function of its inputs (time is passed in). Each play starts at ``normal``; *votes* move it
one step each (bounded to reduced … aggressive), then *caps* bound it from above; the result is the
lowest cap. Every vote and cap that applied is returned as a :class:`Reason` (a machine code, a
human text, its effect), so the decision can be stored with the signals it affects.

Votes (per index: SPX plays read I:SPX's score and gates, NDX plays I:NDX's):

* MORNING_TREND    P(trend_up) + P(trend_down) ≥ trend_favour: trend +1, balanced −1
* MORNING_BALANCED P(balanced) ≥ balanced_favour (and not trend-leaning): balanced +1, trend −1
* NEG_GAMMA        dealer net gamma < 0: trend +1
* POS_GAMMA_NEAR_WALL net gamma > 0 and spot within near_wall_pct % of a wall: balanced +1, trend −1
* RELVOL_HIGH / RELVOL_LOW relative 0DTE volume ≥ relvol_high / ≤ relvol_low: trend +1 / −1
* IV_RANK_LOW      IV rank ≤ iv_rank_low: trend −1
* ``aggressive`` needs the morning score to favour the play (AGGRESSIVE_NEEDS_SCORE otherwise).

Caps (each names its level):

* OUTSIDE_SESSION, SESSION_CLOSING (last no_entry_before_close_min minutes): off
* CALENDAR_STALE_OFF / CALENDAR_STALE: off / reduced (see :mod:`scalper.econ.flags`)
* FOMC_BLACKOUT: off for the minutes [first FOMC event − fomc_block_before_min, last FOMC event
  + fomc_block_after_min], both ends inclusive at minute resolution (13:55 … 14:45 with the
  14:00 statement and 14:30 press conference); FOMC_AFTERMATH: fomc_after_level after it
* PRE_OPEN_RELEASE: open_release_level until open_release_until on days with an
  open_release_kinds release before the open (CPI/NFP/PPI/... at 08:30)
* RELEASE_BLACKOUT: off for [release − intraday_block_before_min, release + intraday_block_after_min]
  around intraday_release_kinds releases (ISM/JOLTS/UMich at 10:00)
* EARLY_CLOSE: early_close_level on early-close sessions
* NO_MORNING_SCORE: no_score_level while the index has no morning score
* IV_RANK_EXTREME: reduced when IV rank ≥ iv_rank_extreme
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from scalper.core.errors import InvariantError
from scalper.core.timeutil import NEW_YORK
from scalper.econ.flags import SessionFlags
from scalper.strategy.thresholds import Level, PolicyThresholds, Thresholds

LEVELS: tuple[Level, ...] = ("off", "reduced", "normal", "aggressive")
Style = Literal["trend", "balanced"]
#: play → (index symbol, style)
PLAYS: dict[str, tuple[str, Style]] = {
    "SPX_TREND_BURST": ("I:SPX", "trend"),
    "SPX_BALANCED_BREAK": ("I:SPX", "balanced"),
    "NDX_TREND_BURST": ("I:NDX", "trend"),
    "NDX_BALANCED_BREAK": ("I:NDX", "balanced"),
}
FOMC_KINDS = ("FOMC", "FOMC_PRESS")


@dataclass(frozen=True, kw_only=True, slots=True)
class MorningScore:
    """Probabilities of the day's label from the morning regime score at ``checkpoint`` (HH:MM)."""

    trend_up: float
    trend_down: float
    balanced: float
    checkpoint: str = ""

    def __post_init__(self) -> None:
        ps = (self.trend_up, self.trend_down, self.balanced)
        if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in ps) or abs(sum(ps) - 1.0) > 1e-6:
            raise InvariantError(f"morning score: expected probabilities in [0, 1] summing to 1, was {ps}")

    @classmethod
    def from_mapping(cls, probabilities: Mapping[str, float], checkpoint: str = "") -> MorningScore:
        """From ``scalper.regime.service.Score.probabilities`` (keys trend_up, trend_down, balanced)."""
        return cls(
            trend_up=probabilities["trend_up"],
            trend_down=probabilities["trend_down"],
            balanced=probabilities["balanced"],
            checkpoint=checkpoint,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Gates:
    """Flow gates of one index; ``None`` = not known (votes nothing). ``wall_distance_pct`` is the
    distance from spot to the nearest call or put wall in percent of spot."""

    net_gex: float | None = None
    wall_distance_pct: float | None = None
    iv_rank: float | None = None
    relvol_0dte: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Reason:
    """Why a level moved: a stable ``code``, a human ``text``, and the ``effect`` ("+1", "-1", "cap off" ...)."""

    code: str
    text: str
    effect: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PlayDecision:
    play: str
    level: Level
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicyDecision:
    """Per-play decisions at ``at`` under thresholds ``version``."""

    at: dt.datetime
    version: str
    plays: dict[str, PlayDecision] = field(default_factory=dict)

    def level(self, play: str) -> Level:
        return self.plays[play].level


def decide(
    *,
    at: dt.datetime,
    flags: SessionFlags,
    scores: Mapping[str, MorningScore | None],
    gates: Mapping[str, Gates],
    thresholds: Thresholds,
) -> PolicyDecision:
    """The aggressiveness of every play at ``at`` (aware) on session ``flags.day``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvariantError(f"policy: expected an aware time, was naive {at}")
    p = thresholds.policy
    caps = _session_caps(at.astimezone(NEW_YORK), flags, p)
    out = {}
    for play, (index, style) in PLAYS.items():
        votes, reasons, favoured = _votes(style, scores.get(index), gates.get(index) or Gates(), p)
        level = max(1, min(3, 2 + sum(votes)))
        if level == 3 and not favoured:
            level = 2
            reasons.append(
                Reason(
                    code="AGGRESSIVE_NEEDS_SCORE",
                    text="aggressive only on a favouring morning score",
                    effect="cap normal",
                )
            )
        for cap, reason in caps + _index_caps(scores.get(index), gates.get(index) or Gates(), p):
            level = min(level, LEVELS.index(cap))
            reasons.append(reason)
        out[play] = PlayDecision(play=play, level=LEVELS[level], reasons=tuple(reasons))
    return PolicyDecision(at=at, version=thresholds.version, plays=out)


def _vote(code: str, text: str, step: int) -> tuple[int, Reason]:
    return step, Reason(code=code, text=text, effect=f"{step:+d}")


Leaning = Literal["trend", "balanced", "mixed"]


def leaning(score: MorningScore, p: PolicyThresholds) -> Leaning:
    """Which side of the policy's thresholds a morning score is on: ``trend`` (P(trend) ≥
    trend_favour), else ``balanced`` (P(balanced) ≥ balanced_favour), else ``mixed``."""
    if score.trend_up + score.trend_down >= p.trend_favour:
        return "trend"
    if score.balanced >= p.balanced_favour:
        return "balanced"
    return "mixed"


def _votes(
    style: Style, score: MorningScore | None, g: Gates, p: PolicyThresholds
) -> tuple[list[int], list[Reason], bool]:
    trend = style == "trend"
    pairs: list[tuple[int, Reason]] = []
    favoured = False
    if score is not None:
        lean = score.trend_up + score.trend_down
        side = leaning(score, p)
        if side == "trend":
            pairs.append(
                _vote(
                    "MORNING_TREND",
                    f"trend-leaning morning: P(trend) {lean:.2f} ≥ {p.trend_favour}",
                    1 if trend else -1,
                )
            )
            favoured = trend
        elif side == "balanced":
            pairs.append(
                _vote(
                    "MORNING_BALANCED",
                    f"balanced morning: P(balanced) {score.balanced:.2f} ≥ {p.balanced_favour}",
                    -1 if trend else 1,
                )
            )
            favoured = not trend
        else:
            pairs.append(
                _vote("MORNING_MIXED", f"mixed morning: P(trend) {lean:.2f}, P(balanced) {score.balanced:.2f}", 0)
            )
    if g.net_gex is not None and g.net_gex < 0:
        pairs.append(
            _vote("NEG_GAMMA", f"negative dealer gamma ({g.net_gex:.3g} $/1%): moves extend", 1 if trend else 0)
        )
    elif (
        g.net_gex is not None
        and g.net_gex > 0
        and g.wall_distance_pct is not None
        and g.wall_distance_pct <= p.near_wall_pct
    ):
        pairs.append(
            _vote(
                "POS_GAMMA_NEAR_WALL",
                f"positive gamma, spot {g.wall_distance_pct:.2f}% from a wall: moves pinned",
                -1 if trend else 1,
            )
        )
    if g.relvol_0dte is not None and trend:
        if g.relvol_0dte >= p.relvol_high:
            pairs.append(_vote("RELVOL_HIGH", f"relative 0DTE volume {g.relvol_0dte:.2f} ≥ {p.relvol_high}", 1))
        elif g.relvol_0dte <= p.relvol_low:
            pairs.append(_vote("RELVOL_LOW", f"relative 0DTE volume {g.relvol_0dte:.2f} ≤ {p.relvol_low}", -1))
    if g.iv_rank is not None and trend and g.iv_rank <= p.iv_rank_low:
        pairs.append(_vote("IV_RANK_LOW", f"IV rank {g.iv_rank:.0f} ≤ {p.iv_rank_low:.0f}: quiet market", -1))
    return [v for v, _ in pairs], [r for _, r in pairs], favoured


def _cap(level: Level, code: str, text: str) -> tuple[Level, Reason]:
    return level, Reason(code=code, text=text, effect=f"cap {level}")


def _index_caps(score: MorningScore | None, g: Gates, p: PolicyThresholds) -> list[tuple[Level, Reason]]:
    caps = []
    if score is None:
        caps.append(_cap(p.no_score_level, "NO_MORNING_SCORE", "no morning regime score yet"))
    if g.iv_rank is not None and g.iv_rank >= p.iv_rank_extreme:
        caps.append(
            _cap("reduced", "IV_RANK_EXTREME", f"IV rank {g.iv_rank:.0f} ≥ {p.iv_rank_extreme:.0f}: outsized moves")
        )
    return caps


def _minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


def _session_caps(now: dt.datetime, flags: SessionFlags, p: PolicyThresholds) -> list[tuple[Level, Reason]]:
    """Caps that hold for every play at ``now`` (New York time)."""
    caps: list[tuple[Level, Reason]] = []
    open_, close = flags.open.astimezone(NEW_YORK), flags.close.astimezone(NEW_YORK)
    if not open_ <= now < close:
        caps.append(_cap("off", "OUTSIDE_SESSION", f"outside the session {open_:%H:%M}–{close:%H:%M} of {flags.day}"))
    elif now >= close - dt.timedelta(minutes=p.no_entry_before_close_min):
        caps.append(
            _cap(
                "off",
                "SESSION_CLOSING",
                f"no new entries in the last {p.no_entry_before_close_min} min before {close:%H:%M}",
            )
        )
    if flags.early_close:
        caps.append(_cap(p.early_close_level, "EARLY_CLOSE", f"early close at {close:%H:%M}"))
    stale = flags.staleness
    if stale.level == "off":
        caps.append(_cap("off", "CALENDAR_STALE_OFF", f"economic calendar stale: {stale.describe()}"))
    elif stale.level == "reduced":
        caps.append(_cap("reduced", "CALENDAR_STALE", f"economic calendar nearly stale: {stale.describe()}"))
    minute = _minute(now)
    fomc = flags.of_kind(*FOMC_KINDS)
    if fomc:
        start = _minute(fomc[0].local) - dt.timedelta(minutes=p.fomc_block_before_min)
        end = _minute(fomc[-1].local) + dt.timedelta(minutes=p.fomc_block_after_min)
        if start <= minute <= end:
            caps.append(_cap("off", "FOMC_BLACKOUT", f"FOMC day: no new entries {start:%H:%M}–{end:%H:%M}"))
        elif minute > end:
            caps.append(_cap(p.fomc_after_level, "FOMC_AFTERMATH", f"FOMC day after {end:%H:%M}"))
    early = [e for e in flags.of_kind(*p.open_release_kinds) if e.local < open_]
    if early and now.time() < p.open_release_until:
        names = ", ".join(sorted({e.kind for e in early}))
        caps.append(
            _cap(
                p.open_release_level,
                "PRE_OPEN_RELEASE",
                f"{names} released before the open: until {p.open_release_until:%H:%M}",
            )
        )
    for e in flags.of_kind(*p.intraday_release_kinds):
        t = _minute(e.local)
        if (
            t - dt.timedelta(minutes=p.intraday_block_before_min)
            <= minute
            <= t + dt.timedelta(minutes=p.intraday_block_after_min)
        ):
            caps.append(_cap("off", "RELEASE_BLACKOUT", f"{e.kind} at {t:%H:%M}: no new entries around it"))
    return caps
