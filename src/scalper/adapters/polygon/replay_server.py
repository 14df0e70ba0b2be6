"""A websocket server that replays frames over the exact Polygon/Massive protocol (POLYGON.md).

Paths ``/indices``, ``/stocks``, ``/options``; any other path is refused with HTTP 404. A session:
``connected`` on connect; ``auth`` answered in its own frame (``auth_success`` or ``auth_failed``
then close; ``auth_timeout`` then close when no auth arrives in time; ``auth_required`` for other
actions first); one ``success`` status per subscribed/unsubscribed topic; ``error`` statuses for
malformed JSON and unknown actions. Every server frame is a JSON array.

Data (``timeline="replay"``, the default): each connection replays its market's source from the
start, beginning at its first subscribe (so nothing is lost between auth and subscribe). With
``timeline="live"`` the market has one timeline running from server start and a connection gets
only the frames released after it subscribed (see :mod:`.timeline`). Each frame is filtered to the
connection's subscriptions (``ev`` + ``sym``, or ``T`` for ``V``); empty frames are dropped.
Pacing follows the frames' ``send_ns`` divided by ``speed`` on the event loop's monotonic clock
(``speed`` 0 or inf: as fast as the client reads). At the end of the source the server closes
normally (1000). Disconnects the service imposes (``max_connections``, ``slow_consumer``,
auth failures) close with 1008 (policy violation).

One connection per market per key: a newer connection makes the older one receive
``max_connections`` and be closed. Faults (see :mod:`.faults`) are injected per connection.

Options cluster rules: ``Q`` on ``/options`` allows at most 1,000 contracts per connection and no
wildcard (POLYGON.md). A refused topic is answered with an ``error`` status naming it, is not
subscribed, and the connection stays open; the other topics of the same message are subscribed
(in order, so the 1,001st contract is the first one refused). The service documents no wording
for these refusals: the ``error`` status and its messages are a guess.

REST: given a :class:`~.replay_rest.RestApi`, plain HTTP ``GET /v2/...`` and ``/v3/...`` on the
same port are answered by it (websockets' ``process_request`` hook), beside the websocket paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from scalper.adapters.polygon.faults import FaultPlan, Faults
from scalper.adapters.polygon.recorded import Connect, RecordedDays, recorded_sources
from scalper.adapters.polygon.replay_rest import RestApi, SyntheticDays, is_rest_path
from scalper.adapters.polygon.replay_rest import synthetic_sources as synthetic_sources
from scalper.adapters.polygon.timeline import Anchor, LiveMarket, Timeline, paced
from scalper.adapters.polygon.timeline import FrameSource as FrameSource
from scalper.adapters.polygon.timeline import Subscriptions as Subscriptions
from scalper.core.errors import ConfigError, FeedError
from scalper.synthetic.market import session_windows
from scalper.synthetic.polygon_events import MARKETS, Frame

log = logging.getLogger(__name__)


NORMAL_CLOSE: Final = 1000
POLICY_CLOSE: Final = 1008
TIMELINES: Final = ("replay", "live")
UNPACED_QUEUE: Final = 64  # frames buffered ahead of the socket when streaming as fast as possible
MAX_FRAME_BYTES: Final = 1 << 20
MAX_BATCH_EVENTS: Final = 2_000  # about 250 KB of trades: well under the 1 MiB the official client accepts
OPTION_QUOTE_LIMIT: Final = 1_000  # options Q: contracts per connection, no wildcard


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerConfig:
    """Where to listen, how fast to replay, which key to accept and which faults to inject."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port, see ReplayServer.port
    speed: float = 1.0  # 1: real time; N: N times faster; 0 or inf: as fast as the client reads
    api_key: str | None = None  # None: any non-empty key is accepted
    auth_timeout_s: float = 10.0
    faults: Faults = field(default_factory=Faults)
    timeline: str = "replay"  # replay: each connection from the first frame; live: one shared timeline
    anchor: Anchor | None = None  # live, paced: pin the timeline to the wall clock (a restart resumes, see Anchor)
    batch_events: int = 0  # > 0: data frames waiting in a connection's queue go out as one frame of up to this many
    # events, as the real service sends what accumulated while the client was behind (0: one frame per source frame)

    def __post_init__(self) -> None:
        if math.isnan(self.speed) or self.speed < 0:
            raise ConfigError(f"replay speed: expected >= 0 (0 = unpaced), was {self.speed!r}")
        if self.auth_timeout_s <= 0:
            raise ConfigError(f"auth_timeout_s: expected > 0, was {self.auth_timeout_s!r}")
        if self.timeline not in TIMELINES:
            raise ConfigError(f"timeline: expected one of {TIMELINES}, was {self.timeline!r}")
        if not 0 <= self.batch_events <= MAX_BATCH_EVENTS:
            raise ConfigError(f"batch_events: expected 0..{MAX_BATCH_EVENTS}, was {self.batch_events!r}")
        if self.anchor is not None and (self.timeline != "live" or not self.paced):
            raise ConfigError("anchor: only a paced live timeline (timeline='live', 0 < speed < inf) can be anchored")

    @property
    def paced(self) -> bool:
        return 0 < self.speed < math.inf


