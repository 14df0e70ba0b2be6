"""Orders, their transitions and fills in PostgreSQL: written, read back, idempotent, rebuilt after a restart."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import psycopg
import pytest

from scalper.adapters.store.orders import (
    finish_run,
    load_book,
    load_fills,
    load_open_orders,
    load_orders,
    load_positions,
    write_events,
    write_run,
)
from scalper.core.errors import DataError, OrderStateError, StoreError
from scalper.core.orders import BrokerUpdate, Fill, Leg, OrderRequest, OrderStatus, OrderType, Side, StatusUpdate
from scalper.oms import OrderBook, OrderEvent, client_order_id

pytestmark = pytest.mark.integration

S = OrderStatus
RUN = "paper-2025-03-04"
T0 = 1_741_098_660_000_000_000  # 2025-03-04 14:31 UTC; every time below is a whole microsecond


def bracket(signal: str, ts: int, qty: float = 100.0, symbol: str = "SPY") -> list[OrderRequest]:
    entry = client_order_id(signal, Leg.ENTRY)
    common: dict[str, Any] = {"signal_id": signal, "symbol": symbol, "qty": qty, "ts_created": ts}
    return [
        OrderRequest(
            client_order_id=entry,
            leg=Leg.ENTRY,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            limit_price=500.05,
            decision_price=500.0,
            **common,
        ),
        OrderRequest(
            client_order_id=client_order_id(signal, Leg.STOP),
            leg=Leg.STOP,
            parent_id=entry,
            side=Side.SELL,
            order_type=OrderType.STOP,
            stop_price=498.0,
            **common,
        ),
        OrderRequest(
            client_order_id=client_order_id(signal, Leg.TARGET),
            leg=Leg.TARGET,
            parent_id=entry,
            side=Side.SELL,
            order_type=OrderType.LIMIT,
            limit_price=503.0,
            **common,
        ),
    ]


def fill_of(request: OrderRequest, qty: float, price: float, ts: int, fill_id: str, **costs: float) -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=request.client_order_id,
        ts=ts,
        symbol=request.symbol,
        side=request.side,
        qty=qty,
        price=price,
        **costs,
    )


def status(request: OrderRequest, to: OrderStatus, ts: int, **fields: Any) -> StatusUpdate:
    return StatusUpdate(client_order_id=request.client_order_id, status=to, ts=ts, **fields)


class Session:
    """A book whose every change is written as it happens, as the engine does."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        self.db, self.book, self.events = db, OrderBook(), list[OrderEvent]()

    def submit(self, *requests: OrderRequest) -> None:
        for r in requests:
            self._write(self.book.submit(r))

    def apply(self, *updates: BrokerUpdate) -> None:
        for u in updates:
            self._write(self.book.apply(u))

    def _write(self, events: list[OrderEvent]) -> None:
        write_events(self.db, RUN, events)
        self.events += events


@pytest.fixture
def session(db: psycopg.Connection[Any]) -> Session:
    write_run(db, run_id=RUN, kind="paper", started_ns=T0, params={"plays": ["SPX_TREND_BURST"]})
    return Session(db)


def trade_one_bracket(s: Session) -> list[OrderRequest]:
    entry, stop, target = bracket("sig-a", T0)
    s.submit(entry)
    s.apply(
        status(entry, S.ACCEPTED, T0 + 150_000_000, broker_order_id="brk-1"),
        fill_of(entry, 40.0, 500.02, T0 + 400_000_000, "ex-1", commission=0.14),
        fill_of(entry, 60.0, 500.05, T0 + 401_000_000, "ex-2", commission=0.21),
    )
    s.submit(stop, target)
    s.apply(
        status(stop, S.ACCEPTED, T0 + 600_000_000, broker_order_id="brk-2"),
        status(target, S.ACCEPTED, T0 + 600_000_000, broker_order_id="brk-3"),
        fill_of(target, 30.0, 503.0, T0 + 90_000_000_000, "ex-3", fees=0.02),
    )
    return [entry, stop, target]


def test_an_order_with_its_transitions_and_fills_reads_back(db: psycopg.Connection[Any], session: Session) -> None:
    entry, _, target = trade_one_bracket(session)
    assert load_orders(db, RUN) == session.book.orders()
    assert load_fills(db, RUN) == session.book.fills()
    rows = db.execute(
        "SELECT seq, status, detail->>'kind', detail->>'fill_id', ts FROM order_events "
        "WHERE run_id = %s AND client_order_id = %s ORDER BY seq",
        (RUN, entry.client_order_id),
    ).fetchall()
    assert [r[:4] for r in rows] == [
        (0, "new", "submitted", None),
        (1, "accepted", "status", None),
        (2, "partially_filled", "fill", "ex-1"),
        (3, "filled", "fill", "ex-2"),
    ]
    assert [r[4] for r in rows] == sorted(r[4] for r in rows)
    stored = db.execute(
        "SELECT status, filled_qty, avg_fill_price, broker_order_id FROM orders WHERE client_order_id = %s",
        (target.client_order_id,),
    ).fetchone()
    assert stored == ("partially_filled", 30.0, 503.0, "brk-3")


