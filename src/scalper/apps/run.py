"""``scalper run``: the live runner — the feed, the trading engine and the broker in one asyncio process.

The feed is captured into the database exactly as ``scalper ingest`` does, and every frame also
goes to :class:`~scalper.engine.live_trading.LiveTrading`, which hands the events, in the replay's
order, to the :class:`~scalper.engine.trader.Trader` — the engine a backtest runs. Signals, orders,
their transitions and fills are written as they happen (:class:`StoreJournal`, write-ahead).

Money safety: paper trading is the default — the simulated broker (``broker.kind = "sim"``) or
Alpaca's paper endpoint (``"alpaca"``). Real orders need ``--live`` *and* ``broker.kind = "alpaca"``
*and* the broker keys in the environment; ``broker.live = true`` in the file alone is refused.

Restart. A run is identified by its run id (default ``{paper|live}-{broker}-{date}``, the date of
the wall clock): a second start with the same id takes the run over. The stored order book is
loaded; the trades in progress are resumed (:meth:`Trader.resume`); the simulated broker takes
the book's working orders over (the paper account *is* the stored book); a real broker is
reconciled — its open orders and positions win over the book, each difference is recorded as an
alert. Client order ids are derived from the signal and the leg in the run's namespace, so an
order sent again after a crash is recognised, never placed twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from scalper.adapters.feed.gaps import Gap, repair
from scalper.adapters.feed.reasons import ReconnectReason
from scalper.adapters.metrics import FeedMetrics, TradingMetrics, start_http
from scalper.adapters.polygon.rest import PolygonRest
from scalper.adapters.spool import Spool
from scalper.adapters.store import connect
from scalper.adapters.store.alerts import Severity, record_alert
from scalper.adapters.store.feature_history import warm_up
from scalper.adapters.store.journal import StoreJournal
from scalper.adapters.store.migrations import migrate
from scalper.adapters.store.orders import RunKind, load_book, write_run
from scalper.apps.context import AppContext
from scalper.apps.ingest import IngestReport, capture, restart_starts, spool_dir, topics
from scalper.apps.live_policy import LivePolicy
from scalper.brokers.alpaca import AlpacaBroker, AlpacaSettings
from scalper.brokers.port import Broker
from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import LiveClock, ReplayClock
from scalper.core.errors import ConfigError, FeedError, StoreError
from scalper.core.orders import Order, OrderStatus, StatusUpdate
from scalper.core.timeutil import NEW_YORK, NS_PER_MS, ns_to_datetime
from scalper.engine.live_trading import LiveTrading
from scalper.engine.sequencer import Sequencer
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.oms import OrderBook
from scalper.ops.alert_kinds import ALERT_KINDS
from scalper.ops.alerting import AlertDispatcher
from scalper.plays import load_plays
from scalper.risk.limits import Trip
from scalper.strategy.policy import Leaning, MorningScore, leaning
from scalper.strategy.thresholds import PolicyThresholds, load_thresholds

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000


@dataclass(slots=True)
class RunReport:
    """What a run did, for the closing summary."""

    run_id: str
    kind: RunKind
    broker: str
    resumed: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    capture: IngestReport | None = None
    trading: LiveTrading | None = None
    journal: StoreJournal | None = None
    interrupted: bool = False

    def latency_us(self) -> dict[str, float] | None:
        """p50/p99/max of the event-to-decision latency in microseconds (None before any index bar)."""
        if self.trading is None or not len(self.trading.latencies_ns):
            return None
        values = np.frombuffer(self.trading.latencies_ns, dtype=np.int64).astype(np.float64) / 1000.0
        return {
            "events": float(len(values)),
            "p50_us": round(float(np.percentile(values, 50)), 1),
            "p99_us": round(float(np.percentile(values, 99)), 1),
            "max_us": round(float(values.max()), 1),
        }


def run_kind(ctx: AppContext, live: bool) -> RunKind:
    """``live`` or ``paper`` after the money-safety checks (see the module docstring)."""
    broker = ctx.config.broker
    if broker.live and not live:
        raise ConfigError("broker.live = true in the configuration: real orders also need --live on the command line")
    if not live:
        return "paper"
    if broker.kind != "alpaca":
        raise ConfigError(f"--live: real orders need broker.kind = 'alpaca', was {broker.kind!r}")
    if ctx.secrets.broker_key_id is None or ctx.secrets.broker_secret_key is None:
        raise ConfigError("--live: real orders need APCA_API_KEY_ID and APCA_API_SECRET_KEY (or their *_FILE)")
    return "live"


def default_run_id(kind: RunKind, broker: str, wall_ns: int) -> str:
    """``{kind}-{broker}-{New York date}``: a restart the same day takes the run over."""
    return f"{kind}-{broker}-{ns_to_datetime(wall_ns).astimezone(NEW_YORK).date().isoformat()}"


def daily_sigma(conn: psycopg.Connection[Any], symbol: str, before_ns: int, sessions: int = 20) -> float | None:
    """Standard deviation of the last ``sessions`` daily log returns of ``symbol`` before ``before_ns``,
    from the last stored minute bar of each New York day; None with fewer than 5 returns."""
    rows = conn.execute(
        "SELECT DISTINCT ON (d) d, close FROM ("
        "  SELECT (ts AT TIME ZONE 'America/New_York')::date AS d, ts, close FROM bars"
        "  WHERE symbol = %s AND timeframe = '1m' AND ts < %s AND ts >= %s - interval '60 days'"
        ") x ORDER BY d, ts DESC",
        (symbol, ns_to_datetime(before_ns), ns_to_datetime(before_ns)),
    ).fetchall()
    closes = np.array([float(c) for _, c in rows][-(sessions + 1) :])
    if len(closes) < 6 or np.any(closes <= 0):
        return None
    value = float(np.std(np.diff(np.log(closes)), ddof=1))
    return value if math.isfinite(value) and value > 0 else None


def fill_session_start(conn: psycopg.Connection[Any], rest: PolygonRest, symbols: Sequence[str], first_ns: int) -> int:
    """Store the seconds of today's session missing before the first live event (a start or a restart
    after the open), fetched over REST, so the warm-up sees the whole morning (opening ranges, VWAP).
    Returns the seconds written; a failed fetch is logged and the warm-up goes on without them."""
    written = 0
    for symbol, start in restart_starts(conn, symbols, first_ns).items():
        end = first_ns - 2 * SECOND_NS  # windows that ended before the first event's
        if start > end:
            continue
        gap = Gap(
            cluster="indices" if symbol.startswith("I:") else "stocks",
            symbol=symbol,
            start_ns=start,
            end_ns=end,
            reason="start",
        )
        try:
            written += repair(conn, gap, rest.second_aggs)
        except (FeedError, StoreError) as exc:
            log.error("%s: the session's seconds before the first event could not be fetched: %s", symbol, exc)
    return written


class BrokerLink:
    """Between a broker that reports on its own threads (Alpaca) and the engine's loop: the broker's
    wake-ups and connection changes are queued (any thread) and acted on by :meth:`poll` on the loop —
    a disconnect trips the kill switch (which flattens) and raises an alert."""

    def __init__(self) -> None:
        self.drain: Callable[[], int] | None = None
        self.wake: Callable[[], None] | None = None
        self.trader: Trader | None = None
        self.monitor: RunMonitor | None = None
        self._changes: collections.deque[tuple[bool, str]] = collections.deque()
        self._lost = False

    def wakeup(self) -> None:
        wake = self.wake
        if wake is not None:
            wake()

    def on_connection(self, up: bool, reason: str) -> None:
        self._changes.append((up, reason))
        self.wakeup()

    def poll(self) -> int:
        trader, n = self.trader, 0
        while self._changes and trader is not None:
            up, reason = self._changes.popleft()
            ts = trader.now or 0
            if up:
                trader.broker_connected(ts)
                if self._lost and self.monitor is not None:
                    self.monitor.alert("broker_connected", "info", "broker connection restored")
                self._lost = False
            else:
                self._lost = True
                trader.broker_disconnected(ts, reason)
                if self.monitor is not None:
                    self.monitor.alert("broker_disconnected", "critical", f"broker disconnected: {reason}")
            n += 1
        return n + (self.drain() if self.drain is not None else 0)

    def settle(self, trader: Trader, quiet_s: float = 0.5, limit_s: float = 10.0) -> int:
        """Deliver the broker's updates until none has come for ``quiet_s`` (at most ``limit_s``)."""
        assert self.drain is not None
        total, deadline = 0, time.monotonic() + limit_s
        last = time.monotonic()
        while time.monotonic() - last < quiet_s and time.monotonic() < deadline:
            n = self.drain()
            if n:
                total += n
                last = time.monotonic()
            time.sleep(0.02)
        trader.settle()
        return total


