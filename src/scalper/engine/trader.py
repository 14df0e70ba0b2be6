"""The trader: one engine turning market events into orders, the same for replay and live.

:class:`Trader` owns a :class:`~scalper.features.engine.FeatureEngine`, the plays, the risk
configuration (``[risk.*]`` thresholds) with a :class:`~scalper.risk.limits.KillSwitch`, an
:class:`~scalper.oms.OrderBook` and a broker behind the :class:`~scalper.brokers.port.Broker`
port. Market events are handed to :meth:`Trader.on_event` in replay order
(:mod:`scalper.engine.sequencer`); for each event:

1. the event's *known time* is its ``ts_event`` for a trade or quote and its ``ts_end`` for an
   aggregate (the bar is complete then). With a :class:`~scalper.core.clock.ReplayClock` the
   trader moves that clock to the known time (replay); any other clock is only read;
2. the features are updated (symbols the feature engine does not follow are skipped);
3. the event is forwarded to the broker when the broker is driven by market events (it has an
   ``on_event`` method, like :class:`~scalper.brokers.sim.SimBroker`, which takes events in this
   delivery order); its updates come back through the listener (step 6);
4. the kill switch gets a data heartbeat and, when a traded symbol has an open position, the
   mark-to-market of every open position at the last prices seen;
5. on a one-second bar of an index (``I:SPX``; a minute bar when the feature engine works at minute
   resolution, from minute data only), each play on that index gets
   ``on_snapshot(known time, index snapshot, proxy snapshot, level)`` with
   ``level = level_of(play name, known time)``. The proxy snapshot is the latest applied: in
   replay order the index's bar of a second comes before the proxy's bar of the same second;
6. broker updates are applied to the book; fills update the positions and feed each fill's
   realised PnL (costs included) to the kill switch; when a play's trade is over (nothing open,
   flat) and the play still believes it holds a position, ``play.position_closed(ts)`` is called;
7. when the kill switch asks to flatten (a trip, or the close is near), :meth:`Trader.flatten`
   runs once per request cause and again while a position re-opens (a cancel losing the race
   against a fill).

An :class:`~scalper.plays.base.EnterIntent` is taken when the play has no trade in progress and
the kill switch allows an entry at the play's level: the bracket is planned in proxy dollars
(entry, stop and target mapped through the intent's ratio, stop rounded away from the entry,
target toward it, :func:`~scalper.risk.brackets.plan_bracket`) and sized from the plan's rounded
risk per share (:func:`~scalper.risk.sizing.size_position`; equity, the proxies' daily sigma and
the plays' expectancy bounds are parameters). The signal id is ``{play}-{decision ts}``; client
ids come from :func:`~scalper.oms.ids.client_order_id` per leg. The bracket is a market entry, a
stop order and a limit target, day orders, recorded in the book (``new``) and then submitted.
Every intent gives a :class:`SignalRecord` (accepted or refused, with the reasons: the play's,
the policy level, the sizing or the blocks), kept in memory in :attr:`Trader.signals`.
A refused entry tells the play its position is closed (so its cooldown starts).

An :class:`~scalper.plays.base.ExitIntent` with a trade in progress cancels the trade's open
orders (entry if still working, stop, target) and sends a market ``exit`` order for the net
position. :meth:`Trader.flatten` does the same for every trade, with ``flatten`` orders.

Decision latency: ``perf_counter_ns`` (injected) is read when an event arrives at
:meth:`Trader.on_event` and just before the bracket is submitted; the difference is the record's
``latency_ns``. It is the only wall-time read, and it never influences a decision.

Trailing exit (``[risk.trailing] rule = "atr"``): from the entry's first fill, each one-second bar
(minute bar at minute resolution) of the traded proxy moves a
:class:`~scalper.risk.trailing.TrailingStop` started from the bracket plan (``atr_multiple`` × the
proxy's 1-minute ATR behind the best price, and breakeven once the trade is ``breakeven_after_r`` R
in its favour; it never loosens). A bar closing at or through it
closes the trade like an exit intent (reason ``TRAIL_STOP``): the engine manages the trail, so it
behaves the same with every broker; the bracket's stop stays as the protective order.

Every decision and every order-book change goes to the :class:`~scalper.engine.journal.Journal`
(order submissions before the broker call). :meth:`Trader.resume` takes over a stored run.

Not done: the plays see no flow gates (``gates`` is passed as ``None``; the session policy's level
carries them), one position per proxy shared by several plays (each play's trade is tracked on its
own; two plays on one proxy net out at the broker), a resumed trade has no trailing exit (its plan
is not stored), and an exit racing a stop or target fill between the exit's decision and its
arrival (the market exit is sized at decision time and may then open a position the other way,
which the kill switch's flatten would then close).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from scalper.brokers.port import BracketRequest, Broker
from scalper.core.clock import Clock, ReplayClock
from scalper.core.errors import InvariantError
from scalper.core.events import MarketEvent, MinuteAgg, Quote, SecondAgg, Trade
from scalper.core.orders import (
    BrokerUpdate,
    Fill,
    Leg,
    OrderRequest,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from scalper.engine.journal import Journal, MemoryJournal, SignalRecord
from scalper.features.engine import FeatureEngine, is_index
from scalper.oms import OrderBook, client_order_id
from scalper.oms import positions as position_math
from scalper.plays.base import EnterIntent, ExitIntent, Play
from scalper.plays.compiled import CompiledPlay
from scalper.risk.brackets import BracketPlan, plan_bracket
from scalper.risk.limits import (
    BrokerConnected,
    BrokerDisconnected,
    ClockTick,
    DataHeartbeat,
    FillPnl,
    KillSwitch,
    MarkToMarket,
    OrderSubmitted,
    UnrecoverableError,
)
from scalper.risk.sizing import size_position
from scalper.risk.trailing import AtrMultiple, TrailingStop
from scalper.strategy.policy import Reason
from scalper.strategy.thresholds import Level, RiskThresholds

LevelOf = Callable[[str, int], Level]

__all__ = ["LevelOf", "MarketDriven", "SignalRecord", "Trader", "TrailWatch", "Watch"]


@dataclass(frozen=True, slots=True)
class TrailWatch:
    """A trailing exit (an ATR multiple behind the best price, breakeven after ``breakeven_after_r``
    × the initial ``risk``) a compiled loop follows for the trade of ``play`` on ``symbol``.

    While the 1-minute ATR keeps one value, the trail's state after any run of bars depends only on
    the best price they reach (the stop is a non-decreasing function of it), so the loop tracks the
    best price per run of one ATR value and hands each run to :meth:`Trader.catch_up_trail`; a bar
    that may close at or through the stop (bounded from the unrounded candidates) goes to the
    trader itself."""

    play: str
    symbol: str
    direction: int
    best: float
    stop: float
    entry: float
    risk: float
    multiple: float
    breakeven_after_r: float
    breakeven_offset: float
    tick: float


@dataclass(frozen=True, slots=True)
class Watch:
    """What a compiled loop must hand back to :meth:`Trader.on_event` while trades are in progress.

    ``python_only``: every event (a kill-switch trip, a flatten or a close in progress);
    ``until``: known times at or after it (the flatten before the close); ``trails``; the open
    ``positions`` (symbol → (qty, average price)) whose marks could reach the daily loss limit:
    realised ``realised`` + unrealised ≤ −``loss_limit``.
    """

    python_only: bool
    until: int | None
    trails: tuple[TrailWatch, ...]
    positions: dict[str, tuple[float, float]]
    realised: float
    loss_limit: float


@runtime_checkable
class MarketDriven(Protocol):
    """A broker that fills from the market event stream (the simulator)."""

    def on_event(self, event: MarketEvent) -> None: ...


@dataclass(slots=True)
class _Trade:
    """A play's trade in progress: its orders and its net filled quantity (signed)."""

    play: str
    signal_id: str
    symbol: str
    entry: str
    stop: str
    target: str
    exits: list[str] = field(default_factory=list)
    net: float = 0.0
    closing: Leg | None = None  # a close decided while bracket legs were still working
    plan: BracketPlan | None = None
    trail: TrailingStop | None = None  # the engine's trailing exit, from the entry's first fill

    @property
    def orders(self) -> tuple[str, ...]:
        return (self.entry, self.stop, self.target, *self.exits)


