"""The session policy of ``scalper run``: each play's level, decided on market time from what the
database holds at that time.

:class:`LivePolicy` is the trader's ``level_of``. The decision (:func:`scalper.strategy.policy.decide`)
is taken once per minute of market time, with inputs refreshed at fixed market times, so a replay
of the same stored data decides the same levels:

* the economic calendar of the day (read at the day's first decision);
* the options gates of each index, at the day's first decision: dealer gamma (net GEX and the
  distance to the nearest wall) of the latest chain stored before that moment, and the IV rank of
  the daily 30-day ATM IV of the sessions before the day;
* the relative 0DTE volume of each index's roots, refreshed every ``relvol_every_min`` minutes;
* the morning regime score of each index at each checkpoint (10:00, 10:30), computed at the first
  decision at or after it from the bars stored up to then (:func:`scalper.regime.service.run_score`,
  which needs labelled history).

An input that cannot be computed (no chain, too little history) is unknown for the policy — its
rules for a missing input apply — and the reason is logged once per day. Every change of any
play's level is stored in ``policy_decisions`` with the inputs that produced it. The work is done
inside the decision that needs it (a few milliseconds at those minutes), on the policy's own
database connection; the decision itself, every minute, is pure.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import psycopg

from scalper.adapters.store.options import read_chain
from scalper.adapters.store.policy import store_decision
from scalper.apps.options import daily_atm_series, latest_chain_ts, levels_of
from scalper.core.errors import DataError, ScalperError
from scalper.core.timeutil import NEW_YORK, ns_to_datetime
from scalper.gates.ivrank import iv_standing
from scalper.gates.store import relative_0dte_volume
from scalper.options.gex import Variant
from scalper.regime.service import DEFAULT_CHECKPOINTS, Settings, run_score
from scalper.strategy.policy import Gates, MorningScore, PolicyDecision, decide
from scalper.strategy.session import load_session_flags
from scalper.strategy.thresholds import Level, Thresholds

log = logging.getLogger(__name__)

NS_PER_MIN = 60_000_000_000
#: option roots of each index's 0DTE volume
ROOTS = {"I:SPX": ("SPX", "SPXW"), "I:NDX": ("NDX", "NDXP")}


class LivePolicy:
    """The trader's ``level_of`` in ``scalper run`` (see the module docstring)."""

    def __init__(
        self,
        connect_db: Callable[[], psycopg.Connection[Any]],
        thresholds: Thresholds,
        *,
        indices: tuple[str, ...] = ("I:SPX", "I:NDX"),
        checkpoints: tuple[str, ...] = DEFAULT_CHECKPOINTS,
        relvol_every_min: int = 5,
        regime: Settings | None = None,
    ) -> None:
        self._connect = connect_db
        self._thresholds = thresholds
        self._indices = indices
        self._checkpoints = tuple(sorted(checkpoints))
        self._relvol_every = relvol_every_min
        self._regime = regime or Settings()
        self._day: dt.date | None = None
        self._flags: Any = None
        self._gates: dict[str, Gates] = {}
        self._scores: dict[str, MorningScore | None] = {}
        self._scored: set[tuple[str, str]] = set()
        self._relvol_minute: int | None = None
        self._minute: int | None = None
        self._levels: dict[str, Level] = {}
        self._said: set[str] = set()
        self._conn: psycopg.Connection[Any] | None = None
        self.decisions: list[PolicyDecision] = []

    def __call__(self, play: str, ts: int) -> Level:
        minute = ts // NS_PER_MIN
        if minute != self._minute:
            self._decide(minute)
        return self._levels.get(play, "off")

    @property
    def gates(self) -> dict[str, Gates]:
        """The gates in force (a copy)."""
        return dict(self._gates)

    @property
    def scores(self) -> dict[str, MorningScore | None]:
        """The morning scores known so far today (a copy)."""
        return dict(self._scores)

    def _db(self) -> psycopg.Connection[Any]:
        """The policy's own connection, opened when first needed and again after a failure."""
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _decide(self, minute: int) -> None:
        at_ns = minute * NS_PER_MIN
        at = ns_to_datetime(at_ns).astimezone(NEW_YORK)
        try:
            if at.date() != self._day:
                self._new_day(self._db(), at.date(), at_ns)
            if self._relvol_minute is None or minute - self._relvol_minute >= self._relvol_every:
                self._relvol(self._db(), at_ns)
                self._relvol_minute = minute
            for cp in self._checkpoints:
                if at.time() >= dt.time.fromisoformat(cp) and any((i, cp) not in self._scored for i in self._indices):
                    self._score(self._db(), at.date(), cp)
        except psycopg.Error as exc:  # inputs stay as they were; the calendar is required
            log.error("policy: the database failed while refreshing inputs at %s: %s", at, exc)
            self.close()
            if self._flags is None or at.date() != self._day:
                raise
        decision = decide(at=at, flags=self._flags, scores=self._scores, gates=self._gates, thresholds=self._thresholds)
        levels = {name: d.level for name, d in decision.plays.items()}
        if levels != self._levels:
            self._store(decision)
        self._levels = levels
        self._minute = minute

    def _new_day(self, conn: psycopg.Connection[Any], day: dt.date, at_ns: int) -> None:
        self._day = day
        self._said.clear()
        self._scores, self._scored, self._relvol_minute = {}, set(), None
        self._flags = load_session_flags(conn, day, self._thresholds.policy.calendar)
        self._gates = {index: self._chain_gates(conn, index, day, at_ns) for index in self._indices}

    def _chain_gates(self, conn: psycopg.Connection[Any], index: str, day: dt.date, at_ns: int) -> Gates:
        net_gex = wall = rank = None
        try:
            ts = latest_chain_ts(conn, index, at_ns)
            if ts is None:
                self._say(index, f"{index}: no option chain stored before {day}: no gamma gate")
            else:
                oi = next(lv for lv in levels_of(read_chain(conn, index, ts)) if lv.variant == Variant.OI)
                net_gex = oi.net_gex if math.isfinite(oi.net_gex) else None
                walls = [w for w in (oi.call_wall, oi.put_wall) if math.isfinite(w)]
                wall = min(abs(oi.spot - w) for w in walls) / oi.spot * 100 if walls and oi.spot > 0 else None
            series = [v for date, v, _ in daily_atm_series(conn, index) if date < day.isoformat()]
            standing = iv_standing(series) if series else None
            rank = None if standing is None else standing.rank
        except (DataError, ScalperError, psycopg.Error) as exc:
            self._say(index, f"{index}: options gates unknown today: {exc}")
        return Gates(net_gex=net_gex, wall_distance_pct=wall, iv_rank=rank)

    def _relvol(self, conn: psycopg.Connection[Any], at_ns: int) -> None:
        for index in self._indices:
            roots = ROOTS.get(index)
            if roots is None:
                continue
            try:
                flow = relative_0dte_volume(conn, roots, at_ns)
            except (DataError, psycopg.Error) as exc:
                self._say(f"relvol {index}", f"{index}: relative 0DTE volume unknown: {exc}")
                continue
            if flow.ratio is None:
                self._say(f"relvol {index}", f"{index}: relative 0DTE volume not ready: {flow.reason}")
            self._gates[index] = replace(self._gates.get(index, Gates()), relvol_0dte=flow.ratio)

    def _score(self, conn: psycopg.Connection[Any], day: dt.date, cp: str) -> None:
        for index in self._indices:
            if (index, cp) in self._scored:
                continue
            self._scored.add((index, cp))
            try:
                (score,) = run_score(conn, index, [day], (cp,), self._regime)
            except (DataError, ScalperError, psycopg.Error, ValueError) as exc:
                self._say(f"score {index} {cp}", f"{index}: no morning score at {cp}: {exc}")
                continue
            self._scores[index] = MorningScore.from_mapping(score.probabilities, cp)

    def _store(self, decision: PolicyDecision) -> None:
        self.decisions.append(decision)
        inputs = {
            "scores": {k: asdict(v) for k, v in self._scores.items() if v},
            "gates": {k: asdict(v) for k, v in self._gates.items()},
        }
        try:
            store_decision(self._db(), decision, inputs)
        except (ScalperError, psycopg.Error) as exc:
            log.warning("policy: decision at %s not stored: %s", decision.at, exc)
            self.close()

    def _say(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            log.warning("policy: %s", text)
