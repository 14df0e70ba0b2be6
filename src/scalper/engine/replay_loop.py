"""The compiled replay loop: the trader's event path in compiled code while no trade is in progress.

:class:`CompiledReplay` drives a :class:`~scalper.engine.trader.Trader` over event arrays (one-second
aggregates in delivery order, :class:`~scalper.features.engine.EventArrays`) with the very decisions
:meth:`Trader.on_event` takes event by event, faster:

* while the trader is *idle* (no trade in progress, every position flat), :func:`run_fast` does in
  compiled code what ``on_event`` does for an event: the feature step (the same kernel,
  :func:`~scalper.features.kernel.step_event`), the last price, and on an index bar each play on that
  index stepped by its compiled rule (:func:`~scalper.plays.kernels.step_play`) with the level of the
  minute from a :class:`LevelTable`. Skips are counted in arrays and their latest outputs kept, so
  the trader's skip counts and texts come out the same. Nothing else of ``on_event`` has an effect
  while idle: the broker has no open order (it only moves its time), the kill switch has no
  position to mark and sees its data heartbeat at the next event handed over, with the same result;
* the loop hands an event over to Python (:meth:`Trader.on_event`, untouched) when its known time
  reaches a mark the trader needs (the next session's open: the kill switch's daily reset) or the
  event lies beyond the calendar; and it stops *after* an index bar on which a play has an intent
  (or an error): :meth:`Trader.on_event_stepped` then does the rest of ``on_event`` with the plays'
  outputs, exactly as if it had stepped them itself;
* while a trade is in progress every event goes through :meth:`Trader.on_event`.

Requirements, checked: events are one-second aggregates of the feature engine's symbols; every play
is a built-in play with a compiled rule; the level of a play depends only on the minute (as
:class:`~scalper.apps.live_policy.LivePolicy` decides it): :class:`LevelTable` asks the trader's
``level_of`` once per minute that has an index bar, in time order, and the trader reads the table
for the rest of the replay (so the policy is asked exactly what ``on_event`` would ask it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import InvariantError
from scalper.core.events import SECOND_NS, SecondAgg
from scalper.engine.trader import Watch
from scalper.features import kernel as K
from scalper.features._jit import kernel
from scalper.features.engine import REASONS, EventArrays, is_index
from scalper.features.snapshot import FIELDS
from scalper.plays import kernels as PK
from scalper.plays.base import LEVELS, Play
from scalper.plays.compiled import CompiledPlay
from scalper.strategy.thresholds import Level

NS_PER_MIN = 60 * SECOND_NS

RUN_END = 0  # every event up to the stop was handled
HANDOFF = 1  # the event was not handled: Python handles it whole
DECIDED = 2  # the event was handled up to the plays, and a play has an intent: Python does the rest
FEATURES_DONE = 3  # the features step was applied: Python does the rest (a mark, a trail), plays included

ATR_1M = FIELDS.index("atr_1m")
NEVER = 2**62
TRAIL_RUNS = 64  # runs of one ATR value a trailing exit is followed through before the trader catches up

_NO_MINUTE = -1


@kernel
def run_fast(
    states: NDArray[np.float64],
    fparams: NDArray[np.float64],
    sessions: NDArray[np.int64],
    partner: NDArray[np.int64],
    snapshots: NDArray[np.float64],
    ev_symbol: NDArray[np.int64],
    ev_ts: NDArray[np.int64],
    ea: NDArray[np.float64],
    eb: NDArray[np.float64],
    ec: NDArray[np.float64],
    ed: NDArray[np.float64],
    ee: NDArray[np.float64],
    ef: NDArray[np.float64],
    start: int,
    stop: int,
    handoff_ns: int,
    p_kind: NDArray[np.int64],
    p_index: NDArray[np.int64],
    p_proxy: NDArray[np.int64],
    p_fs: NDArray[np.float64],
    p_its: NDArray[np.int64],
    p_params: NDArray[np.float64],
    p_out: NDArray[np.float64],
    levels: NDArray[np.int64],
    minute0: int,
    skip_counts: NDArray[np.int64],
    skip_last: NDArray[np.float64],
    last_price: NDArray[np.float64],
    refused: NDArray[np.int64],
    result: NDArray[np.int64],
    broker_t: int,
    w_t: NDArray[np.int64],
    w_low: NDArray[np.float64],
    w_high: NDArray[np.float64],
    tr_sym: NDArray[np.int64],
    tr_dir: NDArray[np.int64],
    tr_best: NDArray[np.float64],
    tr_bound: NDArray[np.float64],
    tr_params: NDArray[np.float64],
    tr_seg_best: NDArray[np.float64],
    tr_seg_atr: NDArray[np.float64],
    tr_nseg: NDArray[np.int64],
    pos_qty: NDArray[np.float64],
    pos_avg: NDArray[np.float64],
    realised: float,
    loss_limit: float,
    mark_prices: NDArray[np.float64],
    mark_ts: NDArray[np.int64],
) -> int:
    """Handle the one-second bars ``start..stop-1`` as the idle trader would; returns the index of the
    event the loop stopped at (``stop`` at the end) and sets ``result[0]`` to RUN_END, HANDOFF
    (that event not handled) or DECIDED (handled up to the plays; their outputs in ``p_out``).

    ``levels[p, m]`` is play p's level (0..3) in minute ``minute0 + m``, −1 where unknown (handed over).

    Trades in progress (the guards; empty when idle): an event stamped at or after ``broker_t`` or
    ``w_t[s]``, or whose range reaches ``w_low[s]``/``w_high[s]``, is handed over (the broker acts
    on it); after the features step, an event that moves or triggers a trailing exit (``tr_*``) or
    whose mark could reach the daily loss limit stops as FEATURES_DONE. ``mark_prices`` and
    ``mark_ts`` receive the last prices and known time of the last mark (``mark_ts[0]`` −1: none).
    """
    n_plays = p_kind.shape[0]
    n_minutes = levels.shape[1]
    n_trails = tr_sym.shape[0]
    n_symbols = last_price.shape[0]
    for i in range(start, stop):
        ts = ev_ts[i]
        known = ts + 1_000_000_000
        s = ev_symbol[i]
        if known >= handoff_ns or ts >= broker_t or ts >= w_t[s] or ec[i] <= w_low[s] or eb[i] >= w_high[s]:
            result[0] = HANDOFF
            return i
        plays_here = False
        m = known // 60_000_000_000 - minute0
        for p in range(n_plays):
            if p_index[p] == s:
                plays_here = True
                if m < 0 or m >= n_minutes or levels[p, m] < 0:
                    result[0] = HANDOFF
                    return i
        status = K.step_event(
            states, fparams, sessions, partner, s, K.SECOND, ts, ea[i], eb[i], ec[i], ed[i], ee[i], ef[i], snapshots[s]
        )
        if status == K.OUTSIDE_CALENDAR:  # the state is untouched: Python refuses and counts it
            result[0] = HANDOFF
            return i
        if status != K.OK:
            refused[status] += 1
        last_price[s] = ed[i]
        if pos_qty[s] != 0.0:  # the trader marks every open position at the last prices
            unrealised = 0.0
            for k in range(n_symbols):
                if pos_qty[k] != 0.0 and last_price[k] == last_price[k]:
                    unrealised += pos_qty[k] * (last_price[k] - pos_avg[k])
            mark_prices[:] = last_price
            mark_ts[0] = known
            if realised + unrealised <= -loss_limit + 1e-6 * (1.0 + loss_limit):
                result[0] = FEATURES_DONE
                return i
        for t in range(n_trails):
            if tr_sym[t] != s:
                continue
            atr = snapshots[s, ATR_1M]
            d = tr_dir[t]
            best = max(tr_best[t], eb[i]) if d > 0 else min(tr_best[t], ec[i])
            n = tr_nseg[t]
            new_run = n == 0 or not _same(atr, tr_seg_atr[t, n - 1])
            bound = _stop_bound(d, best, atr, tr_bound[t], tr_params[t])
            if (new_run and n == tr_seg_best.shape[1]) or d * (ed[i] - bound) <= 0.0:
                result[0] = FEATURES_DONE  # the trader follows this bar itself
                return i
            if new_run:
                tr_seg_atr[t, n] = atr
                n += 1
                tr_nseg[t] = n
            tr_seg_best[t, n - 1] = best
            tr_best[t] = best
            tr_bound[t] = bound
        if not plays_here:
            continue
        decided = False
        for p in range(n_plays):
            if p_index[p] == s:
                outcome = PK.step_play(
                    p_kind[p],
                    p_fs[p],
                    p_its[p],
                    p_params[p],
                    known,
                    snapshots[s],
                    snapshots[p_proxy[p]],
                    levels[p, m],
                    p_out[p],
                )
                if outcome != PK.SKIP:
                    decided = True
        if decided:
            result[0] = DECIDED
            return i
        for p in range(n_plays):
            if p_index[p] == s:
                code = int(p_out[p, PK.O_CODE])
                skip_counts[p, code] += 1
                skip_last[p, code, :] = p_out[p]
    result[0] = RUN_END
    return stop


# tr_params columns
TR_ENTRY = 0
TR_RISK = 1
TR_MULTIPLE = 2
TR_BREAKEVEN_R = 3
TR_BREAKEVEN_OFFSET = 4
TR_TICK = 5


@kernel
def _same(a: float, b: float) -> bool:
    """Equal, or both nan."""
    return a == b or (a != a and b != b)


@kernel
def _stop_bound(d: int, best: float, atr: float, bound: float, p: NDArray[np.float64]) -> float:
    """A bound the trailing stop cannot pass (long: at most; short: at least) after a bar that takes
    the best price to ``best`` under ``atr``: the bound so far (from the last known stop), the
    breakeven level once reached and the ATR candidate, each before its rounding to the tick plus
    one tick. A bar closing beyond it cannot reach the stop."""
    tick = p[TR_TICK]
    if d * (best - p[TR_ENTRY]) >= p[TR_BREAKEVEN_R] * p[TR_RISK] * (1 - 1e-9):
        level = p[TR_ENTRY] + d * p[TR_BREAKEVEN_OFFSET] + d * tick
        bound = max(bound, level) if d > 0 else min(bound, level)
    if atr == atr and atr > 0.0:
        level = best - d * p[TR_MULTIPLE] * atr + d * tick
        bound = max(bound, level) if d > 0 else min(bound, level)
    return bound


def seconds_arrays(events: Sequence[SecondAgg], codes: Mapping[str, int]) -> EventArrays:
    """One-second aggregates (in delivery order) as the arrays the loop takes; ``codes`` are the
    feature engine's symbol codes (an unknown symbol is an :class:`InvariantError`)."""
    unknown = sorted({e.symbol for e in events} - codes.keys())
    if unknown:
        raise InvariantError(f"compiled replay: symbols the feature engine lacks: {', '.join(unknown)}")
    nan = math.nan
    return EventArrays.seconds(
        np.array([codes[e.symbol] for e in events], dtype=np.int64),
        np.array([e.ts_event for e in events], dtype=np.int64),
        np.array([e.open for e in events]),
        np.array([e.high for e in events]),
        np.array([e.low for e in events]),
        np.array([e.close for e in events]),
        np.array([nan if e.volume is None else e.volume for e in events]),
        np.array([nan if e.vwap is None else e.vwap for e in events]),
    )


