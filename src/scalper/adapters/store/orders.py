"""Runs, orders, their transitions and fills (tables ``runs``, ``orders``, ``order_events``, ``fills``).

Writes are small and transactional: :func:`write_events` stores the events of one broker update
(the order row upserted to its state after the event, one ``order_events`` row per event
numbered per order, the fill) in one transaction. Every write is idempotent: events are keyed
by (run, order, seq) and fills by (run, fill id), and the order row only moves forward — it is
updated by an event newer than every stored one, so re-writing an old event never rolls it back.

Timestamps are integer nanoseconds in memory and ``timestamptz`` in the database, which keeps
microseconds: what is read back is truncated to the microsecond.

Reads rebuild a run for a restart or a reconciliation: its orders (all or the open ones), its
fills, its positions (from the fills, :mod:`scalper.oms.positions`) and the whole order book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from scalper.core.errors import StoreError
from scalper.core.orders import Fill, Leg, Order, OrderRequest, OrderStatus, OrderType, Position, Side, TimeInForce
from scalper.core.timeutil import datetime_to_ns, ns_to_datetime
from scalper.oms.book import OrderBook, OrderEvent
from scalper.oms.positions import positions_from_fills

RunKind = Literal["live", "paper", "backtest"]

_INSERT_RUN = (
    "INSERT INTO runs (run_id, kind, started_at, params) VALUES (%s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING"
)
_FINISH_RUN = "UPDATE runs SET finished_at = %s, summary = %s WHERE run_id = %s"

_ORDER_COLUMNS = (
    "client_order_id, signal_id, leg, parent_id, broker_order_id, symbol, side, order_type, qty, limit_price, "
    "stop_price, trail_amount, time_in_force, status, filled_qty, avg_fill_price, decision_price, reject_reason, "
    "created_at, updated_at"
)
_UPSERT_ORDER = f"""
INSERT INTO orders AS o (run_id, {_ORDER_COLUMNS})
VALUES (%(run_id)s, %(client_order_id)s, %(signal_id)s, %(leg)s, %(parent_id)s, %(broker_order_id)s, %(symbol)s,
        %(side)s, %(order_type)s, %(qty)s, %(limit_price)s, %(stop_price)s, %(trail_amount)s, %(time_in_force)s,
        %(status)s, %(filled_qty)s, %(avg_fill_price)s, %(decision_price)s, %(reject_reason)s, %(created_at)s,
        %(updated_at)s)
ON CONFLICT (run_id, client_order_id) DO UPDATE SET
    broker_order_id = EXCLUDED.broker_order_id, status = EXCLUDED.status, filled_qty = EXCLUDED.filled_qty,
    avg_fill_price = EXCLUDED.avg_fill_price, reject_reason = EXCLUDED.reject_reason, updated_at = EXCLUDED.updated_at
