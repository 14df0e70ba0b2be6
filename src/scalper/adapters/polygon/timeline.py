"""What each connection receives and when: its subscriptions, pacing, and live mode's one timeline.

Replay mode (the default): every connection paces its own copy of the source from its first
frame (:func:`paced` with a fresh :class:`Timeline`).

Live mode: one :class:`Timeline` for the whole server and one :class:`LiveMarket` broadcaster
per market, started with the server. The broadcaster reads the source once and hands each frame
to the connections subscribed *at that moment*; a client that connects late or reconnects after
a drop gets only frames whose send time is at or after the timeline's position, and must
backfill the rest over REST, exactly as with the real service.

Pacing uses the event loop's monotonic clock, never the wall clock. The timeline anchors on the
first frame any market releases: send time ``origin_ns`` goes out at loop time ``start`` and a
frame with send time ``t`` at ``start + (t - origin_ns) / 1e9 / speed``.

Speed 0 (or inf) in live mode follows a deterministic rule: the timeline stands still while no
client is subscribed to the market and otherwise advances as fast as the *slowest* subscribed
client reads (each connection's queue is bounded), so a connected client never loses a frame.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Protocol

from scalper.synthetic.polygon_events import Frame

Frames = Iterable[Frame] | AsyncIterable[Frame]
FrameSource = Callable[[], Frames]
"""Called once per connection (replay) or once per server (live); returns frames in send order."""


class Timeline:
    """A logical send-time clock advancing at ``speed`` on the loop clock; tells where the market is."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin_ns: int | None = None
        self._start = 0.0
        self._position_ns: int | None = None

    @property
    def paced(self) -> bool:
        return 0 < self.speed < math.inf

    @property
    def position_ns(self) -> int | None:
        """Send time (ns) of the latest frame released on any market; None before the first."""
        return self._position_ns

    async def wait_for(self, send_ns: int) -> None:
        """Sleep until a frame sent at ``send_ns`` is due (at once when unpaced or late)."""
        if self.paced:
            loop = asyncio.get_running_loop()
            if self._origin_ns is None:
                self._origin_ns, self._start = send_ns, loop.time()
            delay = self._start + (send_ns - self._origin_ns) / 1e9 / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self._position_ns = send_ns if self._position_ns is None else max(self._position_ns, send_ns)


async def paced(frames: Frames, timeline: Timeline) -> AsyncIterator[Frame]:
    """Yield ``frames`` as ``timeline`` releases them."""
    async for frame in _aiter(frames):
        await timeline.wait_for(frame.send_ns)
        yield frame


async def _aiter(frames: Frames) -> AsyncIterator[Frame]:
    if isinstance(frames, AsyncIterable):
        async for frame in frames:
            yield frame
        return
    for frame in frames:
        yield frame
        await asyncio.sleep(0)  # let other connections run while a sync source is drained


class Subscriptions:
    """A connection's topics as (channel, ticker) pairs; ticker ``*`` matches every ticker."""

    def __init__(self) -> None:
        self._topics: set[tuple[str, str]] = set()

    @staticmethod
    def parse(params: str) -> tuple[list[tuple[str, str]], list[str]]:
        """Split ``"A.I:SPX,V.*"`` into valid (channel, ticker) pairs and the invalid topics."""
        good, bad = [], []
        for topic in (t.strip() for t in params.split(",")):
            channel, _, ticker = topic.partition(".")
            if channel and ticker:
                good.append((channel, ticker))
            elif topic:
                bad.append(topic)
        return good, bad

    def add(self, topic: tuple[str, str]) -> None:
        self._topics.add(topic)

    def remove(self, topic: tuple[str, str]) -> None:
        self._topics.discard(topic)

    def __bool__(self) -> bool:
        return bool(self._topics)

    def wants(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` matches a topic (the ticker is ``T`` for index values, else ``sym``)."""
        channel = event.get("ev")
        if not isinstance(channel, str):
            return False
        ticker = event.get("T") if channel == "V" else event.get("sym")
        return (channel, "*") in self._topics or (channel, str(ticker)) in self._topics

    def filter(self, data: bytes) -> tuple[bytes, list[dict[str, Any]]] | None:
        """The frame cut down to the subscribed events (same bytes if all match), or None if empty."""
        events = json.loads(data)
        kept = [e for e in events if self.wants(e)]
        if not kept:
            return None
        if len(kept) == len(events):
            return data, kept
        return json.dumps(kept, separators=(",", ":")).encode(), kept


class Subscriber(Protocol):
    """A connection as the broadcaster sees it."""

    async def deliver(self, frame: Frame) -> bool:
        """Queue ``frame`` (filtered to the subscriptions); False once the connection is gone."""
        ...

    async def finish(self) -> None:
        """The source is exhausted: close normally once everything queued is sent."""
        ...


class LiveMarket:
    """One market's broadcaster in live mode: the source is read once, on the shared timeline."""

    def __init__(self, frames: Frames, timeline: Timeline) -> None:
        self._frames = frames
        self._timeline = timeline
        self._subscribers: list[Subscriber] = []
        self._someone = asyncio.Event()
        self.position_ns: int | None = None  # send time of this market's latest released frame
        self.finished = False

    async def attach(self, subscriber: Subscriber) -> None:
        """Start handing frames to ``subscriber`` from the current position on."""
        if self.finished:
            await subscriber.finish()
            return
        self._subscribers.append(subscriber)
        self._someone.set()

    def detach(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
        if not self._subscribers:
            self._someone.clear()

    async def run(self) -> None:
        """Release every frame to the subscribers of the moment, then end their replays."""
        async for frame in _aiter(self._frames):
            if not self._timeline.paced:
                await self._someone.wait()
            await self._timeline.wait_for(frame.send_ns)
            self.position_ns = frame.send_ns
            for subscriber in list(self._subscribers):
                if not await subscriber.deliver(frame):
                    self.detach(subscriber)
        self.finished = True
        for subscriber in list(self._subscribers):
            await subscriber.finish()
