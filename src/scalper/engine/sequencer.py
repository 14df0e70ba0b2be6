"""Live events put into the replay order before they reach the engine.

A replay applies events in the order they are delivered: a trade or quote at its time, a
one-second aggregate at the end of its second plus the provider's aggregate delay, an ``AM`` bar
at the end of its minute plus the same delay (``feed.aggregate_delay_ms``; the replay server sends
bars 2 s after their window, as the real feed does), ties broken by kind (quote, trade, second,
minute) and then by symbol (:meth:`EventArrays.merge` with the same delay). Live events arrive on
several sockets, so two events delivered at the same instant (SPX's and SPY's bars of one
second) can arrive in either order. The sequencer holds events in a heap keyed like the replay
and releases an event when every stream has delivered something keyed *later* (the watermark: no
stream can still send an earlier key, each stream arriving in key order), or when it has waited
``grace_ns`` of wall time since it arrived (a quiet stream must not hold the engine back). An
event arriving after a later key was already released is applied at once and counted as ``late``:
only then can the live order differ from the replay's — e.g. when the real delay differs from the
modelled one.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from scalper.core.events import MarketEvent, MinuteAgg, Quote, SecondAgg, Trade

SECOND_NS: Final = 1_000_000_000
RANK: Final = {Quote: 0, Trade: 1, SecondAgg: 2, MinuteAgg: 3}


def delivered_at(event: MarketEvent, aggregate_delay_ns: int) -> int:
    """When ``event`` is delivered by the model: an aggregate's window end plus the delay, else its own time."""
    if isinstance(event, SecondAgg | MinuteAgg):
        return event.ts_end + aggregate_delay_ns
    return event.ts_event


@dataclass(order=True, slots=True)
class _Held:
    key: tuple[int, int, int]
    seq: int
    arrived_ns: int = field(compare=False)
    event: MarketEvent = field(compare=False)


class Sequencer:
    """Reorders the events of named streams into (known_at, kind, symbol) order."""

    def __init__(
        self,
        streams: Sequence[str],
        symbol_order: Mapping[str, int],
        *,
        aggregate_delay_ns: int = 0,
        grace_ns: int = 200_000_000,
    ) -> None:
        self._delay = aggregate_delay_ns
        self._latest = dict.fromkeys(streams, -1)
        self._symbols = dict(symbol_order)
        self._grace = grace_ns
        self._heap: list[_Held] = []
        self._seq = 0
        self._last_released: tuple[int, int, int] = (-1, -1, -1)
        self.late = 0
        self.released = 0

    def key(self, event: MarketEvent) -> tuple[int, int, int]:
        """The replay order of ``event``."""
        return (
            delivered_at(event, self._delay),
            RANK.get(type(event), 4),
            self._symbols.get(event.symbol, len(self._symbols)),
        )

    def push(self, stream: str, events: Sequence[MarketEvent], arrived_ns: int) -> list[MarketEvent]:
        """Hold one frame of ``stream``; returns the late events, to apply at once."""
        late: list[MarketEvent] = []
        latest = self._latest[stream]
        for ev in events:
            key = self.key(ev)
            latest = max(latest, key[0])
            if key < self._last_released:
                late.append(ev)
                continue
            self._seq += 1
            heapq.heappush(self._heap, _Held(key, self._seq, arrived_ns, ev))
        self._latest[stream] = latest
        self.late += len(late)
        self.released += len(late)
        return late

    def release(self, now_ns: int) -> list[MarketEvent]:
        """The events that can go to the engine now, in replay order."""
        watermark = min(self._latest.values())
        out: list[MarketEvent] = []
        heap = self._heap
        while heap and (heap[0].key[0] < watermark or heap[0].arrived_ns + self._grace <= now_ns):
            held = heapq.heappop(heap)
            self._last_released = held.key
            out.append(held.event)
        self.released += len(out)
        return out

    def drain(self) -> list[MarketEvent]:
        """Everything still held, in order (at shutdown)."""
        out = [heapq.heappop(self._heap).event for _ in range(len(self._heap))]
        if out:
            self._last_released = self.key(out[-1])
        self.released += len(out)
        return out

    def __len__(self) -> int:
        return len(self._heap)