WHERE NOT EXISTS (
    SELECT 1 FROM order_events e
    WHERE e.run_id = o.run_id AND e.client_order_id = o.client_order_id AND e.seq >= %(seq)s
)
"""
_INSERT_EVENT = (
    "INSERT INTO order_events (run_id, client_order_id, seq, ts, status, detail) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (run_id, client_order_id, seq) DO NOTHING"
)
_INSERT_FILL = (
    "INSERT INTO fills (run_id, fill_id, client_order_id, ts, symbol, side, qty, price, commission, fees) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, fill_id) DO NOTHING"
)
_SELECT_ORDERS = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE run_id = %s"
_OPEN = " AND status IN ('new', 'accepted', 'partially_filled')"
_SELECT_FILLS = (
    "SELECT fill_id, client_order_id, ts, symbol, side, qty, price, commission, fees FROM fills "
    "WHERE run_id = %s ORDER BY ts, fill_id"
)
_SELECT_SEQ = "SELECT client_order_id, max(seq) FROM order_events WHERE run_id = %s GROUP BY client_order_id"


def write_run(
    conn: psycopg.Connection[Any],
    *,
    run_id: str,
    kind: RunKind,
    started_ns: int,
    params: Mapping[str, Any] | None = None,
) -> None:
    """Register a run; registering it again (a restart) keeps the first registration."""
    try:
        conn.execute(_INSERT_RUN, (run_id, kind, ns_to_datetime(started_ns), Jsonb(dict(params or {}))))
    except psycopg.Error as exc:
        raise StoreError(f"registering run {run_id} failed: {exc}") from exc


def finish_run(
    conn: psycopg.Connection[Any], *, run_id: str, finished_ns: int, summary: Mapping[str, Any] | None = None
) -> None:
    """Record the end of a run (and its summary)."""
    try:
        conn.execute(_FINISH_RUN, (ns_to_datetime(finished_ns), Jsonb(dict(summary or {})), run_id))
    except psycopg.Error as exc:
        raise StoreError(f"finishing run {run_id} failed: {exc}") from exc


def write_events(conn: psycopg.Connection[Any], run_id: str, events: Sequence[OrderEvent]) -> None:
    """Store the events of one broker update (and their orders and fills) in one transaction."""
    if not events:
        return
    try:
        with conn.transaction(), conn.cursor() as cur:
            for event in events:
                _write_event(cur, run_id, event)
    except psycopg.Error as exc:
        names = ", ".join(f"order {e.client_order_id} seq {e.seq} ({e.status})" for e in events)
        raise StoreError(f"run {run_id}: writing {names} failed: {exc}") from exc


def _write_event(cur: psycopg.Cursor[Any], run_id: str, event: OrderEvent) -> None:
    cur.execute(_UPSERT_ORDER, _order_params(run_id, event.order) | {"seq": event.seq})
    ts = ns_to_datetime(event.ts)
    cur.execute(_INSERT_EVENT, (run_id, event.client_order_id, event.seq, ts, str(event.status), Jsonb(event.detail())))
    fill = event.fill
    if fill is not None:
        cur.execute(
            _INSERT_FILL,
            (
                run_id,
                fill.fill_id,
                fill.client_order_id,
                ns_to_datetime(fill.ts),
                fill.symbol,
                str(fill.side),
                fill.qty,
                fill.price,
                fill.commission,
                fill.fees,
            ),
        )


def _order_params(run_id: str, order: Order) -> dict[str, Any]:
    r = order.request
    return {
        "run_id": run_id,
        "client_order_id": r.client_order_id,
        "signal_id": r.signal_id,
        "leg": str(r.leg),
        "parent_id": r.parent_id,
        "broker_order_id": order.broker_order_id,
        "symbol": r.symbol,
        "side": str(r.side),
        "order_type": str(r.order_type),
        "qty": r.qty,
        "limit_price": r.limit_price,
        "stop_price": r.stop_price,
        "trail_amount": r.trail_amount,
        "time_in_force": str(r.time_in_force),
        "status": str(order.status),
        "filled_qty": order.filled_qty,
        "avg_fill_price": order.avg_fill_price,
        "decision_price": r.decision_price,
        "reject_reason": order.reject_reason,
        "created_at": ns_to_datetime(r.ts_created),
        "updated_at": ns_to_datetime(order.ts_updated),
    }


def load_orders(conn: psycopg.Connection[Any], run_id: str, *, open_only: bool = False) -> list[Order]:
    """The run's orders (only new, accepted and partially filled ones with ``open_only``), by creation time."""
    sql = _SELECT_ORDERS + (_OPEN if open_only else "") + " ORDER BY created_at, client_order_id"
    try:
        rows = conn.execute(sql, (run_id,)).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"reading the orders of run {run_id} failed: {exc}") from exc
    return [_order(row) for row in rows]


def load_open_orders(conn: psycopg.Connection[Any], run_id: str) -> list[Order]:
    """The run's orders that may still trade: what to reconcile with the broker on a restart."""
    return load_orders(conn, run_id, open_only=True)


def load_fills(conn: psycopg.Connection[Any], run_id: str) -> list[Fill]:
    """The run's fills, by time then fill id."""
    try:
        rows = conn.execute(_SELECT_FILLS, (run_id,)).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"reading the fills of run {run_id} failed: {exc}") from exc
    return [
        Fill(
            fill_id=fid,
            client_order_id=cid,
            ts=datetime_to_ns(ts),
            symbol=symbol,
            side=Side(side),
            qty=qty,
            price=price,
            commission=commission,
            fees=fees,
        )
        for fid, cid, ts, symbol, side, qty, price, commission, fees in rows
    ]


def load_positions(conn: psycopg.Connection[Any], run_id: str) -> dict[str, Position]:
    """The run's positions by symbol, from its fills (flat ones included)."""
    return positions_from_fills(load_fills(conn, run_id))


def load_book(conn: psycopg.Connection[Any], run_id: str) -> OrderBook:
    """The run's order book as stored: its orders, fills and event numbers."""
    try:
        seqs = {cid: seq for cid, seq in conn.execute(_SELECT_SEQ, (run_id,)).fetchall()}
    except psycopg.Error as exc:
        raise StoreError(f"reading the order events of run {run_id} failed: {exc}") from exc
    return OrderBook.restore(load_orders(conn, run_id), load_fills(conn, run_id), seqs)


def _order(row: tuple[Any, ...]) -> Order:
    (cid, signal_id, leg, parent_id, broker_id, symbol, side, order_type, qty, limit_price, stop_price, trail) = row[
        :12
    ]
    (tif, status, filled_qty, avg_fill_price, decision_price, reject_reason, created_at, updated_at) = row[12:]
    request = OrderRequest(
        client_order_id=cid,
        signal_id=signal_id,
        leg=Leg(leg),
        parent_id=parent_id,
        symbol=symbol,
        side=Side(side),
        order_type=OrderType(order_type),
        qty=qty,
        limit_price=limit_price,
        stop_price=stop_price,
        trail_amount=trail,
        time_in_force=TimeInForce(tif),
        decision_price=decision_price,
        ts_created=datetime_to_ns(created_at),
    )
    return Order(
        request=request,
        status=OrderStatus(status),
        filled_qty=filled_qty,
        avg_fill_price=avg_fill_price,
        broker_order_id=broker_id,
        reject_reason=reject_reason,
        ts_updated=datetime_to_ns(updated_at),
    )
