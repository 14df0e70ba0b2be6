"""What each connection receives and when: its subscriptions, pacing, and live mode's one timeline.

Replay mode (the default): every connection paces its own copy of the source from its first
frame (:func:`paced` with a fresh :class:`Timeline`).

Live mode: one :class:`Timeline` for the whole server and one :class:`LiveMarket` broadcaster
per market, started with the server. The broadcaster reads the source once and hands each frame
to the connections subscribed *at that moment*; a client that connects late or reconnects after
a drop gets only frames whose send time is at or after the timeline's position, and must
backfill the rest over REST, exactly as with the real service.

Pacing uses the event loop's monotonic clock. By default the timeline anchors on the first frame
any market releases: send time ``origin_ns`` goes out at loop time ``start`` and a frame with send
time ``t`` at ``start + (t - origin_ns) / 1e9 / speed``. An explicit :class:`Anchor` pins the
timeline to the wall clock instead ("send time ``send_ns`` went out at Unix time ``wall_ns``"):
``start`` is derived from the wall clock when the first frame is reached, and every frame whose
time had already passed then is skipped, never sent. A server restarted with the same anchor thus
resumes where the market is, as a real provider's market does not pause while a server is away.

Speed 0 (or inf) in live mode follows a deterministic rule: the timeline stands still while no
client is subscribed to the market and otherwise advances as fast as the *slowest* subscribed
client reads (each connection's queue is bounded), so a connected client never loses a frame.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from scalper.synthetic.polygon_events import Frame

Frames = Iterable[Frame] | AsyncIterable[Frame]
_YIELD_EVERY_S = 0.001
FrameSource = Callable[[], Frames]
"""Called once per connection (replay) or once per server (live); returns frames in send order."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """Pins a paced timeline to the wall clock: send time ``send_ns`` went out at Unix time ``wall_ns``."""

    send_ns: int
    wall_ns: int


class Timeline:
    """A logical send-time clock advancing at ``speed`` on the loop clock; tells where the market is."""

    def __init__(
        self, speed: float, anchor: Anchor | None = None, *, wall_ns: Callable[[], int] = time.time_ns
    ) -> None:
        if anchor is not None and not 0 < speed < math.inf:
            raise ValueError(f"an anchored timeline must be paced (0 < speed < inf), speed was {speed!r}")
        self.speed = speed
        self._anchor = anchor
        self._wall_ns = wall_ns
        self._origin_ns: int | None = None
        self._start = 0.0
        self._resume_ns: int | None = None  # anchored: frames sent before this send time are skipped
        self._position_ns: int | None = None

    @property
    def paced(self) -> bool:
        return 0 < self.speed < math.inf

    @property
    def position_ns(self) -> int | None:
        """Send time (ns) of the latest frame released on any market; None before the first."""
        return self._position_ns

    @property
    def resume_ns(self) -> int | None:
        """Anchored: the send time the timeline had reached when its first frame came (None before, or unanchored)."""
        return self._resume_ns

    def _begin(self, send_ns: int, now: float) -> None:
        """Fix the loop time ``start`` at which send time ``origin_ns`` goes out."""
        if self._anchor is None:
            self._origin_ns, self._start = send_ns, now
            return
        elapsed_ns = self._wall_ns() - self._anchor.wall_ns
        self._origin_ns = self._anchor.send_ns
        self._start = now - elapsed_ns / 1e9
        self._resume_ns = self._anchor.send_ns + round(elapsed_ns * self.speed)

    async def wait_for(self, send_ns: int) -> bool:
        """Sleep until a frame sent at ``send_ns`` is due (at once when unpaced or late).

        False, at once, for a frame an anchored timeline had already passed when it started: skip it.
        """
        if self.paced:
            loop = asyncio.get_running_loop()
            if self._origin_ns is None:
                self._begin(send_ns, loop.time())
            assert self._origin_ns is not None
            if self._resume_ns is not None and send_ns < self._resume_ns:
                return False
            delay = self._start + (send_ns - self._origin_ns) / 1e9 / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self._position_ns = send_ns if self._position_ns is None else max(self._position_ns, send_ns)
        return True


async def paced(frames: Frames, timeline: Timeline) -> AsyncIterator[Frame]:
    """Yield ``frames`` as ``timeline`` releases them."""
    async for frame in _aiter(frames):
        if await timeline.wait_for(frame.send_ns):
            yield frame


async def _aiter(frames: Frames) -> AsyncIterator[Frame]:
    if isinstance(frames, AsyncIterable):
        async for frame in frames:
            yield frame
        return
    loop = asyncio.get_running_loop()
    yielded = loop.time()
    for frame in frames:
        yield frame
        if loop.time() - yielded >= _YIELD_EVERY_S:  # let other connections run while a sync source is drained
            await asyncio.sleep(0)
            yielded = loop.time()


class _Head(msgspec.Struct, gc=False):
    """What routing needs of an event: its channel and ticker (other fields are skipped)."""

    ev: str | None = None
    sym: str | None = None
    T: str | None = None


_heads = msgspec.json.Decoder(list[_Head])


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

    def filter(self, data: bytes) -> tuple[bytes, int] | None:
        """The frame cut down to the subscribed events (the same bytes when all match) and how many
        events it holds; None when nothing matches. Only ``ev`` and the ticker of each event are
        decoded (the ticker is ``T`` for index values, else ``sym``) unless the frame must be cut."""
        topics = self._topics
        keep = [(h.ev, "*") in topics or (h.ev, h.T if h.ev == "V" else h.sym) in topics for h in _heads.decode(data)]
        kept = sum(keep)
        if kept == 0:
            return None
        if kept == len(keep):
            return data, kept
        events = json.loads(data)
        return json.dumps([e for e, k in zip(events, keep, strict=True) if k], separators=(",", ":")).encode(), kept


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
            if not await self._timeline.wait_for(frame.send_ns):
                continue  # its time passed before the (anchored) timeline started
            self.position_ns = frame.send_ns
            for subscriber in list(self._subscribers):
                if not await subscriber.deliver(frame):
                    self.detach(subscriber)
        self.finished = True
        for subscriber in list(self._subscribers):
            await subscriber.finish()