@contextlib.contextmanager
def open_alpaca(ctx: AppContext, kind: RunKind, book: OrderBook, link: BrokerLink) -> Iterator[AlpacaBroker]:
    """The Alpaca broker of the run, connected, with the stored book's orders adopted (closed on exit)."""
    key, secret = ctx.secrets.broker_key_id, ctx.secrets.broker_secret_key
    if key is None or secret is None:
        raise ConfigError("broker.kind = 'alpaca' needs APCA_API_KEY_ID and APCA_API_SECRET_KEY (or their *_FILE)")
    cfg = ctx.config.broker
    settings = AlpacaSettings(
        key_id=key, secret_key=secret, paper=kind == "paper", rest_url=cfg.alpaca_url, stream_url=cfg.alpaca_stream_url
    )
    broker = AlpacaBroker(settings, wakeup=link.wakeup, on_connection=link.on_connection)
    try:
        if len(book):
            broker.adopt(book.orders(), book.fills())
        broker.connect()
        yield broker
    finally:
        broker.close()


def stale_open_orders(book: OrderBook, broker: Broker) -> list[str]:
    """Orders open in the book that the broker no longer works (ended while no process listened and
    not reported since): the broker's state wins."""
    theirs = {o.request.client_order_id for o in broker.open_orders()}
    return [o.request.client_order_id for o in book.open_orders() if o.request.client_order_id not in theirs]