@dataclass(frozen=True, kw_only=True, slots=True)
class SentCounts:
    """What the server sent on one market, over all its connections."""

    connections: int = 0
    frames: int = 0  # data frames (after subscription filtering), faults excluded
    events: int = 0  # events in those frames
    malformed: int = 0
    duplicates: int = 0
    corrections: int = 0


def status(state: str, message: str) -> str:
    """One status frame: ``[{"ev":"status","status":...,"message":...}]``."""
    return json.dumps([{"ev": "status", "status": state, "message": message}], separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class _Out:
    """One item for a connection's sender: a frame (data, status, fault) or a close order."""

    kind: str  # data | status | malformed | duplicate | correction | end | close | drop
    payload: bytes = b""
    events: int = 0


class ReplayServer:
    """The replay server; use as ``async with ReplayServer(sources, config) as server``."""

    def __init__(
        self, sources: Mapping[str, FrameSource], config: ServerConfig | None = None, rest: RestApi | None = None
    ) -> None:
        unknown = set(sources) - set(MARKETS)
        if unknown:
            raise ConfigError(f"replay markets: expected some of {MARKETS}, was {sorted(unknown)}")
        self.config = config or ServerConfig()
        self.faults = self.config.faults  # tests may swap this between connections
        self._sources = dict(sources)
        self._server: Server | None = None
        self._live: dict[tuple[str, str], _Session] = {}
        self._counts: dict[str, dict[str, int]] = {m: {} for m in MARKETS}
        self._background: set[asyncio.Task[None]] = set()
        self.rest = rest
        self.timeline = Timeline(self.config.speed, self.config.anchor)  # live mode: the market's one timeline
        self._markets: dict[str, LiveMarket] = {}

    @property
    def live(self) -> bool:
        return self.config.timeline == "live"

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and start accepting connections."""
        try:
            self._server = await ws_serve(
                self._handle,
                self.config.host,
                self.config.port,
                process_request=self._process_request,
                max_size=MAX_FRAME_BYTES,
            )
        except OSError as exc:
            raise FeedError(f"replay server cannot listen on {self.config.host}:{self.config.port}: {exc}") from exc
        if self.live:
            self._start_timeline()

    def _start_timeline(self) -> None:
        """Live mode: one broadcaster per market, running whether or not anyone is connected."""
        for market, source in self._sources.items():
            self._markets[market] = LiveMarket(source(), self.timeline)
            self._spawn(self._markets[market].run())

    def market(self, market: str) -> LiveMarket:
        """The live-mode broadcaster of ``market`` (its ``position_ns``, ``finished``)."""
        return self._markets[market]

    def position_ns(self, market: str | None = None) -> int | None:
        """Live mode: send time (ns) of the latest frame released on ``market`` (or on any market)."""
        return self.timeline.position_ns if market is None else self._markets[market].position_ns

    async def close(self) -> None:
        """Close every connection and stop listening."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._background):
            task.cancel()
        self._server = None

    async def serve_forever(self) -> None:
        """Serve until cancelled (the blocking entry point of ``scalper replay-server``)."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    @property
    def port(self) -> int:
        """The bound TCP port (useful with port 0)."""
        if self._server is None:
            raise FeedError("replay server is not started")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    def url(self, market: str) -> str:
        """``ws://host:port/market`` of this server."""
        return f"ws://{self.config.host}:{self.port}/{market}"

    @property
    def http_url(self) -> str:
        """``http://host:port``: the REST base URL of this server."""
        return f"http://{self.config.host}:{self.port}"

    def sent(self, market: str) -> SentCounts:
        """What was sent on ``market`` so far."""
        return SentCounts(**self._counts[market])

    def count(self, market: str, name: str, n: int = 1) -> None:
        counts = self._counts[market]
        counts[name] = counts.get(name, 0) + n

    def source(self, market: str) -> FrameSource:
        return self._sources[market]

    def claim(self, market: str, key: str, session: _Session) -> None:
        """Register ``session`` as the key's connection on ``market``; kick out the older one."""
        older = self._live.get((market, key))
        self._live[(market, key)] = session
        if older is not None:
            self._spawn(older.disconnect("max_connections", "Maximum number of websocket connections exceeded."))

    def release(self, market: str, key: str, session: _Session) -> None:
        if self._live.get((market, key)) is session:
            del self._live[(market, key)]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Websocket paths go on to the handshake; REST paths are answered here; others get 404."""
        if _market_of(request.path) in self._sources:
            return None
        if self.rest is None or not is_rest_path(request.path):
            return connection.respond(HTTPStatus.NOT_FOUND, f"unknown path {request.path!r}\n")
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        code, body = await asyncio.to_thread(self.rest.handle, request.path, headers, self.faults)
        response = connection.respond(HTTPStatus(code), body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        session = _Session(self, ws, _market_of(ws.request.path), self.faults)
        self.count(session.market, "connections")
        with contextlib.suppress(ConnectionClosed):
            await session.run()
        await session.stop()


def _market_of(path: str) -> str:
    return urlsplit(path).path.strip("/")


class _Session:
    """One client connection: the protocol state machine plus its producer and sender tasks."""

    def __init__(self, server: ReplayServer, ws: ServerConnection, market: str, faults: Faults) -> None:
        self.server, self.ws, self.market = server, ws, market
        self.config = server.config
        self.plan = FaultPlan(faults=faults)
        self.subs = Subscriptions()
        self.option_quotes: set[str] = set()  # Q contracts subscribed on the options market
        self.key: str | None = None
        maxsize = 0 if self.config.paced else UNPACED_QUEUE
        self.queue: asyncio.Queue[_Out] = asyncio.Queue(maxsize=maxsize)
        self.tasks: list[asyncio.Task[None]] = []
        self.sent_frames = 0
        self.closed = False
        # Faults counted in frames keep their meaning only frame by frame: no batching with them.
        self.batching = self.config.batch_events > 0 and not faults.counts_frames()
        self._next: _Out | None = None  # taken from the queue while batching, not sent yet

    async def run(self) -> None:
        await self.ws.send(status("connected", "Connected Successfully"))
        self.key = await self._authenticate()
        if self.key is None:
            return
        self.server.claim(self.market, self.key, self)
        async for message in self.ws:
            await self._on_message(message)

    async def stop(self) -> None:
        """Cancel the streaming tasks, leave the live timeline and give up the key's slot."""
        self.closed = True
        if self.server.live:
            self.server.market(self.market).detach(self)
            while not self.queue.empty():  # unblock a broadcaster waiting on our full queue
                self.queue.get_nowait()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.key is not None:
            self.server.release(self.market, self.key, self)

    async def disconnect(self, state: str, message: str) -> None:
        """Send a disconnect status (max_connections, slow_consumer, ...) and close with 1008."""
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(status(state, message))
            await self.ws.close(POLICY_CLOSE, state)

    # --- protocol -------------------------------------------------------------------------------
    async def _authenticate(self) -> str | None:
        """Wait for a valid ``auth`` action; return the key, or None once the connection is refused."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.auth_timeout_s
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                await self.disconnect("auth_timeout", "authentication timed out")
                return None
            message = await self._parse(raw)
            if message is None:
                continue
            if message.get("action") != "auth":
                await self.ws.send(status("auth_required", "authentication required"))
                continue
            key = message.get("params")
            if isinstance(key, str) and key and self.config.api_key in (None, key):
                await self.ws.send(status("auth_success", "authenticated"))
                return key
            await self.disconnect("auth_failed", "authentication failed")
            return None

    async def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        """The client message as a dict, or None after answering with an error status."""
        try:
            message = json.loads(raw)
        except ValueError:
            await self.ws.send(status("error", "invalid JSON message"))
            return None
        if not isinstance(message, dict) or "action" not in message:
            await self.ws.send(status("error", "expected an object with an 'action' key"))
            return None
        return message

    async def _on_message(self, raw: str | bytes) -> None:
        message = await self._parse(raw)
        if message is None:
            return
        action, params = message.get("action"), message.get("params")
        if action in ("subscribe", "unsubscribe") and isinstance(params, str):
            await self._subscribe(params, add=action == "subscribe")
        elif action == "auth":
            await self.ws.send(status("error", "already authenticated"))
        else:
            await self.ws.send(status("error", f"unknown action {action!r} or bad params"))

    async def _subscribe(self, params: str, *, add: bool) -> None:
        topics, bad = Subscriptions.parse(params)
        statuses = []
        accepted = 0
        for topic in topics:
            refusal = self._refusal(topic) if add else None
            if refusal is not None:
                statuses.append({"ev": "status", "status": "error", "message": refusal})
                continue
            (self.subs.add if add else self.subs.remove)(topic)
            self._track_option_quote(topic, add=add)
            accepted += 1
            verb = "subscribed to" if add else "unsubscribed to"
            statuses.append({"ev": "status", "status": "success", "message": f"{verb}: {topic[0]}.{topic[1]}"})
        statuses += [{"ev": "status", "status": "error", "message": f"invalid topic: {t}"} for t in bad]
        if statuses:
            await self.ws.send(json.dumps(statuses, separators=(",", ":")))
        if add and accepted and not self.tasks:
            self.tasks = [asyncio.create_task(self._send_loop())]
            if self.server.live:
                await self.server.market(self.market).attach(self)
            else:
                self.tasks.append(asyncio.create_task(self._produce()))

    def _refusal(self, topic: tuple[str, str]) -> str | None:
        """Why subscribing ``topic`` breaks the options cluster's ``Q`` rules, or None when it may."""
        channel, ticker = topic
        if self.market != "options" or channel != "Q":
            return None
        if ticker == "*":
            return f"wildcard subscriptions are not allowed for options quotes: {channel}.{ticker}"
        if ticker not in self.option_quotes and len(self.option_quotes) >= OPTION_QUOTE_LIMIT:
            return (
                f"subscription limit exceeded: at most {OPTION_QUOTE_LIMIT} option contracts "
                f"per connection for quotes: {channel}.{ticker}"
            )
        return None

    def _track_option_quote(self, topic: tuple[str, str], *, add: bool) -> None:
        if self.market == "options" and topic[0] == "Q":
            (self.option_quotes.add if add else self.option_quotes.discard)(topic[1])

    # --- streaming ------------------------------------------------------------------------------
    async def _produce(self) -> None:
        """Replay mode: pace this connection's own copy of the source from its first frame."""
        async for frame in paced(self.server.source(self.market)(), Timeline(self.config.speed)):
            if not await self.deliver(frame):
                return
        await self.finish()

    async def deliver(self, frame: Frame) -> bool:
        """Filter ``frame`` to the subscriptions and queue it with its fault extras; False when gone."""
        if self.closed:
            return False
        cut = self.subs.filter(frame.data)
        if cut is None:
            return True
        data, events = cut
        items = [_Out("data", data, events)]
        items += [_Out(kind, payload) for kind, payload in self.plan.extras(data)]
        for item in items:
            if not await self._enqueue(item):
                return False
        return True

    async def finish(self) -> None:
        """The source is exhausted: close with 1000 after what is queued."""
        await self._enqueue(_Out("end"))

    async def _enqueue(self, item: _Out) -> bool:
        """Queue one item; False once the client is declared a slow consumer."""
        if not self.config.paced:
            await self.queue.put(item)
            return True
        self.queue.put_nowait(item)
        limit = self.plan.faults.slow_consumer_queue
        if limit is None or self.queue.qsize() <= limit:
            return True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_Out("status", status("slow_consumer", "consumer too slow").encode()))
        self.queue.put_nowait(_Out("close", b"slow_consumer"))
        return False

    async def _send_loop(self) -> None:
        """Send queued items in order; apply the disruptive faults as data frames go out."""
        while True:
            item, self._next = self._next or await self.queue.get(), None
            if item.kind == "end":
                await self.ws.close(NORMAL_CLOSE, "replay finished")
                return
            if item.kind == "close":
                await self.ws.close(POLICY_CLOSE, item.payload.decode())
                return
            if item.kind == "data" and self.batching:
                item = self._take_batch(item)
            await self.ws.send(item.payload, text=True)
            self._count(item)
            if item.kind == "data" and not await self._after_data():
                return

    def _take_batch(self, first: _Out) -> _Out:
        """``first`` and the data frames queued right behind it, as one frame (JSON arrays joined)."""
        parts, events = [first.payload], first.events
        limit = self.config.batch_events
        while not self.queue.empty():
            nxt = self.queue.get_nowait()
            if nxt.kind != "data" or events + nxt.events > limit:
                self._next = nxt  # sent next, in order
                break
            parts.append(nxt.payload)
            events += nxt.events
        if len(parts) == 1:
            return first
        return _Out("data", b"[" + b",".join(p[1:-1] for p in parts) + b"]", events)

    def _count(self, item: _Out) -> None:
        names = {"malformed": "malformed", "duplicate": "duplicates", "correction": "corrections"}
        if item.kind == "data":
            self.sent_frames += 1
            self.server.count(self.market, "frames")
            self.server.count(self.market, "events", item.events)
        elif item.kind in names:
            self.server.count(self.market, names[item.kind])

    async def _after_data(self) -> bool:
        """Apply a drop/max_connections/pause fault due now; False when the connection is gone."""
        action = self.plan.after_sent(self.sent_frames)
        if action == "drop":
            self.ws.transport.abort()  # no close frame: the client sees an abnormal closure
            return False
        if action == "max_connections":
            await self.disconnect("max_connections", "Maximum number of websocket connections exceeded.")
            return False
        if action == "pause":
            await asyncio.sleep(self.plan.faults.pause_s)
        return True


