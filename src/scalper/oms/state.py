"""The order state machine: which broker update may move an order from which status to which.

=================  ===========================================================================
from               to
=================  ===========================================================================
new                accepted, cancelled, rejected, expired
accepted           partially_filled*, filled*, cancelled, rejected, expired
partially_filled   partially_filled*, filled*, cancelled, expired
filled, cancelled,
rejected, expired  nothing (terminal)
=================  ===========================================================================

\\* only through a fill: a fill is allowed in accepted and partially_filled, never makes the
filled quantity exceed the order quantity, and leaves the order filled when the remainder is
within :func:`~scalper.core.orders.qty_tolerance`, partially filled otherwise. The average fill
price is the volume-weighted mean of the fills.

Two updates change nothing instead of failing, because brokers resend and reorder messages:
a status equal to the current one (a resend), and ``accepted`` for an order already past
``new`` (a late acknowledgement: fills, cancels and rejects all imply it). Everything else
outside the table raises :class:`~scalper.core.errors.OrderStateError` naming the order, the
from and the to status. Functions here are pure: they return the new :class:`Order`.
"""

from __future__ import annotations

import msgspec

from scalper.core.errors import OrderStateError
from scalper.core.orders import Fill, Order, OrderStatus, StatusUpdate, qty_tolerance

_S = OrderStatus
#: from → the statuses an update may move it to (the * rows of the module table need a fill)
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.NEW: frozenset({_S.ACCEPTED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}),
    _S.ACCEPTED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}),
    _S.FILLED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}
#: statuses reached only through a fill
BY_FILL = frozenset({_S.PARTIALLY_FILLED, _S.FILLED})
#: statuses in which a fill is allowed
FILLABLE = frozenset({_S.ACCEPTED, _S.PARTIALLY_FILLED})


def _illegal(order: Order, to: OrderStatus | str, why: str) -> OrderStateError:
    cid, frm = order.client_order_id, order.status
    return OrderStateError(
        f"order {cid}: illegal transition {frm} -> {to}: {why}",
        client_order_id=cid,
        from_status=str(frm),
        to_status=str(to),
    )


def is_ignored(order: Order, status: OrderStatus) -> bool:
    """True when a status update is a resend or a late acknowledgement: it changes nothing."""
    return status is order.status or (status is _S.ACCEPTED and order.status is not _S.NEW)


def apply_status(order: Order, update: StatusUpdate) -> Order | None:
    """The order after a broker status update, or None when the update changes nothing.

    ``ts_updated`` never goes backwards (the later of the order's and the update's time); the
    broker order id is taken from the first update that carries one and may not change after.
    """
    to = update.status
    if update.client_order_id != order.client_order_id:
        raise _illegal(order, to, f"the update is for order {update.client_order_id}")
    if is_ignored(order, to):
        return None
    if to not in TRANSITIONS[order.status]:
        raise _illegal(order, to, "not allowed from this status")
    if to in BY_FILL:
        raise _illegal(order, to, "only a fill moves an order to this status")
    broker_id = order.broker_order_id
    if update.broker_order_id is not None:
        if broker_id is not None and broker_id != update.broker_order_id:
            raise _illegal(order, to, f"broker order id {update.broker_order_id} differs from {broker_id}")
        broker_id = update.broker_order_id
    return msgspec.structs.replace(
        order,
        status=to,
        ts_updated=max(order.ts_updated, update.ts),
        broker_order_id=broker_id,
        reject_reason=update.reason if to is _S.REJECTED else None,
    )


def apply_fill(order: Order, fill: Fill) -> Order:
    """The order after one fill (duplicate fill ids are the order book's business)."""
    mismatch = next(
        (
            f"the fill's {name} is {theirs}, the order's {ours}"
            for name, theirs, ours in (
                ("client order id", fill.client_order_id, order.client_order_id),
                ("symbol", fill.symbol, order.symbol),
                ("side", fill.side, order.side),
            )
            if theirs != ours
        ),
        None,
    )
    if mismatch is not None:
        raise _illegal(order, "fill", f"fill {fill.fill_id}: {mismatch}")
    if order.status not in FILLABLE:
        raise _illegal(order, "fill", f"fill {fill.fill_id}: a fill is allowed only when accepted or partially filled")
    qty = order.qty
    filled = order.filled_qty + fill.qty
    eps = qty_tolerance(qty)
    if filled > qty + eps:
        raise _illegal(
            order, _S.FILLED, f"fill {fill.fill_id} of {fill.qty} would fill {filled}, more than the order's {qty}"
        )
    complete = qty - filled <= eps
    return msgspec.structs.replace(
        order,
        status=_S.FILLED if complete else _S.PARTIALLY_FILLED,
        filled_qty=qty if complete else filled,
        avg_fill_price=_vwap(order.filled_qty, order.avg_fill_price, fill.qty, fill.price),
        ts_updated=max(order.ts_updated, fill.ts),
    )


def _vwap(q0: float, p0: float | None, q1: float, p1: float) -> float:
    """Volume-weighted mean of (q0 at p0) and (q1 at p1), kept inside [min, max] of the two prices."""
    if p0 is None or q0 == 0.0:
        return p1
    mean = (q0 * p0 + q1 * p1) / (q0 + q1)
    return min(max(mean, min(p0, p1)), max(p0, p1))