def _last_ts(book: OrderBook) -> int | None:
    stamps = [o.ts_updated for o in book.orders()] + [f.ts for f in book.fills()]
    return max(stamps) if stamps else None


def reconcile(book: OrderBook, broker: Broker) -> list[str]:
    """Differences between the stored book and the broker's own view (open orders, positions)."""
    out: list[str] = []
    theirs: dict[str, Order] = {o.request.client_order_id: o for o in broker.open_orders()}
    ours = {o.request.client_order_id: o for o in book.open_orders()}
    for cid in sorted(ours.keys() - theirs.keys()):
        out.append(f"order {cid} is {ours[cid].status} in the book but not open at the broker")
    for cid in sorted(theirs.keys() - ours.keys()):
        known = cid in book
        out.append(f"order {cid} is open at the broker but {'ended' if known else 'unknown'} in the book")
    for cid in sorted(ours.keys() & theirs.keys()):
        a, b = ours[cid].filled_qty, theirs[cid].filled_qty
        if abs(a - b) > 1e-9:
            out.append(f"order {cid}: filled {a:g} in the book, {b:g} at the broker")
    book_pos = {s: p.qty for s, p in book.positions().items() if p.qty != 0.0}
    broker_pos = {s: p.qty for s, p in broker.positions().items() if p.qty != 0.0}
    for symbol in sorted(book_pos.keys() | broker_pos.keys()):
        a, b = book_pos.get(symbol, 0.0), broker_pos.get(symbol, 0.0)
        if abs(a - b) > 1e-9:
            out.append(f"position {symbol}: {a:+g} in the book, {b:+g} at the broker")
    return out


#: reconnects within STORM_WINDOW_S wall seconds that make a reconnect storm
STORM_RECONNECTS = 3
STORM_WINDOW_S = 60.0
#: a gap found in the captured data and still not repaired after this many wall seconds is alerted
GAP_GRACE_S = 120.0