def test_rewriting_events_changes_nothing_and_never_rolls_an_order_back(
    db: psycopg.Connection[Any], session: Session
) -> None:
    trade_one_bracket(session)
    counts = "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_events), (SELECT count(*) FROM fills)"
    before = db.execute(counts).fetchone()
    write_events(db, RUN, session.events)
    for event in reversed(session.events):  # every event again, newest first: old ones must not roll back
        write_events(db, RUN, [event])
    assert db.execute(counts).fetchone() == before
    assert load_orders(db, RUN) == session.book.orders()
    assert load_book(db, RUN) == session.book


def test_a_fresh_book_rebuilt_after_a_restart_equals_the_old_one(db: psycopg.Connection[Any], session: Session) -> None:
    entry, stop, target = trade_one_bracket(session)
    other = bracket("sig-b", T0 + 5_000_000_000, qty=10.0, symbol="QQQ")
    session.submit(other[0])
    session.apply(status(other[0], S.REJECTED, T0 + 5_200_000_000, reason="insufficient buying power"))
    short = OrderRequest(
        client_order_id=client_order_id("flatten-QQQ", Leg.FLATTEN),
        signal_id=None,
        leg=Leg.FLATTEN,
        symbol="QQQ",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        qty=25.0,
        ts_created=T0 + 6_000_000_000,
    )
    session.submit(short)
    session.apply(fill_of(short, 25.0, 430.5, T0 + 6_100_000_000, "ex-4"))

    rebuilt = load_book(db, RUN)  # a new process: nothing but the database
    assert rebuilt == session.book
    assert load_open_orders(db, RUN) == rebuilt.open_orders() == session.book.open_orders()
    assert {o.client_order_id for o in rebuilt.open_orders()} == {stop.client_order_id, target.client_order_id}
    assert load_positions(db, RUN) == rebuilt.positions() == session.book.positions()
    assert rebuilt.order(other[0].client_order_id).reject_reason == "insufficient buying power"
    assert [o.client_order_id for o in rebuilt.children(entry.client_order_id)] == [
        stop.client_order_id,
        target.client_order_id,
    ]

    # the restarted book continues where the old one stopped, and its writes land
    session.book = rebuilt
    session.apply(
        fill_of(target, 70.0, 503.1, T0 + 95_000_000_000, "ex-5"),
        status(stop, S.CANCELLED, T0 + 95_100_000_000),
        fill_of(target, 70.0, 503.1, T0 + 95_000_000_000, "ex-5"),  # resent by the broker
    )
    assert [e.seq for e in session.events[-2:]] == [
        3,
        2,
    ]  # target: new, accepted, ex-3, ex-5; stop: new, accepted, cancelled
    assert load_book(db, RUN) == session.book
    assert load_open_orders(db, RUN) == []
    assert load_positions(db, RUN)["SPY"].qty == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_random_broker_traffic_reads_back_as_the_book(db: psycopg.Connection[Any], session: Session, seed: int) -> None:
    rnd = random.Random(seed)
    requests = [r for i in range(3) for r in bracket(f"sig-{i}", T0 + i * 1_000_000, qty=float(rnd.randint(1, 50)))]
    session.submit(*requests)
    for n in range(60):
        r = rnd.choice(requests)
        ts = T0 + rnd.randint(0, 10**10) // 1000 * 1000
        update: BrokerUpdate
        if rnd.random() < 0.5:
            update = status(r, rnd.choice(list(S)), ts)
        else:
            update = fill_of(r, float(rnd.randint(1, 20)), rnd.randint(49_000, 51_000) / 100, ts, f"ex-{n % 25}")
        with contextlib.suppress(OrderStateError, DataError):  # illegal updates are part of the traffic
            session.apply(update)
    assert load_book(db, RUN) == session.book
    assert load_positions(db, RUN) == session.book.positions()
    assert load_open_orders(db, RUN) == session.book.open_orders()


def test_a_failed_write_is_a_store_error_naming_the_order(db: psycopg.Connection[Any]) -> None:
    entry = bracket("sig-a", T0)[0]
    events = OrderBook().submit(entry)  # no run registered: the foreign key refuses it
    with pytest.raises(StoreError, match=f"run {RUN}: writing order {entry.client_order_id} seq 0 \\(new\\) failed"):
        write_events(db, RUN, events)
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_a_run_registered_again_keeps_its_start_and_records_its_end(db: psycopg.Connection[Any]) -> None:
    write_run(db, run_id=RUN, kind="paper", started_ns=T0)
    write_run(db, run_id=RUN, kind="paper", started_ns=T0 + 3_600_000_000_000)
    finish_run(db, run_id=RUN, finished_ns=T0 + 7_200_000_000_000, summary={"trades": 3})
    row = db.execute(
        "SELECT kind, extract(epoch FROM started_at), extract(epoch FROM finished_at), summary FROM runs"
    ).fetchone()
    assert row is not None
    assert (row[0], int(row[1] * 10**9), int(row[2] * 10**9), row[3]) == (
        "paper",
        T0,
        T0 + 7_200_000_000_000,
        {"trades": 3},
    )
