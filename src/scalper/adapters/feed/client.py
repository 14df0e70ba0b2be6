"""One resilient websocket connection to a Polygon/Massive cluster.

Connect, wait for ``connected``, authenticate (``auth_failed`` is fatal: :class:`FeedAuthError`,
no retry), subscribe, then read. Every frame is parsed and handed to ``on_frame`` inside the
read loop, which does no I/O of its own, so the socket is never starved. On any disconnect the
client reconnects after a capped, jittered exponential backoff (a long one after
``max_connections``: another process holds the key) and resubscribes. While the market is open,
silence longer than ``stall_after_s`` counts as a stall and forces a reconnect; outside regular
hours silence is normal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from scalper.adapters.feed.backoff import Backoff
from scalper.adapters.feed.parse import Parsed, Status, parse_frame
from scalper.adapters.feed.reasons import ReconnectReason
from scalper.config.secrets import Secret
from scalper.core.clock import Clock
from scalper.core.errors import FeedAuthError, FeedError

log = logging.getLogger(__name__)
_MAX_FRAME = 8 * 1024 * 1024
_HANDSHAKE_TIMEOUT_S = 10.0
_YIELD_EVERY_S = 0.001


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSettings:
    """Where to connect and what to ask for."""

    url: str  # e.g. wss://socket.massive.com/indices or ws://127.0.0.1:8765/indices
    api_key: Secret
    topics: tuple[str, ...]  # e.g. ("A.I:SPX", "V.I:SPX")
    stall_after_s: float = 15.0
    compression: Literal["none", "deflate"] = "none"  # deflate: permessage-deflate, offered to the server
    backoff: Backoff = field(default_factory=Backoff)


class _Disconnect(Exception):
    """The server told us it is closing the connection (max_connections, slow_consumer, ...)."""

    def __init__(self, reason: ReconnectReason) -> None:
        super().__init__(reason)
        self.reason = reason


class _Watch:
    """Watches one connection from the event loop's timer: closes it when capture stops, or when
    the stream has been silent for ``stall_after_s`` while the market is open (``stalled``).
    The read loop only stamps ``last_rx``: no timer or task per frame."""

    TICK_S = 0.25

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ws: ClientConnection,
        stop: asyncio.Event,
        stall_after_s: float,
        market_open: Callable[[], bool],
    ) -> None:
        self._loop, self._ws, self._stop = loop, ws, stop
        self._stall_after_s, self._market_open = stall_after_s, market_open
        self.last_rx = loop.time()
        self.stalled = False
        self._closing: asyncio.Task[None] | None = None
        self._timer = loop.call_later(self.TICK_S, self._check)

    def _check(self) -> None:
        now = self._loop.time()
        if self._stop.is_set():
            self._close()
            return
        if now - self.last_rx >= self._stall_after_s:
            if self._market_open():
                self.stalled = True
                self._close()
                return
            self.last_rx = now  # silence outside regular hours is normal: count again from here
        self._timer = self._loop.call_later(self.TICK_S, self._check)

    def _close(self) -> None:
        self._closing = self._loop.create_task(self._ws.close())

    def cancel(self) -> None:
        self._timer.cancel()


class FeedClient:
    """Keeps one subscription alive and feeds parsed frames to ``on_frame``."""

    def __init__(
        self,
        settings: FeedSettings,
        clock: Clock,
        on_frame: Callable[[Parsed], None],
        *,
        market_open: Callable[[int], bool],
        on_state: Callable[[str, str], None] | None = None,
        seed: int | None = None,
    ) -> None:
        self._s = settings
        self._clock = clock
        self._on_frame = on_frame
        self._market_open = market_open
        self._on_state = on_state or (lambda state, detail: None)
        self._rng = random.Random(seed)
        self.reconnects: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; raises :class:`FeedAuthError` when the key is refused."""
        attempt = 0
        while not stop.is_set():
            reason, authenticated = await self._session(stop)
            if stop.is_set():
                break
            if authenticated:
                attempt = 0  # the key and the server were fine: start the backoff over
            self.reconnects[reason] = self.reconnects.get(reason, 0) + 1
            delay = self._s.backoff.delay(attempt, self._rng, long=reason == ReconnectReason.MAX_CONNECTIONS)
            attempt += 1
            self._on_state("disconnected", reason)
            log.warning("feed %s: %s; reconnecting in %.1f s", self._s.url, reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _session(self, stop: asyncio.Event) -> tuple[ReconnectReason, bool]:
        """One connection: returns why it ended and whether it got past authentication."""
        authenticated = False
        try:
            async with websockets.connect(
                self._s.url,
                compression="deflate" if self._s.compression == "deflate" else None,
                max_size=_MAX_FRAME,
                open_timeout=_HANDSHAKE_TIMEOUT_S,
                close_timeout=2,
            ) as ws:
                await self._handshake(ws)
                authenticated = True
                self._on_state("subscribed", ",".join(self._s.topics))
                await self._read(ws, stop)
                return ReconnectReason.CLOSED, authenticated
        except _Disconnect as exc:
            return exc.reason, authenticated
        except ConnectionClosed:
            return ReconnectReason.CLOSED, authenticated
        except TimeoutError:
            return ReconnectReason.TIMEOUT, authenticated
        except InvalidURI as exc:
            raise FeedError(f"feed URL {self._s.url!r} is invalid: {exc}") from None
        except (OSError, InvalidHandshake) as exc:
            log.warning("feed %s: cannot connect: %s", self._s.url, exc)
            return ReconnectReason.CONNECT_FAILED, authenticated

    async def _handshake(self, ws: ClientConnection) -> None:
        first = await self._statuses(ws)
        if not any(s.status == "connected" for s in first):
            log.warning("feed %s: unexpected greeting %r", self._s.url, first)
            raise _Disconnect(ReconnectReason.PROTOCOL)
        await ws.send(json.dumps({"action": "auth", "params": self._s.api_key.reveal()}))
        reply = await self._statuses(ws)
        if any(s.status == "auth_failed" for s in reply):
            raise FeedAuthError(
                f"the feed at {self._s.url} refused the API key (auth_failed); check MASSIVE_API_KEY / POLYGON_API_KEY"
            )
        if not any(s.status == "auth_success" for s in reply):
            log.warning("feed %s: no auth_success in %r", self._s.url, reply)
            raise _Disconnect(ReconnectReason.PROTOCOL)
        await ws.send(json.dumps({"action": "subscribe", "params": ",".join(self._s.topics)}))

    async def _statuses(self, ws: ClientConnection) -> list[Status]:
        raw = await asyncio.wait_for(ws.recv(), _HANDSHAKE_TIMEOUT_S)
        return parse_frame(raw, self._clock.now_ns()).statuses

    async def _read(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        watch = _Watch(loop, ws, stop, self._s.stall_after_s, lambda: self._market_open(self._clock.now_ns()))
        yielded = loop.time()
        try:
            while True:
                raw = await ws.recv()
                now = watch.last_rx = loop.time()
                parsed = parse_frame(raw, self._clock.now_ns())
                for status in parsed.statuses:
                    self._on_status(status)
                self._on_frame(parsed)
                if now - yielded >= _YIELD_EVERY_S:  # recv() does not yield while frames are buffered:
                    await asyncio.sleep(0)  # during a burst, let the engine and the writer run every millisecond
                    yielded = loop.time()
        except ConnectionClosed:
            if watch.stalled:
                raise _Disconnect(ReconnectReason.STALL) from None
            if not stop.is_set():
                raise
        finally:
            watch.cancel()

    def _on_status(self, status: Status) -> None:
        if status.status in ("max_connections", "slow_consumer", "force_disconnect"):
            raise _Disconnect(ReconnectReason(status.status))
        if status.status == "auth_failed":
            raise FeedAuthError(f"the feed at {self._s.url} revoked the API key: {status.message}")
        if status.status == "error":
            log.warning("feed %s status error: %s", self._s.url, status.message)