class RunMonitor:
    """Raises the run's alerts (table ``alerts`` and the log): kill-switch trips, broker rejections,
    the journal falling behind, feed stalls (a websocket session ended by a stall, reconnected and
    backfilled), reconnect storms (:data:`STORM_RECONNECTS` reconnects within
    :data:`STORM_WINDOW_S` s), gaps still unrepaired after :data:`GAP_GRACE_S` s, and regime flips
    (an index's morning score at a checkpoint on another side of the policy's thresholds than at
    the one before, :func:`~scalper.strategy.policy.leaning`); and sets the trading metrics
    (:class:`TradingMetrics`) from the engine's state. Called by the runner's watchdog about once a
    second, off the decision path."""

    def __init__(
        self,
        run_id: str,
        trader: Trader,
        journal: StoreJournal,
        connect_db: Callable[[], psycopg.Connection[Any]],
        wall_ns: Callable[[], int],
    ) -> None:
        self.run_id = run_id
        self.trader = trader
        self.journal = journal
        self.raised: list[tuple[str, str]] = []
        self._connect = connect_db
        self._wall = wall_ns
        self._history = 0
        self._rejected: set[str] = set()
        self._journal_ok = True
        self.metrics: TradingMetrics | None = None
        self.trading: LiveTrading | None = None
        self.feed: FeedMetrics | None = None
        self._exported = 0
        self._reconnects: dict[str, float] = {}
        self._recent: collections.deque[int] = collections.deque()
        self._storm = False
        self._gap_since: int | None = None
        self._gap_alerted = False
        #: the session policy whose morning scores are watched, and its thresholds
        self.policy: LivePolicy | None = None
        self.policy_thresholds: PolicyThresholds | None = None
        self._leaning: dict[str, tuple[str, Leaning]] = {}  # index → (checkpoint, leaning)

    def __call__(self) -> None:
        self.alerts()
        if self.metrics is not None and self.trading is not None:
            self.export(self.metrics, self.trading)

    def export(self, m: TradingMetrics, trading: LiveTrading) -> None:
        """Set the trading metrics from the engine's state (and the latencies since the last export)."""
        trader = self.trader
        outcomes: collections.Counter[tuple[str, str]] = collections.Counter(
            (r.play, "taken" if r.accepted else "refused") for r in trader.signals if r.kind == "enter"
        )
        for play in trader.plays:
            for outcome in ("taken", "refused"):
                m.signals.labels(play=play, outcome=outcome).set(outcomes[(play, outcome)])
        statuses = collections.Counter(str(o.status) for o in trader.book.orders())
        for status in OrderStatus:
            m.orders.labels(status=str(status)).set(statuses[str(status)])
        m.fills.set(len(trader.book.fills()))
        positions = trader.positions()
        for symbol, position in positions.items():
            m.position.labels(symbol=symbol).set(position.qty)
        m.realised.set(sum(p.realised_pnl for p in positions.values()))
        m.day_pnl.set(trader.kill_switch.day_pnl)
        m.tripped.set(1 if trader.kill_switch.tripped else 0)
        m.journal_waiting.set(self.journal.waiting)
        m.events_late.set(0 if trading.sequencer is None else trading.sequencer.late)
        m.errors.set(trading.errors)
        latencies = trading.latencies_ns
        m.observe_latencies(latencies[self._exported :])
        self._exported = len(latencies)

    def feed_alerts(self, feed: FeedMetrics) -> None:
        """Stalls and reconnect storms from the feed's reconnect counters (by reason)."""
        now = self._wall()
        for reason in ReconnectReason:
            value = feed.registry.get_sample_value("scalper_feed_reconnects_total", {"reason": reason.value}) or 0.0
            new = int(value - self._reconnects.get(reason.value, 0.0))
            if new <= 0:
                continue
            self._reconnects[reason.value] = value
            self._recent.extend([now] * new)
            if reason is ReconnectReason.STALL:
                self.alert(
                    "stream_stall",
                    ALERT_KINDS["stream_stall"].severity,
                    f"the feed stalled ({int(value)} so far): reconnected; the missed seconds are backfilled over REST",
                )
        found = feed.registry.get_sample_value("scalper_feed_gaps_found_total") or 0.0
        filled = feed.registry.get_sample_value("scalper_feed_gaps_filled_total") or 0.0
        if found > filled:
            self._gap_since = now if self._gap_since is None else self._gap_since
            if not self._gap_alerted and now - self._gap_since >= int(GAP_GRACE_S * 1e9):
                self._gap_alerted = True
                self.alert(
                    "gap_unrepaired",
                    ALERT_KINDS["gap_unrepaired"].severity,
                    f"{int(found - filled)} gap(s) in the captured data not repaired after {GAP_GRACE_S:.0f} s",
                )
        else:
            self._gap_since, self._gap_alerted = None, False
        while self._recent and self._recent[0] < now - int(STORM_WINDOW_S * 1e9):
            self._recent.popleft()
        storm = len(self._recent) >= STORM_RECONNECTS
        if storm and not self._storm:
            self.alert(
                "reconnect_storm",
                ALERT_KINDS["reconnect_storm"].severity,
                f"{len(self._recent)} feed reconnects within {STORM_WINDOW_S:.0f} s",
            )
        self._storm = storm

    def regime_alerts(self, scores: Mapping[str, MorningScore | None], thresholds: PolicyThresholds) -> None:
        """A regime flip: an index's morning score on another side of the thresholds than at its
        previous checkpoint of the day (a new day starts afresh: the policy forgets the scores)."""
        for index, score in scores.items():
            if score is None:
                continue
            side = leaning(score, thresholds)
            before = self._leaning.get(index)
            if before is not None and before[0] == score.checkpoint:
                continue  # the same checkpoint seen again
            self._leaning[index] = (score.checkpoint, side)
            if before is not None and before[1] != side:
                self.alert(
                    "regime_flip",
                    ALERT_KINDS["regime_flip"].severity,
                    f"{index}: the morning score flipped from {before[1]} at {before[0]} to {side} at "
                    f"{score.checkpoint} (P trend {score.trend_up + score.trend_down:.2f}, "
                    f"P balanced {score.balanced:.2f})",
                )
        for index in [i for i in self._leaning if i not in scores]:
            del self._leaning[index]  # a new day

    def alerts(self) -> None:
        if self.feed is not None:
            self.feed_alerts(self.feed)
        if self.policy is not None and self.policy_thresholds is not None:
            self.regime_alerts(self.policy.scores, self.policy_thresholds)
        history = self.trader.kill_switch.history
        for item in history[self._history :]:
            if isinstance(item, Trip):
                self.alert("kill_switch", "critical", f"kill switch tripped: {item.code}: {item.text}")
        self._history = len(history)
        for order in self.trader.book.orders():
            cid = order.request.client_order_id
            if order.status is OrderStatus.REJECTED and cid not in self._rejected:
                self._rejected.add(cid)
                self.alert(
                    "order_rejected",
                    "warning",
                    f"order {cid} ({order.request.leg} {order.request.symbol}) rejected: {order.reject_reason}",
                )
        if self.journal.healthy != self._journal_ok:
            self._journal_ok = self.journal.healthy
            if not self._journal_ok:
                self.alert(
                    "journal",
                    "critical",
                    f"{self.journal.waiting} trading records wait for the database: {self.journal.last_error}",
                )

    def alert(self, kind: str, severity: Severity, message: str) -> None:
        self.raised.append((kind, message))
        log.log(logging.CRITICAL if severity == "critical" else logging.WARNING, "alert %s: %s", kind, message)
        try:
            with self._connect() as conn:
                record_alert(
                    conn,
                    ts_ns=self._wall(),
                    kind=kind,
                    severity=severity,
                    message=f"run {self.run_id}: {message}",
                    payload={"run_id": self.run_id},
                )
        except (psycopg.Error, StoreError) as exc:
            log.error("alert %s could not be recorded: %s", kind, exc)


