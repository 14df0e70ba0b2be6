"""Position arithmetic from fills, on the average-cost method.

For a position of signed quantity ``q`` at average price ``a`` and a fill of signed quantity
``f`` (+ buy, − sell) at price ``p`` with costs ``c`` (commission + fees):

* opening or adding (``q`` = 0 or same sign as ``f``): ``a`` becomes the volume-weighted mean of
  ``a`` over ``|q|`` and ``p`` over ``|f|``;
* reducing (opposite sign, ``|f| ≤ |q|``): ``a`` is unchanged and ``sign(q) · |f| · (p − a)`` is
  realised; a position reduced to zero is flat with ``a`` = 0;
* flipping (opposite sign, ``|f| > |q|``): the whole ``q`` is closed as above, and the rest
  ``q + f`` opens a new position at ``a`` = ``p``;
* every fill's costs are subtracted from the realised PnL when paid (opening fills included).

So ``realised + qty · (mark − avg)`` always equals the cash-flow value of the fills:
``Σ −f·p − Σ c + qty · mark``. A quantity within :func:`~scalper.core.orders.qty_tolerance`
of zero is zero.

Realised PnL depends on the order of the fills; :func:`positions_from_fills` folds them in
:func:`fill_order` order (time at microsecond resolution — what the database keeps — then fill
id), so a book rebuilt from the database gets the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

from scalper.core.errors import InvariantError
from scalper.core.orders import Fill, Position, qty_tolerance


def apply_fill(position: Position, fill: Fill) -> Position:
    """The position after ``fill``."""
    if fill.symbol != position.symbol:
        raise InvariantError(f"fill {fill.fill_id}: expected symbol {position.symbol}, was {fill.symbol}")
    q, a, f, p = position.qty, position.avg_price, fill.signed_qty, fill.price
    realised = position.realised_pnl - fill.costs
    new_qty = q + f
    if abs(new_qty) <= qty_tolerance(max(abs(q), abs(f))):
        new_qty = 0.0
    if q == 0.0:
        avg = p
    elif (q > 0.0) == (f > 0.0):
        avg = (abs(q) * a + abs(f) * p) / (abs(q) + abs(f))
        avg = min(max(avg, min(a, p)), max(a, p))  # a mean stays between its values despite rounding
    else:
        closed = min(abs(f), abs(q))
        realised += (1.0 if q > 0.0 else -1.0) * closed * (p - a)
        if new_qty == 0.0:
            avg = 0.0
        elif (new_qty > 0.0) == (q > 0.0):
            avg = a  # reduced: the remaining shares keep their entry price
        else:
            avg = p  # flipped through zero: the rest opens at this fill's price
    return Position(
        symbol=position.symbol,
        qty=new_qty,
        avg_price=avg if new_qty != 0.0 else 0.0,
        realised_pnl=realised,
        costs=position.costs + fill.costs,
    )


def fill_order(fill: Fill) -> tuple[int, str]:
    """The order fills are folded in: microseconds (the database's resolution), then fill id."""
    return fill.ts // 1000, fill.fill_id


def positions_from_fills(fills: Iterable[Fill]) -> dict[str, Position]:
    """Every symbol's position after ``fills`` (folded in :func:`fill_order` order), flat ones included."""
    positions: dict[str, Position] = {}
    for fill in sorted(fills, key=fill_order):
        current = positions.get(fill.symbol) or Position(symbol=fill.symbol)
        positions[fill.symbol] = apply_fill(current, fill)
    return positions
