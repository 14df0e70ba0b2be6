"""The broker port: what every broker (simulated, paper, live) offers the order management system.

Semantics, the same for every implementation:

* **Requests are asynchronous.** :meth:`Broker.submit`, :meth:`Broker.submit_bracket`,
  :meth:`Broker.cancel` and :meth:`Broker.replace` return ``None`` once the broker has *taken* the
  request. What happens to it afterwards — ``accepted``, ``rejected``, fills, ``cancelled``,
  ``expired`` — arrives only as broker updates (:class:`~scalper.core.orders.StatusUpdate` and
  :class:`~scalper.core.orders.Fill`), in the order the broker produced them. The caller records
  the request in its :class:`~scalper.oms.OrderBook` (status ``new``) before submitting and applies
  every update to it.
* **Synchronous errors** are raised as :class:`~scalper.core.errors.BrokerError` only for requests
  the broker cannot take at all: a client order id it already knows, a cancel or replace of an order
  it never saw, a replace when replacing is not supported. Nothing is sent in that case.
* **A bracket is one unit**: entry + stop + target submitted together; the stop and the target
  work only once the entry has filled (for at most the filled quantity), and they are one-cancels-
  other (OCO): when one of them is completely filled the other is cancelled. An entry that ends
  without any fill cancels both.
* **A cancel is a request**: the order may still fill until the broker processes it; the
  ``cancelled`` update confirms it. Cancelling an order that is already terminal changes nothing
  (no update).
* **A replacement is a new order** (a new client id, e.g. the next ``generation`` of the leg): the
  old one is reported ``cancelled`` and the new one ``accepted``, or the new one ``rejected`` when
  the old one can no longer be replaced (filled, partially filled, gone).
* **Updates** are delivered to every listener registered with :meth:`Broker.subscribe`, on the
  thread/loop the implementation documents (the simulator: synchronously, inside the call that
  produced them).
* :meth:`Broker.open_orders` and :meth:`Broker.positions` are the broker's own view, used to
  reconcile the order book after a restart; they reflect every update already delivered.

Timestamps are integer nanoseconds UTC; quantities share counts (fractional allowed); prices dollars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from scalper.core.errors import InvariantError
from scalper.core.orders import BrokerUpdate, Leg, Order, OrderRequest, OrderType, Position, qty_tolerance

UpdateListener = Callable[[BrokerUpdate], None]

#: order types a bracket's stop leg may have (a trailing stop trails from the entry's fill)
STOP_LEG_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})
#: order types a bracket's target leg may have
TARGET_LEG_TYPES = frozenset({OrderType.LIMIT})


class BracketRequest(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Entry, stop and target of one trade, submitted as one unit.

    Checked at construction: the legs are an ``entry``, a ``stop`` and a ``target`` leg; the stop
    and the target name the entry as their ``parent_id``, trade the same symbol and quantity on the
    opposite side; the stop is a stop, stop-limit or trailing stop order, the target a limit order;
    the three client ids differ.
    """

    entry: OrderRequest
    stop: OrderRequest
    target: OrderRequest

    def __post_init__(self) -> None:
        entry, cid = self.entry, self.entry.client_order_id
        if entry.leg is not Leg.ENTRY:
            raise InvariantError(f"bracket {cid} entry leg: expected {Leg.ENTRY}, was {entry.leg}")
        if entry.parent_id is not None:
            raise InvariantError(f"bracket {cid} entry parent_id: expected None, was {entry.parent_id!r}")
        ids = {cid, self.stop.client_order_id, self.target.client_order_id}
        if len(ids) != 3:
            raise InvariantError(f"bracket {cid}: expected three distinct client ids, was {sorted(ids)}")
        for name, child, leg, types in (
            ("stop", self.stop, Leg.STOP, STOP_LEG_TYPES),
            ("target", self.target, Leg.TARGET, TARGET_LEG_TYPES),
        ):
            where = f"bracket {cid} {name} {child.client_order_id}"
            if child.leg is not leg:
                raise InvariantError(f"{where} leg: expected {leg}, was {child.leg}")
            if child.parent_id != cid:
                raise InvariantError(f"{where} parent_id: expected {cid}, was {child.parent_id!r}")
            if child.symbol != entry.symbol:
                raise InvariantError(f"{where} symbol: expected {entry.symbol}, was {child.symbol}")
            if child.side is not entry.side.opposite:
                raise InvariantError(f"{where} side: expected {entry.side.opposite}, was {child.side}")
            if abs(child.qty - entry.qty) > qty_tolerance(entry.qty):
                raise InvariantError(f"{where} qty: expected the entry's {entry.qty}, was {child.qty}")
            if child.order_type not in types:
                allowed = ", ".join(sorted(t.value for t in types))
                raise InvariantError(f"{where} order_type: expected one of {allowed}, was {child.order_type}")

    @property
    def legs(self) -> tuple[OrderRequest, OrderRequest, OrderRequest]:
        return self.entry, self.stop, self.target


@runtime_checkable
class Broker(Protocol):
    """A broker: takes order requests, reports what happened to them as updates.

    See the module docstring for the semantics every implementation keeps.
    """

    @property
    def supports_replace(self) -> bool:
        """Whether :meth:`replace` is available (otherwise it raises ``BrokerError``)."""
        ...

    def subscribe(self, listener: UpdateListener) -> None:
        """Deliver every later update (status or fill) to ``listener``, in the broker's order."""
        ...

    def submit(self, request: OrderRequest) -> None:
        """Send one order; its fate arrives as updates."""
        ...

    def submit_bracket(self, bracket: BracketRequest) -> None:
        """Send an entry with its stop and target as one unit (OCO between stop and target)."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel an order; ``cancelled`` arrives as an update unless it fills first."""
        ...

    def replace(self, client_order_id: str, request: OrderRequest) -> None:
        """Ask to replace an open order by ``request`` (a new client id, same symbol, side and leg)."""
        ...

    def open_orders(self) -> list[Order]:
        """Orders the broker still works (new, accepted, partially filled), by submission order."""
        ...

    def positions(self) -> dict[str, Position]:
        """Net position per symbol from the broker's fills (flat symbols included)."""
        ...