def run_trading(
    ctx: AppContext, duration_s: float | None, *, live: bool = False, run_id: str | None = None
) -> RunReport:
    """Trade until interrupted (or for ``duration_s``); returns the report either way."""
    cfg = ctx.config
    kind = run_kind(ctx, live)
    wall = LiveClock()
    run = run_id or default_run_id(kind, cfg.broker.kind, wall.now_ns())
    report = RunReport(run_id=run, kind=kind, broker=cfg.broker.kind)
    metrics = FeedMetrics(wall)
    with contextlib.ExitStack() as stack:
        url, conn = stack.enter_context(ctx.database())
        migrate(conn)
        db = cfg.database
        connect_db = functools.partial(
            connect, url, timeout_s=db.connect_timeout_s, statement_timeout_s=db.statement_timeout_s
        )
        thresholds = load_thresholds()
        write_run(
            conn,
            run_id=run,
            kind=kind,
            started_ns=wall.now_ns(),
            params={"broker": cfg.broker.kind, "thresholds": thresholds.version},
        )
        book = load_book(conn, run)
        spool = stack.enter_context(Spool(spool_dir(cfg.feed), max_bytes=cfg.feed.spool_max_mb * 1024 * 1024))
        if cfg.metrics.enabled:
            server = stack.enter_context(start_http(metrics.registry, cfg.metrics.host, cfg.metrics.port))
            log.info("metrics on %s", server.url)
        from scalper.apps.features import feature_params

        symbols = [*cfg.feed.index_symbols, *cfg.feed.proxy_symbols]
        params = feature_params(cfg.features)
        engine = FeatureEngine(symbols, params)
        plays = load_plays(thresholds.play_sections()).values()
        start_ts = _last_ts(book) or 0
        clock = ReplayClock(start_ts)
        link = BrokerLink()
        broker: Broker
        if cfg.broker.kind == "alpaca":
            alpaca = stack.enter_context(open_alpaca(ctx, kind, book, link))
            broker, equity = alpaca, alpaca.account().equity
            link.drain = alpaca.drain
        else:
            # the simulated account is the run's: its order ids are unique across runs (orders_broker_id)
            sim = SimConfig(latency_ns=cfg.broker.sim_latency_ms * NS_PER_MS, id_prefix=f"sim-{run}")
            broker = SimBroker(clock, sim)
            equity = cfg.broker.paper_equity
            if len(book):
                taken = broker.restore(book.orders(), book.fills())
                log.info("run %s: the paper account took over %d working orders from the stored book", run, taken)
        sigma = dict.fromkeys({p.proxy for p in plays}, cfg.broker.default_daily_sigma)  # set at the first event
        journal = StoreJournal(connect_db, run)
        policy = LivePolicy(connect_db, thresholds, indices=tuple(cfg.feed.index_symbols))
        stack.callback(policy.close)
        if cfg.alerts.enabled and ctx.secrets.discord_webhook_url is not None:
            # alerts are recorded by the trading side and delivered from the table by this thread
            dispatcher = AlertDispatcher.for_discord(connect_db, ctx.secrets.discord_webhook_url, cfg.alerts)
            dispatcher.start()
            stack.callback(dispatcher.stop)
        report.journal = journal
        trader = Trader(
            features=engine,
            plays=plays,
            risk=thresholds.risk,
            broker=broker,
            clock=clock,
            equity=equity,
            daily_sigma=sigma,
            level_of=policy,
            perf_counter_ns=time.perf_counter_ns,
            book=book,
            journal=journal,
            namespace=run,
        )
        if len(book):
            report.resumed = trader.resume(start_ts)
            for line in report.resumed:
                log.warning("run %s: resumed %s", run, line)
        trader.broker_connected(start_ts)
        if link.drain is not None:
            link.settle(trader)  # what happened while no process listened reaches the book first
        report.discrepancies = reconcile(book, broker)
        for cid in stale_open_orders(book, broker):
            trader.apply_update(
                StatusUpdate(
                    client_order_id=cid,
                    status=OrderStatus.CANCELLED,
                    ts=max(start_ts, book.order(cid).ts_updated),
                    reason="reconciliation: not open at the broker (the broker's state wins)",
                )
            )
        streams = [market for market, subs in topics(cfg.feed).items() if subs]
        sequencer = Sequencer(
            streams,
            engine.codes,
            aggregate_delay_ns=cfg.feed.aggregate_delay_ms * NS_PER_MS,
            grace_ns=cfg.feed.sequencer_grace_ms * NS_PER_MS,
        )

        rest = (
            None
            if ctx.secrets.market_data_api_key is None
            else PolygonRest(ctx.secrets.market_data_api_key.reveal(), base_url=cfg.feed.rest_base())
        )

        def warm(first_known_ns: int) -> int:
            """Before the first event: the session's missing seconds, the features' warm-up, the
            proxies' daily sigma — all from what is stored before that event."""
            with connect_db() as warm_conn:
                if rest is not None:
                    fill_session_start(warm_conn, rest, symbols, first_known_ns)
                for proxy in sigma:
                    value = daily_sigma(warm_conn, proxy, first_known_ns)
                    if value is None:
                        log.warning(
                            "%s: fewer than 5 stored sessions before the first event: daily sigma %.3f "
                            "(broker.default_daily_sigma)",
                            proxy,
                            cfg.broker.default_daily_sigma,
                        )
                    trader.daily_sigma[proxy] = value or cfg.broker.default_daily_sigma
                return warm_up(engine, warm_conn, now_ns=first_known_ns, sessions=cfg.features.seed_sessions)

        monitor = RunMonitor(run, trader, journal, connect_db, wall.now_ns)
        for text in report.discrepancies:
            monitor.alert("reconciliation", "critical", text)
        link.trader, link.monitor = trader, monitor
        trading = LiveTrading(
            trader,
            sequencer,
            perf_ns=time.perf_counter_ns,
            wall_ns=wall.now_ns,
            warm_up=warm,
            monitor=monitor,
            poll=None if link.drain is None else link.poll,
        )
        link.wake = trading.wake
        monitor.trading = trading
        monitor.feed = metrics
        monitor.policy, monitor.policy_thresholds = policy, thresholds.policy
        if cfg.metrics.enabled:
            monitor.metrics = TradingMetrics(metrics.registry)
        report.trading = trading
        starts = restart_starts(conn, symbols, wall.now_ns())
        reports: list[IngestReport] = []
        try:
            asyncio.run(capture(ctx, url, duration_s, spool, metrics, starts, reports, trading.run))
        except KeyboardInterrupt:
            if not reports:
                raise
            report.interrupted = True
        report.capture = reports[0] if reports else None
        journal.flush()
        journal.close()
        return report
    raise AssertionError("unreachable")