class Trader:
    """Market events in, orders out. See the module docstring for what it does and does not do."""

    def __init__(
        self,
        *,
        features: FeatureEngine,
        plays: Iterable[Play[Any]],
        risk: RiskThresholds,
        broker: Broker,
        clock: Clock,
        equity: float,
        daily_sigma: Mapping[str, float],
        level_of: LevelOf,
        perf_counter_ns: Callable[[], int],
        expectancy_lower_r: Mapping[str, float | None] | None = None,
        kill_switch: KillSwitch | None = None,
        book: OrderBook | None = None,
        journal: Journal | None = None,
        namespace: str = "",
    ) -> None:
        self.features = features
        self.plays: dict[str, Play[Any]] = {}
        for play in plays:
            if play.name in self.plays:
                raise InvariantError(f"trader: play {play.name} given twice")
            for symbol in (play.index, play.proxy):
                if symbol not in features.codes:
                    raise InvariantError(f"trader: play {play.name} reads {symbol}, which the feature engine lacks")
            if play.proxy not in daily_sigma:
                raise InvariantError(f"trader: play {play.name} trades {play.proxy}, which has no daily sigma")
            self.plays[play.name] = play
        self.risk = risk
        self.broker = broker
        self.clock = clock
        self.equity = equity
        self.daily_sigma = dict(daily_sigma)
        self.expectancy_lower_r = dict(expectancy_lower_r or {})
        self.level_of = level_of
        self.kill_switch = kill_switch or KillSwitch(risk.limits, equity=equity)
        self.book = book or OrderBook()
        self.namespace = namespace
        self.journal: Journal = journal if journal is not None else MemoryJournal()
        #: every decision of this process, in order (also handed to the journal)
        self.signals: list[SignalRecord] = []
        #: (play, skip code) → how many snapshots the play skipped for that reason
        self.skips: Counter[tuple[str, str]] = Counter()
        #: (play, skip code) → the text of the latest such skip
        self.skip_texts: dict[tuple[str, str], str] = {}
        self._perf = perf_counter_ns
        self._market = broker if isinstance(broker, MarketDriven) else None
        #: the bars that drive decisions and trailing exits: the finest the features are built from
        self._bar: type[SecondAgg] | type[MinuteAgg] = MinuteAgg if features.resolution == "minute" else SecondAgg
        self._trades: dict[str, _Trade] = {}
        self._owner: dict[str, _Trade] = {}  # client id → trade
        self._positions: dict[str, Position] = {}
        self._last_price: dict[str, float] = {}
        self._now: int | None = None
        self._arrived_ns = 0
        self._flattening: str | None = None
        self._cancelling: set[str] = set()
        self._trail_rule = AtrMultiple(multiple=risk.trailing.atr_multiple) if risk.trailing.rule == "atr" else None
        broker.subscribe(self._on_update)

    # --- queries ----------------------------------------------------------------------------------

    @property
    def now(self) -> int | None:
        """The known time of the last event handled (None before the first)."""
        return self._now

    def in_trade(self, play: str) -> bool:
        """Whether ``play`` has a trade in progress (orders working or a position)."""
        return play in self._trades

    def positions(self) -> dict[str, Position]:
        """Net position per traded symbol from the fills received (flat ones included)."""
        return dict(self._positions)

    def resume(self, ts: int) -> list[str]:
        """Take over the trades in progress of the book given at construction (a restart).

        Orders are grouped by signal (``{play}-{ts}``): a signal with an order still open or a net
        position is a trade in progress again — its play is told its position (the sign of the
        net filled quantity, or of the entry while it has not filled), the positions and the
        day's realised PnL come from the book's fills (the kill switch counts them). The play's
        own memory of the trade (e.g. the range a balanced break left) is not restored: its
        bracket and the kill switch protect the trade. Returns one line per trade resumed.
        Refused with :class:`InvariantError` after the first event, or when a trade belongs to a
        play that is not configured (flatten it by hand or configure the play again).
        """
        if self._now is not None or self._trades:
            raise InvariantError("trader: resume only before the first event")
        now = self._advance(ts)
        self._positions = self.book.positions()
        realised = sum(p.realised_pnl for p in self._positions.values())
        if realised:
            self.kill_switch.handle(FillPnl(ts=now, realised=realised))
        lines: list[str] = []
        signals = sorted({o.request.signal_id for o in self.book.orders() if o.request.signal_id is not None})
        for signal_id in signals:
            orders = {o.request.client_order_id: o for o in self.book.orders_of_signal(signal_id)}
            by_leg = {o.request.leg: cid for cid, o in orders.items()}
            net = sum(f.signed_qty for cid in orders for f in self.book.fills(cid))
            net = 0.0 if abs(net) <= 1e-9 else net
            if net == 0.0 and not any(o.is_open for o in orders.values()):
                continue
            name = signal_id.rsplit("-", 1)[0]
            play = self.plays.get(name)
            if play is None:
                raise InvariantError(
                    f"trader: signal {signal_id} has a trade in progress for play {name}, which is not configured"
                )
            if not {Leg.ENTRY, Leg.STOP, Leg.TARGET} <= by_leg.keys():
                legs = sorted(str(leg) for leg in by_leg)
                raise InvariantError(f"trader: signal {signal_id}: expected a bracket's three legs, was {legs}")
            entry = orders[by_leg[Leg.ENTRY]]
            trade = _Trade(
                play=name,
                signal_id=signal_id,
                symbol=entry.request.symbol,
                entry=by_leg[Leg.ENTRY],
                stop=by_leg[Leg.STOP],
                target=by_leg[Leg.TARGET],
                exits=[cid for cid, o in orders.items() if o.request.leg in (Leg.EXIT, Leg.FLATTEN)],
                net=net,
            )
            self._trades[name] = trade
            for cid in trade.orders:
                self._owner[cid] = trade
            play.position = (1 if net > 0 else -1) if net != 0.0 else entry.request.side.sign
            working = ", ".join(
                f"{orders[c].request.leg} {orders[c].status}" for c in trade.orders if orders[c].is_open
            )
            lines.append(f"{name} {signal_id}: {net:+g} {trade.symbol}; working: {working or 'nothing'}")
        return lines

    # --- inputs -----------------------------------------------------------------------------------

    def broker_connected(self, ts: int) -> None:
        """The broker connection is up (entries are refused until it is)."""
        self.kill_switch.handle(BrokerConnected(ts=self._advance(ts)))

    def broker_disconnected(self, ts: int, text: str = "") -> None:
        self.kill_switch.handle(BrokerDisconnected(ts=self._advance(ts), text=text))
        self._maybe_flatten()

    def report_error(self, ts: int, text: str) -> None:
        """An error the engine cannot recover from: trips the kill switch, which flattens."""
        self.kill_switch.handle(UnrecoverableError(ts=self._advance(ts), text=text))
        self._maybe_flatten()

    @property
    def idle(self) -> bool:
        """No trade in progress and every position flat: an event then only moves the features, the
        plays and the last prices (what :mod:`scalper.engine.replay_loop` runs in compiled code)."""
        return not self._trades and all(p.is_flat for p in self._positions.values())

    def note_idle(self, ts: int, prices: Mapping[str, float]) -> None:
        """What a compiled loop did up to known time ``ts`` without the trader: the last prices it
        saw (``on_event`` notes them itself), the time (the trader's and a replay clock's) and the
        kill switch's data heartbeat."""
        self._last_price.update(prices)
        self.kill_switch.handle(DataHeartbeat(ts=self._advance(ts)))

    def watch(self) -> Watch:
        """What a compiled loop must watch to skip events while trades are in progress (see
        :class:`Watch`); the broker's own orders are the broker's to say."""
        trades = list(self._trades.values())
        python_only = (
            self.kill_switch.tripped or self._flattening is not None or any(t.closing is not None for t in trades)
        )
        until = self.kill_switch.flatten_start(self._now) if trades and self._now is not None else None
        trails = tuple(
            self._trail_watch(t, t.trail)
            for t in trades
            if t.trail is not None and t.net != 0.0 and not any(self.book.order(c).is_open for c in t.exits)
        )
        positions = {s: (p.qty, p.avg_price) for s, p in self._positions.items() if not p.is_flat}
        return Watch(
            python_only=python_only,
            until=until,
            trails=trails,
            positions=positions,
            realised=self.kill_switch.realised,
            loss_limit=self.kill_switch.loss_limit,
        )

    def _trail_watch(self, trade: _Trade, trail: TrailingStop) -> TrailWatch:
        rule = trail.rule
        if not isinstance(rule, AtrMultiple):
            raise InvariantError(f"trader: a compiled loop follows ATR trails only, {trade.play} has {rule!r}")
        return TrailWatch(
            play=trade.play,
            symbol=trade.symbol,
            direction=1 if trail.direction == "long" else -1,
            best=trail.best,
            stop=trail.stop,
            entry=trail.entry,
            risk=trail.initial_risk,
            multiple=rule.multiple,
            breakeven_after_r=trail.breakeven_after_r,
            breakeven_offset=trail.breakeven_offset,
            tick=trail.tick,
        )

    def catch_up_trail(self, play: str, best: float, atr: float) -> None:
        """The trailing exit of ``play``'s trade after a run of bars a compiled loop followed under one
        1-minute ATR value ``atr`` (nan: not ready), which took the best price to ``best`` and never
        reached the stop: within such a run the trail's state depends only on the best price (its
        stop is a non-decreasing function of it), so one update at ``best`` is the whole run's."""
        trade = self._trades[play]
        if trade.trail is None:
            raise InvariantError(f"trader: {play} has no trailing exit under way to catch up")
        usable = math.isfinite(atr) and atr > 0.0
        trade.trail = trade.trail.update(price=best, high=best, low=best, atr=atr if usable else None).state

    def mark_at(self, ts: int, prices: Mapping[str, float]) -> None:
        """The mark-to-market ``on_event`` would have made at known time ``ts`` with the last
        ``prices`` then (a compiled loop's last mark, handed over)."""
        if not any(not p.is_flat for p in self._positions.values()):
            return
        unrealised = sum(
            p.unrealised_pnl(prices[s]) for s, p in self._positions.items() if not p.is_flat and s in prices
        )
        self.kill_switch.handle(DataHeartbeat(ts=ts))  # as on_event: the data, then the mark
        self.kill_switch.handle(MarkToMarket(ts=ts, unrealised=unrealised))

    def on_event(self, event: MarketEvent) -> None:
        """Handle one market event (in replay order); see the module docstring for the steps."""
        self._arrived_ns = self._perf()
        now = self._advance(self._known(event))
        self._update_features(event)
        self._after_features(event, now, None)

    def last_price(self, symbol: str) -> float:
        """The last price seen of ``symbol`` (nan: none yet)."""
        return self._last_price.get(symbol, math.nan)

    def on_event_stepped(self, event: SecondAgg, outputs: Mapping[str, Any] | None) -> None:
        """Finish :meth:`on_event` for a bar whose features a compiled loop has applied: ``outputs`` maps
        each play on that index to its compiled rule's output (:mod:`scalper.plays.kernels`) when the
        loop stepped the plays (applied instead of stepping them again), None when it did not."""
        self._arrived_ns = self._perf()
        now = self._advance(self._known(event))
        self._after_features(event, now, outputs)

    @staticmethod
    def _known(event: MarketEvent) -> int:
        return event.ts_end if isinstance(event, SecondAgg | MinuteAgg) else event.ts_event

    def _after_features(self, event: MarketEvent, now: int, outputs: Mapping[str, Any] | None) -> None:
        if self._market is not None:
            self._market.on_event(event)
        self.kill_switch.handle(DataHeartbeat(ts=now))
        self._mark(event)
        if isinstance(event, self._bar) and self._trades and self._trail_rule is not None:
            self._trail(event, now)
        if isinstance(event, self._bar) and is_index(event.symbol):
            for play in self.plays.values():
                if play.index == event.symbol:
                    self._decide(play, now, None if outputs is None else outputs[play.name])
        self._maybe_flatten()
        self._send_pending_closes(now)

    def tick(self, ts: int) -> None:
        """Time passed without market events (the live runner's watchdog): the kill switch sees
        the time (stale data, the close) and acts."""
        now = self._advance(ts)
        self.kill_switch.handle(ClockTick(ts=now))
        self.settle()

    def settle(self) -> None:
        """Act on what broker updates delivered outside :meth:`on_event` changed (a broker that
        reports on its own thread): a flatten the kill switch asks for, closes whose cancels are
        confirmed."""
        if self._now is None:
            return
        self._maybe_flatten()
        self._send_pending_closes(self._now)

    def apply_update(self, update: BrokerUpdate) -> None:
        """Apply a broker update that did not come through the broker's listener (reconciliation at
        start-up: the broker's state wins over the stored book)."""
        self._on_update(update)

    def flatten(self, reason: str) -> list[str]:
        """Cancel every open order of the plays' trades and close every position with a market
        ``flatten`` order; returns the client ids of the orders sent (cancels not included)."""
        now = self._require_now()
        sent: list[str] = []
        for trade in list(self._trades.values()):
            if trade.closing is not None:  # its close is decided, waiting for the bracket's cancels
                continue
            cid = self._close_recorded(trade, Leg.FLATTEN, Reason(code="FLATTEN", text=reason, effect="close"), now)
            if cid is not None:
                sent.append(cid)
        return sent

    # --- decisions --------------------------------------------------------------------------------

    def _record(self, record: SignalRecord) -> None:
        self.signals.append(record)
        self.journal.signal(record)

    def _decide(self, play: Play[Any], now: int, output: Any = None) -> None:
        if output is None:
            level = self.level_of(play.name, now)
            intent = play.on_snapshot(
                now, self.features.latest_view(play.index), self.features.latest_view(play.proxy), level
            )
        else:  # stepped by a compiled loop
            if not isinstance(play, CompiledPlay):
                raise InvariantError(f"trader: play {play.name} has no compiled rule to take an output from")
            intent = play.apply_output(now, output)
        if intent is None:
            skip = play.last_skip
            if skip is not None:
                key = (play.name, skip.code)
                self.skips[key] += 1
                self.skip_texts[key] = skip.text
            return
        if isinstance(intent, ExitIntent):
            self._exit(play, intent, now)
        else:
            self._enter(play, intent, now)

    def _enter(self, play: Play[Any], intent: EnterIntent, now: int) -> None:
        signal_id = f"{play.name}-{intent.ts_ns}"
        reasons = [Reason(code=c, text=t, effect="") for c, t in intent.reasons]

        def refuse(blocks: Iterable[Reason]) -> None:
            self._record(
                SignalRecord(
                    signal_id=signal_id,
                    play=play.name,
                    ts=now,
                    kind="enter",
                    level=intent.level,
                    accepted=False,
                    reasons=(*reasons, *blocks),
                    direction=intent.direction,
                    index=intent.index,
                    proxy=intent.proxy,
                    price=intent.price,
                )
            )
            play.position_closed(now)

        if play.name in self._trades:
            refuse([Reason(code="IN_TRADE", text="the play has a trade in progress", effect="no entry")])
            return
        verdict = self.kill_switch.entry_check(now, intent.level)
        if not verdict.allowed:
            refuse(verdict.reasons)
            return
        direction: Literal["long", "short"] = "long" if intent.direction > 0 else "short"
        try:
            plan = plan_bracket(
                direction=direction,
                entry=intent.proxy_price,
                stop_distance=intent.proxy_stop_distance,
                target=intent.proxy_target,
                tick=self.risk.brackets.tick,
            )
        except InvariantError as exc:
            refuse([Reason(code="BAD_BRACKET", text=str(exc), effect="no entry")])
            return
        size = size_position(
            equity=self.equity,
            price=plan.entry,
            stop_distance=plan.risk_per_share,
            daily_sigma=self.daily_sigma[play.proxy],
            level=intent.level,
            expectancy_lower_r=self.expectancy_lower_r.get(play.name),
            thresholds=self.risk.sizing,
        )
        reasons.extend(size.reasons)
        if size.shares <= 0:
            refuse([Reason(code="SIZE_ZERO", text=f"sized to 0 shares ({size.bound_by})", effect="no entry")])
            return
        bracket = self._bracket(signal_id, play.proxy, plan, size.shares, intent.proxy_price)
        trade = _Trade(
            play=play.name,
            signal_id=signal_id,
            symbol=play.proxy,
            entry=bracket.entry.client_order_id,
            stop=bracket.stop.client_order_id,
            target=bracket.target.client_order_id,
            plan=plan,
        )
        latency = self._perf() - self._arrived_ns
        for leg in bracket.legs:
            self.journal.order_events(self.book.submit(leg))
            self._owner[leg.client_order_id] = trade
        self._trades[play.name] = trade
        self.broker.submit_bracket(bracket)
        for _ in bracket.legs:
            self.kill_switch.handle(OrderSubmitted(ts=now))
        self._record(
            SignalRecord(
                signal_id=signal_id,
                play=play.name,
                ts=now,
                kind="enter",
                level=intent.level,
                accepted=True,
                reasons=tuple(reasons),
                shares=size.shares,
                direction=intent.direction,
                index=intent.index,
                proxy=intent.proxy,
                price=intent.price,
                plan=plan,
                client_order_ids=tuple(leg.client_order_id for leg in bracket.legs),
                latency_ns=latency,
            )
        )

    def _bracket(self, signal_id: str, symbol: str, plan: BracketPlan, shares: int, price: float) -> BracketRequest:
        side = Side.BUY if plan.direction == "long" else Side.SELL
        created = self.clock.now_ns()
        entry_id = client_order_id(signal_id, Leg.ENTRY, namespace=self.namespace)
        common: dict[str, Any] = {
            "signal_id": signal_id,
            "symbol": symbol,
            "qty": float(shares),
            "ts_created": created,
            "time_in_force": TimeInForce.DAY,
            "decision_price": price,
        }
        return BracketRequest(
            entry=OrderRequest(
                client_order_id=entry_id, leg=Leg.ENTRY, side=side, order_type=OrderType.MARKET, **common
            ),
            stop=OrderRequest(
                client_order_id=client_order_id(signal_id, Leg.STOP, namespace=self.namespace),
                leg=Leg.STOP,
                side=side.opposite,
                order_type=OrderType.STOP,
                stop_price=plan.stop,
                parent_id=entry_id,
                **common,
            ),
            target=OrderRequest(
                client_order_id=client_order_id(signal_id, Leg.TARGET, namespace=self.namespace),
                leg=Leg.TARGET,
                side=side.opposite,
                order_type=OrderType.LIMIT,
                limit_price=plan.target,
                parent_id=entry_id,
                **common,
            ),
        )

    def _exit(self, play: Play[Any], intent: ExitIntent, now: int) -> None:
        trade = self._trades.get(play.name)
        code, text = intent.reason
        reasons = (Reason(code=code, text=text, effect="exit"),)
        if trade is None:
            self._record(
                SignalRecord(
                    signal_id=f"{play.name}-{intent.ts_ns}",
                    play=play.name,
                    ts=now,
                    kind="exit",
                    level=None,
                    accepted=False,
                    reasons=(*reasons, Reason(code="NO_TRADE", text="no trade in progress", effect="nothing")),
                )
            )
            return
        self._close_recorded(trade, Leg.EXIT, reasons[0], now, timed=True)

    def _close_recorded(self, trade: _Trade, leg: Leg, reason: Reason, now: int, *, timed: bool = False) -> str | None:
        """Close ``trade`` (:meth:`_close`) and record the decision (kind ``flatten`` for a flatten,
        else ``exit``); ``timed``: with the decision latency when an order went out."""
        cid = self._close(trade, leg, now)
        self._record(
            SignalRecord(
                signal_id=trade.signal_id,
                play=trade.play,
                ts=now,
                kind="flatten" if leg is Leg.FLATTEN else "exit",
                level=None,
                accepted=True,
                reasons=(reason,),
                client_order_ids=() if cid is None else (cid,),
                latency_ns=self._perf() - self._arrived_ns if timed and cid is not None else None,
            )
        )
        return cid

    def _close(self, trade: _Trade, leg: Leg, now: int) -> str | None:
        """Cancel the trade's open entry/stop/target; once none is working, send a market order for
        its net position (unless an exit is already working). Returns the client id sent now, or
        None — also when the order waits for the cancels: sending it before they are confirmed
        could open a reverse position if a leg fills meanwhile (:meth:`_send_pending_closes`)."""
        working = [cid for cid in (trade.entry, trade.stop, trade.target) if self.book.order(cid).is_open]
        for cid in working:
            if cid not in self._cancelling:
                self._cancelling.add(cid)
                self.broker.cancel(cid)
        if working:
            trade.closing = leg
            return None
        return self._send_close(trade, leg, now)

    def _send_pending_closes(self, now: int) -> None:
        for trade in list(self._trades.values()):
            leg = trade.closing
            if leg is not None and not any(self.book.order(c).is_open for c in (trade.entry, trade.stop, trade.target)):
                trade.closing = None
                self._send_close(trade, leg, now)

    def _send_close(self, trade: _Trade, leg: Leg, now: int) -> str | None:
        if trade.net == 0.0 or any(self.book.order(c).is_open for c in trade.exits):
            return None
        generation = sum(1 for c in trade.exits if self.book.order(c).request.leg is leg)
        cid = client_order_id(trade.signal_id, leg, generation, namespace=self.namespace)
        request = OrderRequest(
            client_order_id=cid,
            signal_id=trade.signal_id,
            leg=leg,
            symbol=trade.symbol,
            side=Side.SELL if trade.net > 0 else Side.BUY,
            order_type=OrderType.MARKET,
            qty=abs(trade.net),
            ts_created=self.clock.now_ns(),
            time_in_force=TimeInForce.DAY,
            decision_price=self._last_price.get(trade.symbol),
        )
        self.journal.order_events(self.book.submit(request))
        trade.exits.append(cid)
        self._owner[cid] = trade
        self.broker.submit(request)
        self.kill_switch.handle(OrderSubmitted(ts=now))
        return cid

    def _trail(self, bar: SecondAgg | MinuteAgg, now: int) -> None:
        """Move the trailing exits of the trades in ``bar``'s symbol; close a trade whose trail is reached."""
        for trade in list(self._trades.values()):
            trail = trade.trail
            if trail is None or trade.symbol != bar.symbol or trade.net == 0.0 or trade.closing is not None:
                continue
            if any(self.book.order(c).is_open for c in trade.exits):
                continue
            atr = self.features.latest_view(trade.symbol).get("atr_1m")
            usable = isinstance(atr, float) and math.isfinite(atr) and atr > 0.0
            step = trail.update(price=bar.close, high=bar.high, low=bar.low, atr=atr if usable else None)
            trade.trail = step.state
            if not step.triggered:
                continue
            text = f"close {bar.close:.2f} reached the trailing stop {step.state.stop:.2f}"
            self._close_recorded(trade, Leg.EXIT, Reason(code="TRAIL_STOP", text=text, effect="exit"), now)

    def _maybe_flatten(self) -> None:
        if self._now is None:
            return
        request = self.kill_switch.flatten(self._now)
        if request is None:
            self._flattening = None
            return
        needs = any(self._closable(t) for t in self._trades.values())
        if request.code != self._flattening or needs:
            self._flattening = request.code
            if self._trades:
                self.flatten(f"{request.code}: {request.text}")

    def _closable(self, trade: _Trade) -> bool:
        """Whether closing ``trade`` would do something: an open order not yet being cancelled, or
        a position without a working exit."""
        working = any(self.book.order(c).is_open for c in trade.exits)
        pending = any(
            self.book.order(c).is_open and c not in self._cancelling for c in (trade.entry, trade.stop, trade.target)
        )
        return pending or (trade.net != 0.0 and not working)

    # --- broker updates ---------------------------------------------------------------------------

    def _on_update(self, update: BrokerUpdate) -> None:
        self.journal.order_events(self.book.apply(update))
        trade = self._owner.get(update.client_order_id)
        ts = self._now if self._now is not None else update.ts
        if isinstance(update, Fill):
            before = self._positions.get(update.symbol) or Position(symbol=update.symbol)
            after = position_math.apply_fill(before, update)
            self._positions[update.symbol] = after
            self.kill_switch.handle(FillPnl(ts=ts, realised=after.realised_pnl - before.realised_pnl))
            self._last_price.setdefault(update.symbol, update.price)
            self.kill_switch.handle(MarkToMarket(ts=ts, unrealised=self._unrealised()))
            if trade is not None:
                trade.net += update.signed_qty
                if abs(trade.net) <= 1e-9 * max(1.0, update.qty):
                    trade.net = 0.0
                if (
                    update.client_order_id == trade.entry
                    and trade.trail is None
                    and trade.plan is not None
                    and self._trail_rule is not None
                ):
                    trade.trail = TrailingStop.start(trade.plan, self._trail_rule, self.risk.trailing)
        if trade is None or trade.net != 0.0:
            return
        if any(self.book.order(c).is_open for c in trade.orders):
            return
        del self._trades[trade.play]
        play = self.plays[trade.play]
        if play.position != 0:
            play.position_closed(ts)

    # --- internals --------------------------------------------------------------------------------

    def _advance(self, ts: int) -> int:
        now = ts if self._now is None else max(self._now, ts)
        self._now = now
        if isinstance(self.clock, ReplayClock) and self.clock.now_ns() < now:
            self.clock.advance_to(now)
        return now

    def _require_now(self) -> int:
        if self._now is None:
            raise InvariantError("trader: no event handled yet, so no time to act at")
        return self._now

    def _update_features(self, event: MarketEvent) -> None:
        engine = self.features
        if event.symbol not in engine.codes:
            return
        if isinstance(event, SecondAgg):
            engine.on_second(
                event.symbol, event.ts_event, event.open, event.high, event.low, event.close, event.volume, event.vwap
            )
        elif isinstance(event, MinuteAgg):
            engine.on_minute(
                event.symbol, event.ts_event, event.open, event.high, event.low, event.close, event.volume, event.vwap
            )
        elif isinstance(event, Quote):
            engine.on_quote(event.symbol, event.ts_event, event.bid, event.ask)
        elif isinstance(event, Trade):
            engine.on_trade(event.symbol, event.ts_event, event.price, event.size)

    def _mark(self, event: MarketEvent) -> None:
        """Remember the event's last price and, when it moves an open position, mark every open position."""
        if isinstance(event, SecondAgg | MinuteAgg):
            price = event.close
        elif isinstance(event, Trade):
            price = event.price
        elif isinstance(event, Quote) and event.bid > 0.0 and event.ask > 0.0:
            price = (event.bid + event.ask) / 2.0
        else:
            return
        self._last_price[event.symbol] = price
        position = self._positions.get(event.symbol)
        if position is None or position.is_flat or self._now is None:
            return
        self.kill_switch.handle(MarkToMarket(ts=self._now, unrealised=self._unrealised()))

    def _unrealised(self) -> float:
        """Unrealised PnL of every open position at the last prices seen."""
        return sum(
            p.unrealised_pnl(self._last_price[s])
            for s, p in self._positions.items()
            if not p.is_flat and s in self._last_price
        )
