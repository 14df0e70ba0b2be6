"""The trading journal: where the engine records its decisions and every order change.

:class:`~scalper.engine.trader.Trader` hands each :class:`SignalRecord` (an entry taken or
refused, an exit, a flatten) and each batch of :class:`~scalper.oms.book.OrderEvent` (a
submission, a status, a fill) to a :class:`Journal` as they happen — order submissions *before*
the order goes to the broker (write-ahead: a crash after the submit leaves the order on record,
so a restart knows it may be working). :class:`MemoryJournal` keeps them in lists (tests,
backtests that write at the end); :class:`scalper.adapters.store.journal.StoreJournal` writes
them to the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from scalper.oms.book import OrderEvent
from scalper.risk.brackets import BracketPlan
from scalper.strategy.policy import Reason
from scalper.strategy.thresholds import Level

RecordKind = Literal["enter", "exit", "flatten"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SignalRecord:
    """One decision: an entry (``accepted`` or refused), an exit or a flatten.

    ``reasons`` are the play's reasons and the policy level, then the sizing's reasons (accepted
    entry) or the blocks (refusal). For an entry, ``index``/``proxy`` are the signal and traded
    symbols and ``price`` the index price decided at. ``latency_ns`` is the wall time from the
    event's arrival at :meth:`Trader.on_event` to the order built, before it is recorded and sent
    (None when nothing was sent).
    """

    signal_id: str
    play: str
    ts: int
    kind: RecordKind
    level: Level | None
    accepted: bool
    reasons: tuple[Reason, ...]
    shares: int = 0
    direction: int = 0
    index: str | None = None
    proxy: str | None = None
    price: float | None = None
    plan: BracketPlan | None = None
    client_order_ids: tuple[str, ...] = ()
    latency_ns: int | None = None


class Journal(Protocol):
    """Receives the engine's decisions and order changes, in the order they happen."""

    def signal(self, record: SignalRecord) -> None:
        """One decision."""
        ...

    def order_events(self, events: Sequence[OrderEvent]) -> None:
        """The events of one order-book change (written together)."""
        ...


@dataclass(slots=True)
class MemoryJournal:
    """A journal kept in memory."""

    signals: list[SignalRecord] = field(default_factory=list)
    events: list[OrderEvent] = field(default_factory=list)

    def signal(self, record: SignalRecord) -> None:
        self.signals.append(record)

    def order_events(self, events: Sequence[OrderEvent]) -> None:
        self.events.extend(events)
