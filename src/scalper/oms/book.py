"""The order book of one run: every order by client id, the broker's updates applied, fills kept.

Each change is returned as :class:`OrderEvent` records (numbered per order from 0, the
submission) for the store to persist: one broker update gives zero, one or two events, written
in one transaction. Updates that change nothing (a resent status, a late acknowledgement, a fill
id seen before) give none, so replaying a broker's messages is harmless. A fill for an order
still ``new`` (its acknowledgement lost or overtaken) first accepts it: an ``implied`` status
event, then the fill event. Illegal updates raise :class:`~scalper.core.errors.OrderStateError`
and leave the book as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import msgspec

from scalper.core.errors import DataError
from scalper.core.orders import BrokerUpdate, Fill, Order, OrderRequest, OrderStatus, Position, StatusUpdate
from scalper.oms import state
from scalper.oms.positions import fill_order, positions_from_fills

EventKind = Literal["submitted", "status", "fill"]


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One change of one order: ``order`` is its state after the change, ``seq`` its number.

    ``from_status`` is None for the submission; ``fill`` is set for a fill; ``reason`` is the
    broker's text of a status update; ``implied`` marks an acceptance implied by a fill.
    """

    client_order_id: str
    seq: int
    ts: int
    kind: EventKind
    from_status: OrderStatus | None
    order: Order
    fill: Fill | None = None
    reason: str | None = None
    implied: bool = False

    @property
    def status(self) -> OrderStatus:
        return self.order.status

    def detail(self) -> dict[str, Any]:
        """The JSON-ready detail stored with the event (``order_events.detail``)."""
        detail: dict[str, Any] = {
            "kind": self.kind,
            "from": None if self.from_status is None else str(self.from_status),
        }
        if self.fill is not None:
            detail |= {"fill_id": self.fill.fill_id, "qty": self.fill.qty, "price": self.fill.price}
        if self.reason is not None:
            detail["reason"] = self.reason
        if self.implied:
            detail["implied"] = True
        if self.kind == "status" and self.order.broker_order_id is not None:
            detail["broker_order_id"] = self.order.broker_order_id
        return detail