# --- the CLI entry point -----------------------------------------------------------------------
async def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    speed: float = 1.0,
    api_key: str | None = None,
    start: dt.date,
    sessions: int = 1,
    seed: int = 0,
    faults: Faults | None = None,
    timeline: str = "replay",
    anchor_epoch_ns: int | None = None,
    recorded: Connect | None = None,
) -> None:
    """Serve ``sessions`` XNYS sessions from ``start`` on ``host:port`` (websocket + REST) until cancelled:
    synthetic days, or with ``recorded`` (a database connection factory) what the database holds for them.

    ``anchor_epoch_ns`` (live timeline): the Unix time (ns) at which the first session's open goes
    out; a server restarted with the same value resumes where the market is by the wall clock.
    """
    windows = session_windows(start, sessions)
    anchor = None
    if anchor_epoch_ns is not None:
        anchor = Anchor(send_ns=windows[0].open_ns, wall_ns=anchor_epoch_ns)
    config = ServerConfig(
        host=host,
        port=port,
        speed=speed,
        api_key=api_key,
        faults=faults or Faults(),
        timeline=timeline,
        anchor=anchor,
    )
    if recorded is None:
        sources, rest = synthetic_sources(start, sessions, seed), RestApi(SyntheticDays(start, sessions, seed), api_key)
    else:
        dates = [w.day for w in windows]
        sources, rest = recorded_sources(recorded, dates), RestApi(RecordedDays(recorded, dates), api_key)
    async with ReplayServer(sources, config, rest) as server:
        log.info("replay server on ws://%s:%d/{indices,stocks,options} and http REST", host, server.port)
        await server.serve_forever()
