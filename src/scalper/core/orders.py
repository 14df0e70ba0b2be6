"""Order value types: requests, orders, fills, broker status updates and positions.

Conventions:

* quantities are share counts, finite and positive (fractional shares allowed); the direction is
  the ``side`` (buy/sell), never the sign of a quantity — except :attr:`Position.qty`, which is
  signed (+ long, − short);
* prices and costs are dollars (per share for prices, per fill for commission and fees);
* timestamps are integer nanoseconds UTC, passed in by the caller (never read from a clock here);
* two quantities are equal when they differ by at most :func:`qty_tolerance` (1e-9 share per
  share of size, at least 1e-9), so that fractional fills summing to the order quantity fill it.

Constructors check the invariants and raise :class:`InvariantError` naming the field
("expected X, was Y").
"""

from __future__ import annotations

import enum
import math

import msgspec

from scalper.core.errors import InvariantError


def qty_tolerance(qty: float) -> float:
    """The absolute tolerance under which two quantities near ``qty`` are the same."""
    return 1e-9 * max(1.0, abs(qty))


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise InvariantError(f"{name}: expected a finite number > 0, was {value!r}")


def _non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise InvariantError(f"{name}: expected a finite number >= 0, was {value!r}")


def _non_empty(name: str, value: str) -> None:
    if not value:
        raise InvariantError(f"{name}: expected a non-empty string, was {value!r}")


def _timestamp(name: str, value: int) -> None:
    if value < 0:
        raise InvariantError(f"{name}: expected nanoseconds since the epoch >= 0, was {value!r}")


class Side(enum.StrEnum):
    """Direction of an order or fill."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, −1 for a sell (the sign a fill adds to a position)."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    """Order types; which price fields each needs is checked by :class:`OrderRequest`."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class Leg(enum.StrEnum):
    """The role of an order in a trade: a bracket is entry + stop + target."""

    ENTRY = "entry"
    STOP = "stop"
    TARGET = "target"
    EXIT = "exit"
    FLATTEN = "flatten"


class TimeInForce(enum.StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.StrEnum):
    """Lifecycle status; the allowed transitions are in :mod:`scalper.oms.state`."""

    NEW = "new"  # created here, not yet acknowledged by the broker
    ACCEPTED = "accepted"  # acknowledged by the broker, working
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        """New, accepted or partially filled: the order may still trade."""
        return self in OPEN_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self not in OPEN_STATUSES


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
TERMINAL_STATUSES = frozenset(set(OrderStatus) - OPEN_STATUSES)

#: order type → (needs limit_price, needs stop_price, needs trail_amount); a price not needed is refused.
_PRICE_FIELDS: dict[OrderType, tuple[bool, bool, bool]] = {
    OrderType.MARKET: (False, False, False),
    OrderType.LIMIT: (True, False, False),
    OrderType.STOP: (False, True, False),
    OrderType.STOP_LIMIT: (True, True, False),
    OrderType.TRAILING_STOP: (False, False, True),
}
#: legs that belong to a signal (a flatten or a discretionary exit may have none)
_LEGS_WITH_SIGNAL = frozenset({Leg.ENTRY, Leg.STOP, Leg.TARGET})


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What we ask the broker for. Immutable: a replacement is a new request with a new client id.

    ``trail_amount`` is the trailing distance in dollars; ``decision_price`` the traded
    instrument's price when the decision was taken (for slippage); ``parent_id`` the client id
    of the bracket's entry for its stop and target legs.
    """

    client_order_id: str
    signal_id: str | None
    leg: Leg
    symbol: str
    side: Side
    order_type: OrderType
    qty: float
    ts_created: int
    parent_id: str | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    decision_price: float | None = None

    def __post_init__(self) -> None:
        cid = self.client_order_id
        _non_empty("client_order_id", cid)
        _non_empty(f"order {cid} symbol", self.symbol)
        _positive(f"order {cid} qty", self.qty)
        _timestamp(f"order {cid} ts_created", self.ts_created)
        if self.signal_id is not None:
            _non_empty(f"order {cid} signal_id", self.signal_id)
        elif self.leg in _LEGS_WITH_SIGNAL:
            raise InvariantError(f"order {cid} signal_id: expected a signal id for a {self.leg} leg, was None")
        if self.parent_id is not None and self.parent_id in ("", cid):
            raise InvariantError(f"order {cid} parent_id: expected another order's client id, was {self.parent_id!r}")
        needs = _PRICE_FIELDS[self.order_type]
        for name, needed in zip(("limit_price", "stop_price", "trail_amount"), needs, strict=True):
            value: float | None = getattr(self, name)
            if needed and value is None:
                raise InvariantError(f"order {cid} {name}: expected a price for a {self.order_type} order, was None")
            if not needed and value is not None:
                raise InvariantError(f"order {cid} {name}: expected None for a {self.order_type} order, was {value!r}")
            if value is not None:
                _positive(f"order {cid} {name}", value)
        if self.decision_price is not None:
            _positive(f"order {cid} decision_price", self.decision_price)


class Order(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order's current state: its request plus what the broker told us.

    ``avg_fill_price`` is the volume-weighted mean price of the fills (None until the first);
    ``ts_updated`` the time of the last change (never before ``request.ts_created``).
    """

    request: OrderRequest
    status: OrderStatus
    ts_updated: int
    filled_qty: float = 0.0
    avg_fill_price: float | None = None
    broker_order_id: str | None = None
    reject_reason: str | None = None

    def __post_init__(self) -> None:
        cid, qty, filled, status = self.client_order_id, self.request.qty, self.filled_qty, self.status
        _non_negative(f"order {cid} filled_qty", filled)
        eps = qty_tolerance(qty)
        if filled > qty + eps:
            raise InvariantError(f"order {cid} filled_qty: expected <= qty {qty}, was {filled}")
        if (filled > 0.0) != (self.avg_fill_price is not None):
            raise InvariantError(
                f"order {cid} avg_fill_price: expected a price exactly when filled_qty > 0, "
                f"was {self.avg_fill_price!r} with filled_qty {filled}"
            )
        if self.avg_fill_price is not None:
            _positive(f"order {cid} avg_fill_price", self.avg_fill_price)
        complete = qty - filled <= eps
        consistent = {
            OrderStatus.NEW: filled == 0.0,
            OrderStatus.ACCEPTED: filled == 0.0,
            OrderStatus.REJECTED: filled == 0.0,
            OrderStatus.PARTIALLY_FILLED: filled > 0.0 and not complete,
            OrderStatus.FILLED: complete,
            OrderStatus.CANCELLED: not complete,
            OrderStatus.EXPIRED: not complete,
        }[status]
        if not consistent:
            raise InvariantError(f"order {cid} status: {status} is inconsistent with filled_qty {filled} of {qty}")
        if self.reject_reason is not None and status is not OrderStatus.REJECTED:
            raise InvariantError(
                f"order {cid} reject_reason: expected None unless rejected, was {self.reject_reason!r}"
            )
        if self.broker_order_id is not None:
            _non_empty(f"order {cid} broker_order_id", self.broker_order_id)
        if self.ts_updated < self.request.ts_created:
            raise InvariantError(
                f"order {cid} ts_updated: expected >= ts_created {self.request.ts_created}, was {self.ts_updated}"
            )

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def side(self) -> Side:
        return self.request.side

    @property
    def qty(self) -> float:
        return self.request.qty

    @property
    def remaining_qty(self) -> float:
        """What may still fill: 0 once the order is terminal."""
        return self.request.qty - self.filled_qty if self.status.is_open else 0.0

    @property
    def is_open(self) -> bool:
        return self.status.is_open


