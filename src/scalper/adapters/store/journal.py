"""The trading journal in the database: signals, orders, order events and fills of one run.

:class:`StoreJournal` implements :class:`scalper.engine.journal.Journal`. Each call is written at
once, in its own transaction (order events through :func:`scalper.adapters.store.orders.write_events`,
idempotent). When the database cannot be reached the records wait in memory, in order, and every
later call first writes what waits; nothing is dropped. :attr:`StoreJournal.healthy` tells the
runner whether the record is up to date (it raises an alert when it is not).

Only entry decisions go to ``signals`` (one row per signal id, taken or refused); exits and
flattens are orders of the signal (legs ``exit`` / ``flatten``) with their events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scalper.adapters.store.orders import write_events
from scalper.core.errors import StoreError
from scalper.core.timeutil import ns_to_datetime
from scalper.engine.journal import SignalRecord
from scalper.oms.book import OrderEvent

log = logging.getLogger(__name__)

_INSERT_SIGNAL = """
INSERT INTO signals (run_id, signal_id, ts, play, symbol, proxy, direction, price, proxy_price, stop, target,
                     reasons, policy, accepted, level, shares, latency_us)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id, signal_id) DO NOTHING
"""

Pending = tuple[SignalRecord, None] | tuple[None, Sequence[OrderEvent]]


def signal_row(run_id: str, record: SignalRecord) -> tuple[Any, ...]:
    """The ``signals`` row of an entry decision."""
    if record.kind != "enter" or record.index is None or record.proxy is None or record.price is None:
        raise StoreError(f"signal {record.signal_id}: only entry decisions with their symbols and price are stored")
    plan = record.plan
    reasons = [{"code": r.code, "text": r.text, "effect": r.effect} for r in record.reasons]
    return (
        run_id,
        record.signal_id,
        ns_to_datetime(record.ts),
        record.play,
        record.index,
        record.proxy,
        record.direction,
        record.price,
        None if plan is None else plan.entry,
        None if plan is None else plan.stop,
        None if plan is None else plan.target,
        Jsonb(reasons),
        Jsonb({"level": record.level}),
        record.accepted,
        record.level,
        record.shares,
        None if record.latency_ns is None else record.latency_ns / 1000.0,
    )


class StoreJournal:
    """Signals and order events of run ``run_id``, written as they happen (see the module docstring)."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], run_id: str) -> None:
        self._connect = connect
        self.run_id = run_id
        self._conn: psycopg.Connection[Any] | None = None
        self._pending: list[Pending] = []
        self.failures = 0
        self.last_error: str | None = None

    @property
    def healthy(self) -> bool:
        """Whether everything handed over is written."""
        return not self._pending

    @property
    def waiting(self) -> int:
        """Records waiting for the database."""
        return len(self._pending)

    def signal(self, record: SignalRecord) -> None:
        if record.kind == "enter":
            self._pending.append((record, None))
            self.flush()

    def order_events(self, events: Sequence[OrderEvent]) -> None:
        if events:
            self._pending.append((None, list(events)))
            self.flush()

    def flush(self) -> bool:
        """Write what waits, in order; False (and everything kept) when the database fails."""
        try:
            conn = self._conn
            if conn is None or conn.closed:
                conn = self._conn = self._connect()
            while self._pending:
                record, events = self._pending[0]
                if record is not None:
                    with conn.transaction():
                        conn.execute(_INSERT_SIGNAL, signal_row(self.run_id, record))
                elif events is not None:
                    write_events(conn, self.run_id, events)
                self._pending.pop(0)
        except (psycopg.Error, StoreError) as exc:
            self.failures += 1
            if self.last_error is None:
                log.error("journal: run %s: writing failed, %d records wait: %s", self.run_id, len(self._pending), exc)
            self.last_error = str(exc)
            self.close()
            return False
        if self.last_error is not None:
            log.warning("journal: run %s: the database is back, every record written", self.run_id)
            self.last_error = None
        return True

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