@dataclass(slots=True)
class LevelTable:
    """Each play's level per minute (known time // 1 min) of the index bars of a span of events."""

    plays: tuple[str, ...]
    minute0: int
    codes: NDArray[np.int64]  # (plays, minutes): LEVELS index, −1 where not asked

    @classmethod
    def ask(cls, level_of: Any, plays: Sequence[Play[Any]], minutes: NDArray[np.int64]) -> LevelTable:
        """Ask ``level_of(play, minute start)`` for every play and every minute of ``minutes`` (sorted,
        unique), in time order and play order, as the trader would at each minute's first index bar."""
        names = tuple(p.name for p in plays)
        if minutes.size == 0:
            return cls(names, 0, np.full((len(names), 0), -1, dtype=np.int64))
        minute0 = int(minutes[0])
        codes = np.full((len(names), int(minutes[-1]) - minute0 + 1), -1, dtype=np.int64)
        for m in minutes.tolist():
            for k, play in enumerate(plays):
                codes[k, m - minute0] = LEVELS.index(level_of(play.name, m * NS_PER_MIN))
        return cls(names, minute0, codes)

    def level_of(self, play: str, ts: int) -> Level:
        """The trader's ``level_of`` over the table (an :class:`InvariantError` for a minute not asked)."""
        m = ts // NS_PER_MIN - self.minute0
        code = -1
        if 0 <= m < self.codes.shape[1]:
            code = int(self.codes[self.plays.index(play), m])
        if code < 0:
            raise InvariantError(f"level table: no level of {play} for the minute of {ts}")
        return LEVELS[code]