class OrderBook:
    """Orders and fills of one run, in memory. Equal books hold equal orders, fills and event numbers."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._seq: dict[str, int] = {}  # client id → number of the last event
        self._fills: dict[str, Fill] = {}  # fill id → fill
        self._by_signal: dict[str, list[str]] = {}
        self._children: dict[str, list[str]] = {}

    # ---- queries

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        return (self._orders, self._fills, self._seq) == (other._orders, other._fills, other._seq)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def order(self, client_order_id: str) -> Order:
        """The order with this client id; an unknown id is a :class:`DataError`."""
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise DataError(f"unknown client order id {client_order_id!r}") from None

    def last_seq(self, client_order_id: str) -> int:
        """The number of the order's last event (0 = its submission)."""
        self.order(client_order_id)
        return self._seq[client_order_id]

    def orders(self) -> list[Order]:
        """All orders, by creation time then client id."""
        return sorted(self._orders.values(), key=_created)

    def open_orders(self) -> list[Order]:
        """Orders that may still trade (new, accepted, partially filled), by creation time."""
        return [o for o in self.orders() if o.is_open]

    def orders_of_signal(self, signal_id: str) -> list[Order]:
        return sorted((self._orders[c] for c in self._by_signal.get(signal_id, ())), key=_created)

    def children(self, parent_id: str) -> list[Order]:
        """The orders whose ``parent_id`` is ``parent_id`` (a bracket's stop and target)."""
        return sorted((self._orders[c] for c in self._children.get(parent_id, ())), key=_created)

    def fills(self, client_order_id: str | None = None) -> list[Fill]:
        """Fills (of one order, or all), in :func:`~scalper.oms.positions.fill_order` order."""
        chosen = (f for f in self._fills.values() if client_order_id is None or f.client_order_id == client_order_id)
        return sorted(chosen, key=fill_order)

    def positions(self) -> dict[str, Position]:
        """Every traded symbol's position from the fills (flat ones included)."""
        return positions_from_fills(self._fills.values())

    # ---- changes

    def submit(self, request: OrderRequest) -> list[OrderEvent]:
        """Add a new order. Submitting the same request again changes nothing; another request
        under a used client id, or a child of an unknown parent, is a :class:`DataError`."""
        cid = request.client_order_id
        known = self._orders.get(cid)
        if known is not None:
            if known.request == request:
                return []
            raise DataError(f"client order id {cid} is already used by a different request")
        if request.parent_id is not None and request.parent_id not in self._orders:
            raise DataError(f"order {cid}: parent {request.parent_id} is not in the book")
        order = Order(request=request, status=OrderStatus.NEW, ts_updated=request.ts_created)
        self._add(order, seq=0)
        event = OrderEvent(
            client_order_id=cid, seq=0, ts=request.ts_created, kind="submitted", from_status=None, order=order
        )
        return [event]

    def apply(self, update: BrokerUpdate) -> list[OrderEvent]:
        """Apply a broker update (a status change or a fill); returns the events it caused."""
        if isinstance(update, Fill):
            return self.apply_fill(update)
        return self.apply_status(update)

    def apply_status(self, update: StatusUpdate) -> list[OrderEvent]:
        order = self.order(update.client_order_id)
        after = state.apply_status(order, update)
        if after is None:
            return []
        event = self._event(order, after, ts=update.ts, kind="status", reason=update.reason)
        self._commit([event])
        return [event]

    def apply_fill(self, fill: Fill) -> list[OrderEvent]:
        seen = self._fills.get(fill.fill_id)
        if seen is not None:
            if seen == fill:
                return []
            raise DataError(f"fill id {fill.fill_id} was seen before with different contents: {seen} then {fill}")
        order = self.order(fill.client_order_id)
        events: list[OrderEvent] = []
        if order.status is OrderStatus.NEW:
            accepted = state.apply_status(
                order, StatusUpdate(client_order_id=order.client_order_id, status=OrderStatus.ACCEPTED, ts=fill.ts)
            )
            assert accepted is not None  # new -> accepted is always allowed
            events.append(self._event(order, accepted, ts=fill.ts, kind="status", implied=True))
            order = accepted
        after = state.apply_fill(order, fill)
        events.append(self._event(order, after, ts=fill.ts, kind="fill", fill=fill, offset=len(events)))
        self._commit(events)
        self._fills[fill.fill_id] = fill
        return events

    @classmethod
    def restore(cls, orders: Iterable[Order], fills: Iterable[Fill], last_seq: Mapping[str, int]) -> OrderBook:
        """A book holding ``orders`` and ``fills`` as stored, continuing each order's event numbers
        after ``last_seq``. Fills that do not add up to an order's filled quantity are a :class:`DataError`."""
        book = cls()
        for order in orders:
            book._add(order, seq=last_seq.get(order.client_order_id, 0))
        for fill in fills:
            book.order(fill.client_order_id)
            book._fills[fill.fill_id] = fill
        for order in book._orders.values():
            parent = order.request.parent_id
            if parent is not None and parent not in book._orders:
                raise DataError(f"order {order.client_order_id}: parent {parent} is not in the book")
            filled = sum(f.qty for f in book.fills(order.client_order_id))
            if abs(filled - order.filled_qty) > 1e-9 * max(1.0, order.qty):
                raise DataError(
                    f"order {order.client_order_id}: fills add up to {filled}, the order says {order.filled_qty} filled"
                )
        return book

    # ---- internals

    def _event(
        self,
        before: Order,
        after: Order,
        *,
        ts: int,
        kind: EventKind,
        fill: Fill | None = None,
        reason: str | None = None,
        implied: bool = False,
        offset: int = 0,
    ) -> OrderEvent:
        cid = before.client_order_id
        return OrderEvent(
            client_order_id=cid,
            seq=self._seq[cid] + 1 + offset,
            ts=ts,
            kind=kind,
            from_status=before.status,
            order=after,
            fill=fill,
            reason=reason,
            implied=implied,
        )

    def _commit(self, events: list[OrderEvent]) -> None:
        for event in events:
            self._orders[event.client_order_id] = event.order
            self._seq[event.client_order_id] = event.seq

    def _add(self, order: Order, *, seq: int) -> None:
        cid, request = order.client_order_id, order.request
        self._orders[cid] = order
        self._seq[cid] = seq
        if request.signal_id is not None:
            self._by_signal.setdefault(request.signal_id, []).append(cid)
        if request.parent_id is not None:
            self._children.setdefault(request.parent_id, []).append(cid)


def _created(order: Order) -> tuple[int, str]:
    return order.request.ts_created, order.client_order_id