class Fill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One execution. ``fill_id`` is the broker's execution id, unique within a run.

    ``commission`` and ``fees`` (regulatory fees such as SEC/FINRA) are dollars for this fill.
    """

    fill_id: str
    client_order_id: str
    ts: int
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float = 0.0
    fees: float = 0.0

    def __post_init__(self) -> None:
        fid = self.fill_id
        _non_empty("fill_id", fid)
        _non_empty(f"fill {fid} client_order_id", self.client_order_id)
        _non_empty(f"fill {fid} symbol", self.symbol)
        _timestamp(f"fill {fid} ts", self.ts)
        _positive(f"fill {fid} qty", self.qty)
        _positive(f"fill {fid} price", self.price)
        _non_negative(f"fill {fid} commission", self.commission)
        _non_negative(f"fill {fid} fees", self.fees)

    @property
    def signed_qty(self) -> float:
        return self.side.sign * self.qty

    @property
    def costs(self) -> float:
        return self.commission + self.fees


class StatusUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A status change reported by the broker (fills come as :class:`Fill`).

    ``reason`` is the broker's text (kept as ``reject_reason`` when the status is rejected).
    """

    client_order_id: str
    status: OrderStatus
    ts: int
    broker_order_id: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        _non_empty("client_order_id", self.client_order_id)
        _timestamp(f"update of {self.client_order_id} ts", self.ts)
        if self.broker_order_id is not None:
            _non_empty(f"update of {self.client_order_id} broker_order_id", self.broker_order_id)


BrokerUpdate = StatusUpdate | Fill


class Position(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A net position in one symbol, on the average-cost method.

    ``qty`` is signed (+ long, − short); ``avg_price`` the average entry price of the open
    quantity (0 when flat); ``realised_pnl`` the closed profit net of every commission and fee
    paid so far (costs are realised when paid, opening fills included); ``costs`` those
    commissions and fees. Arithmetic in :mod:`scalper.oms.positions`.
    """

    symbol: str
    qty: float = 0.0
    avg_price: float = 0.0
    realised_pnl: float = 0.0
    costs: float = 0.0

    def __post_init__(self) -> None:
        _non_empty("position symbol", self.symbol)
        if not math.isfinite(self.qty):
            raise InvariantError(f"position {self.symbol} qty: expected a finite number, was {self.qty!r}")
        _non_negative(f"position {self.symbol} avg_price", self.avg_price)
        if (self.qty == 0.0) != (self.avg_price == 0.0):
            raise InvariantError(
                f"position {self.symbol} avg_price: expected 0 exactly when flat, was {self.avg_price} at {self.qty}"
            )
        if not math.isfinite(self.realised_pnl):
            raise InvariantError(
                f"position {self.symbol} realised_pnl: expected a finite number, was {self.realised_pnl!r}"
            )
        _non_negative(f"position {self.symbol} costs", self.costs)

    @property
    def is_flat(self) -> bool:
        return self.qty == 0.0

    def unrealised_pnl(self, mark: float) -> float:
        """Profit of the open quantity marked at ``mark``: qty × (mark − avg_price)."""
        _positive(f"position {self.symbol} mark", mark)
        return self.qty * (mark - self.avg_price)