class CompiledReplay:
    """Drive ``trader`` over event arrays (see the module docstring)."""

    def __init__(self, trader: Any) -> None:
        self.trader = trader
        features = trader.features
        self.symbols: tuple[str, ...] = features.symbols
        plays: list[CompiledPlay[Any]] = []
        for play in trader.plays.values():
            if not isinstance(play, CompiledPlay):
                raise InvariantError(f"compiled replay: play {play.name} has no compiled rule")
            plays.append(play)
        self.plays = plays
        self.p_kind = np.array([p.kernel_kind for p in plays], dtype=np.int64)
        self.p_index = np.array([features.codes[p.index] for p in plays], dtype=np.int64)
        self.p_proxy = np.array([features.codes[p.proxy] for p in plays], dtype=np.int64)
        self.p_params = np.stack([p.kernel_params for p in plays]) if plays else np.zeros((0, PK.N_PARAMS))
        self.p_out = np.full((len(plays), PK.N_OUT), math.nan)
        # every play's state as rows of two arrays the kernel takes whole (the plays keep views)
        self.p_fs = np.zeros((len(plays), PK.N_FS))
        self.p_its = np.zeros((len(plays), PK.N_ITS), dtype=np.int64)
        for k, play in enumerate(plays):
            play.adopt_state(self.p_fs[k], self.p_its[k])
        n_codes = len(PK.CODES)
        self.skip_counts = np.zeros((len(plays), n_codes), dtype=np.int64)
        self.skip_last = np.full((len(plays), n_codes, PK.N_OUT), math.nan)
        self.refused = np.zeros(4, dtype=np.int64)
        self.result = np.zeros(1, dtype=np.int64)
        #: events handled in compiled code / handed to Python whole / finished in Python after the plays
        self.compiled = self.handed = self.decided = 0
        #: trailing exits brought up to date after bars followed in compiled code
        self.trail_catch_ups = 0

    def run(self, events: EventArrays, *, level_of: Any | None = None) -> None:
        """Every event of ``events`` through the trader. The levels are asked of ``level_of`` (default:
        the trader's) once per minute with an index bar, and the trader reads them from the table
        during the run (its own ``level_of`` is put back after)."""
        if len(events) == 0:
            return
        if bool(np.any(events.kind != K.SECOND)):
            raise InvariantError("compiled replay: expected one-second aggregates only")
        trader = self.trader
        indices = np.array([is_index(s) for s in self.symbols])
        minutes = np.unique((events.ts[indices[events.symbol]] + SECOND_NS) // NS_PER_MIN)
        original = trader.level_of
        table = LevelTable.ask(level_of or original, self.plays, minutes)
        trader.level_of = table.level_of
        try:
            self._run(events, table)
        finally:
            trader.level_of = original

    def _run(self, events: EventArrays, table: LevelTable) -> None:
        trader = self.trader
        f = trader.features
        n = len(events)
        i = 0
        while i < n:
            watch = trader.watch()
            if watch.python_only:
                trader.on_event(self.event(events, i))
                self.handed += 1
                i += 1
                continue
            (broker_t, w_t, w_low, w_high, tr_sym, tr_dir, tr_best, tr_bound, tr_params, pos_qty,
             pos_avg) = self._guards(watch)  # fmt: skip
            tr_seg_best = np.zeros((len(watch.trails), TRAIL_RUNS))
            tr_seg_atr = np.zeros((len(watch.trails), TRAIL_RUNS))
            tr_nseg = np.zeros(len(watch.trails), dtype=np.int64)
            last_price = np.array([trader.last_price(s) for s in self.symbols])
            mark_prices = np.full(len(self.symbols), math.nan)
            mark_ts = np.full(1, -1, dtype=np.int64)
            until = NEVER if watch.until is None else watch.until
            j = int(
                run_fast(
                    f.states, f.param_rows, f.sessions, f.partner, f.snapshots,
                    events.symbol, events.ts, events.a, events.b, events.c, events.d, events.e, events.f,
                    i, n, min(self._handoff_ns(), until),
                    self.p_kind, self.p_index, self.p_proxy, self.p_fs, self.p_its, self.p_params, self.p_out,
                    table.codes, table.minute0, self.skip_counts, self.skip_last, last_price, self.refused,
                    self.result, broker_t, w_t, w_low, w_high, tr_sym, tr_dir, tr_best, tr_bound, tr_params,
                    tr_seg_best, tr_seg_atr, tr_nseg, pos_qty, pos_avg, watch.realised, watch.loss_limit,
                    mark_prices, mark_ts,
                )
            )  # fmt: skip
            code = int(self.result[0])
            handled = j + 1 if code in (DECIDED, FEATURES_DONE) else j
            self.compiled += j - i
            for k, trail in enumerate(watch.trails):
                for run in range(int(tr_nseg[k])):
                    trader.catch_up_trail(trail.play, float(tr_seg_best[k, run]), float(tr_seg_atr[k, run]))
                    self.trail_catch_ups += 1
            if mark_ts[0] >= 0:
                seen = np.flatnonzero(np.isfinite(mark_prices)).tolist()
                trader.mark_at(int(mark_ts[0]), {self.symbols[k]: float(mark_prices[k]) for k in seen})
            self._merge(int(events.ts[handled - 1]) + SECOND_NS if handled > i else None, last_price)
            if code == RUN_END:
                i = j
            elif code == HANDOFF:
                trader.on_event(self.event(events, j))
                self.handed += 1
                i = j + 1
            else:
                outputs = None
                if code == DECIDED:
                    outputs = {
                        p.name: self.p_out[k].copy()
                        for k, p in enumerate(self.plays)
                        if self.p_index[k] == events.symbol[j]
                    }
                trader.on_event_stepped(self.event(events, j), outputs)
                self.decided += 1
                i = j + 1

    def _guards(self, watch: Watch) -> tuple[Any, ...]:
        """The kernel's guard arguments for the trades in progress (all empty when idle)."""
        broker = self.trader.broker
        n = len(self.symbols)
        w_t = np.full(n, NEVER, dtype=np.int64)
        w_low = np.full(n, -math.inf)
        w_high = np.full(n, math.inf)
        for k, symbol in enumerate(self.symbols):
            t, low, high = broker.watch(symbol)
            w_t[k] = NEVER if t is None else t
            w_low[k], w_high[k] = low, high
        timer = broker.next_timer()
        codes = self.trader.features.codes
        trails = watch.trails
        pos_qty = np.zeros(n)
        pos_avg = np.zeros(n)
        for symbol, (qty, avg) in watch.positions.items():
            if symbol in codes:
                pos_qty[codes[symbol]], pos_avg[codes[symbol]] = qty, avg
        return (
            NEVER if timer is None else timer,
            w_t,
            w_low,
            w_high,
            np.array([codes[t.symbol] for t in trails], dtype=np.int64),
            np.array([t.direction for t in trails], dtype=np.int64),
            np.array([t.best for t in trails], dtype=np.float64),
            np.array([t.stop for t in trails], dtype=np.float64),
            np.array(
                [[t.entry, t.risk, t.multiple, t.breakeven_after_r, t.breakeven_offset, t.tick] for t in trails],
                dtype=np.float64,
            ).reshape(len(trails), 6),
            pos_qty,
            pos_avg,
        )

    def _handoff_ns(self) -> int:
        """The next session's open after the trader's time (the kill switch resets there)."""
        now = self.trader.now
        opens = self.trader.features.sessions[:, 0]
        if now is None:
            return int(opens[0]) if opens.size else 2**62
        k = int(np.searchsorted(opens, now, side="right"))
        return int(opens[k]) if k < opens.size else 2**62

    def _merge(self, last_known: int | None, last_price: NDArray[np.float64]) -> None:
        """Move what the compiled loop counted into the trader and the feature engine; ``last_known``
        is the known time of the last event it handled (None: none), ``last_price`` its last prices."""
        trader = self.trader
        rows, codes = np.nonzero(self.skip_counts)
        for k, code in zip(rows.tolist(), codes.tolist(), strict=True):
            play = self.plays[k]
            skip = play.skip_of(self.skip_last[k, code])
            key = (play.name, skip.code)
            trader.skips[key] += int(self.skip_counts[k, code])
            trader.skip_texts[key] = skip.text
            self.skip_counts[k, code] = 0
        if self.refused.any():
            for status in np.flatnonzero(self.refused).tolist():
                trader.features.refused[REASONS[status]] += int(self.refused[status])
            self.refused[:] = 0
        if last_known is not None:
            seen = np.flatnonzero(np.isfinite(last_price)).tolist()
            trader.note_idle(last_known, {self.symbols[s]: float(last_price[s]) for s in seen})

    def event(self, events: EventArrays, i: int) -> SecondAgg:
        """Event ``i`` as the :class:`SecondAgg` the trader takes."""
        ts = int(events.ts[i])
        volume, vwap = float(events.e[i]), float(events.f[i])
        return SecondAgg(
            symbol=self.symbols[int(events.symbol[i])],
            ts_event=ts,
            ts_end=ts + SECOND_NS,
            open=float(events.a[i]),
            high=float(events.b[i]),
            low=float(events.c[i]),
            close=float(events.d[i]),
            volume=None if math.isnan(volume) else volume,
            vwap=None if math.isnan(vwap) else vwap,
        )
