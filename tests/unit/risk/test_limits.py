"""The kill switch: each trip, resets, entry checks, and flat before the close (early closes too)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.core.errors import InvariantError
from scalper.core.timeutil import NEW_YORK, NS_PER_S, datetime_to_ns
from scalper.marketdata.calendar import session_table
from scalper.risk.limits import (
    BrokerConnected,
    BrokerDisconnected,
    ClockTick,
    DataHeartbeat,
    Event,
    FillPnl,
    KillSwitch,
    MarkToMarket,
    OperatorReset,
    OrderSubmitted,
    Reset,
    UnrecoverableError,
)
from scalper.strategy.thresholds import LimitThresholds

P = LimitThresholds(
    daily_loss_limit_pct=2.0, max_orders_per_minute=3, stale_data_after_s=15, flatten_before_close_min=5
)
OPENS = session_table()[:, 0]  # also builds the calendar once, before any timed example


def ny(day: str, hms: str) -> int:
    """Nanoseconds UTC of a New York wall-clock time."""
    return datetime_to_ns(dt.datetime.fromisoformat(f"{day}T{hms}").replace(tzinfo=NEW_YORK))


T0 = ny("2025-11-26", "10:00:00")  # a normal session (close 16:00)


def live(at: int = T0) -> KillSwitch:
    """A kill switch with the broker connected and fresh data at ``at`` (equity 100,000: limit 2,000)."""
    ks = KillSwitch(P, equity=100_000.0)
    ks.handle(BrokerConnected(ts=at))
    ks.handle(DataHeartbeat(ts=at))
    return ks


def test_daily_loss_limit_counts_realised_and_unrealised() -> None:
    ks = live()
    ks.handle(FillPnl(ts=T0, realised=-1_500.0))
    ks.handle(MarkToMarket(ts=T0, unrealised=-499.99))
    assert not ks.tripped
    trips = ks.handle(MarkToMarket(ts=T0, unrealised=-500.0))
    assert [t.code for t in trips] == ["DAILY_LOSS_LIMIT"]
    assert ks.day_pnl == pytest.approx(-2_000.0)


@pytest.mark.parametrize(
    ("offsets_s", "tripped"), [((0, 20, 40), False), ((0, 20, 40, 59.9), True), ((0, 20, 40, 60), False)]
)
def test_order_rate_counts_a_sliding_minute(offsets_s: tuple[float, ...], tripped: bool) -> None:
    ks = live()
    for s in offsets_s:
        ks.handle(DataHeartbeat(ts=T0 + int(s * NS_PER_S)))
        ks.handle(OrderSubmitted(ts=T0 + int(s * NS_PER_S)))
    assert ks.tripped is tripped
    assert [t.code for t in ks.trips] == (["ORDER_RATE"] if tripped else [])


def test_stale_data_trips_after_the_threshold_during_regular_hours() -> None:
    ks = live()
    ks.handle(ClockTick(ts=T0 + 15 * NS_PER_S))
    assert not ks.tripped
    trips = ks.handle(ClockTick(ts=T0 + 15 * NS_PER_S + 1))
    assert [t.code for t in trips] == ["STALE_DATA"]


def test_no_data_outside_regular_hours_is_not_stale() -> None:
    ks = live(ny("2025-11-26", "16:10:00"))
    ks.handle(ClockTick(ts=ny("2025-11-27", "12:00:00")))  # Thanksgiving: no session
    assert not ks.tripped


def test_staleness_counts_from_the_open_when_no_data_came_this_session() -> None:
    ks = live(ny("2025-11-25", "15:59:59"))
    ks.handle(ClockTick(ts=ny("2025-11-26", "09:30:15")))
    assert not ks.tripped
    ks.handle(ClockTick(ts=ny("2025-11-26", "09:30:16")))
    assert [t.code for t in ks.trips] == ["STALE_DATA"]


def test_broker_disconnect_holds_until_an_operator_reset() -> None:
    ks = live()
    ks.handle(BrokerDisconnected(ts=T0, text="socket closed"))
    ks.handle(BrokerConnected(ts=T0 + 1))
    assert [t.code for t in ks.trips] == ["BROKER_DISCONNECTED"]  # reconnecting does not reset
    ks.handle(OperatorReset(ts=T0 + 2, by="alice"))
    assert not ks.tripped
    reset = ks.history[-1]
    assert (
        isinstance(reset, Reset) and reset.by == "alice" and [t.code for t in reset.cleared] == ["BROKER_DISCONNECTED"]
    )


def test_a_reset_while_the_condition_holds_trips_again() -> None:
    ks = live()
    ks.handle(BrokerDisconnected(ts=T0))
    ks.handle(FillPnl(ts=T0, realised=-3_000.0))
    ks.handle(OperatorReset(ts=T0 + 5, by="alice"))
    assert sorted(t.code for t in ks.trips) == ["BROKER_DISCONNECTED", "DAILY_LOSS_LIMIT"]
    assert all(t.ts == T0 + 5 for t in ks.trips)


def test_unrecoverable_error_trips_with_its_text_and_time() -> None:
    ks = live()
    (trip,) = ks.handle(UnrecoverableError(ts=T0 + 7, text="position mismatch after reconcile"))
    assert (trip.code, trip.text, trip.ts) == ("UNRECOVERABLE_ERROR", "position mismatch after reconcile", T0 + 7)
    ks.handle(OperatorReset(ts=T0 + 8, by="alice"))
    assert not ks.tripped


def test_the_next_session_resets_trips_and_the_day_pnl() -> None:
    ks = live()
    ks.handle(FillPnl(ts=T0, realised=-2_500.0))
    ks.handle(ClockTick(ts=ny("2025-11-26", "17:00:00")))
    ks.handle(ClockTick(ts=ny("2025-11-28", "09:00:00")))  # before the next open: still tripped
    assert [t.code for t in ks.trips] == ["DAILY_LOSS_LIMIT"]
    ks.handle(DataHeartbeat(ts=ny("2025-11-28", "09:30:00")))
    assert ks.trips == () and ks.day_pnl == 0.0
    assert isinstance(ks.history[-1], Reset) and ks.history[-1].by == "session"


def test_a_tripped_switch_blocks_entries_and_requests_flattening() -> None:
    ks = live()
    ks.handle(UnrecoverableError(ts=T0, text="boom"))
    verdict = ks.entry_check(T0 + 1, "normal")
    assert not verdict.allowed and [r.code for r in verdict.reasons] == ["KILL_SWITCH"]
    request = ks.flatten(T0 + 1)
    assert request is not None and request.code == "KILL_SWITCH" and "UNRECOVERABLE_ERROR" in request.text


@pytest.mark.parametrize(
    ("connected", "at", "level", "codes"),
    [
        (True, T0, "normal", []),
        (True, T0, "reduced", []),
        (True, T0, "off", ["POLICY_OFF"]),
        (True, ny("2025-11-26", "09:29:59"), "normal", ["OUTSIDE_SESSION"]),
        (False, T0, "normal", ["BROKER_NOT_CONNECTED"]),
    ],
)
def test_entry_checks(connected: bool, at: int, level: str, codes: list[str]) -> None:
    ks = KillSwitch(P, equity=100_000.0)
    if connected:
        ks.handle(BrokerConnected(ts=at))
    ks.handle(DataHeartbeat(ts=at))
    verdict = ks.entry_check(at, level)  # type: ignore[arg-type]
    assert [r.code for r in verdict.reasons] == codes
    assert verdict.allowed is (not codes)


@pytest.mark.parametrize(
    ("day", "close"),
    [("2025-11-26", "16:00"), ("2025-11-28", "13:00")],  # a normal session and the day after Thanksgiving
)
def test_flat_before_the_close(day: str, close: str) -> None:
    h = int(close.split(":")[0])
    before = ny(day, f"{h - 1:02d}:54:59")
    ks = live(before)
    assert ks.flatten(before) is None and ks.entry_check(before, "normal").allowed
    at = ny(day, f"{h - 1:02d}:55:00")
    ks.handle(DataHeartbeat(ts=at))
    request = ks.flatten(at)
    assert request is not None and request.code == "FLATTEN_BEFORE_CLOSE" and f"close at {close}" in request.text
    assert [r.code for r in ks.entry_check(at, "normal").reasons] == ["FLATTEN_BEFORE_CLOSE"]
    assert ks.flatten(ny(day, f"{close}:00")) is None  # the session is over


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (FillPnl(ts=T0, realised=math.nan), "fill realised PnL: expected a finite number, was nan"),
        (MarkToMarket(ts=T0, unrealised=math.inf), "unrealised PnL: expected a finite number, was inf"),
        (ClockTick(ts=T0 - 1), f"event time: expected >= the last event's {T0}, was {T0 - 1}"),
        (ClockTick(ts=1.5e18), "event time: expected integer nanoseconds UTC"),  # type: ignore[arg-type]
    ],
)
def test_bad_events_are_refused_by_name(event: Event, message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        live().handle(event)


def test_equity_must_be_positive() -> None:
    with pytest.raises(InvariantError, match="equity: expected a finite number > 0, was 0"):
        KillSwitch(P, equity=0)


gaps = st.one_of(
    st.sampled_from([0, 1, NS_PER_S, 30 * NS_PER_S, 60 * NS_PER_S - 1, 60 * NS_PER_S, 60 * NS_PER_S + 1]),
    st.integers(0, 70 * NS_PER_S),
)


@given(st.lists(st.tuples(gaps, st.booleans()), max_size=80))
def test_orders_in_window_equals_a_brute_force_count(steps: list[tuple[int, bool]]) -> None:
    ks = KillSwitch(P, equity=100_000.0)
    now, submitted = ny("2025-11-29", "12:00:00"), []  # a Saturday: nothing else trips
    for gap, is_order in steps:
        now += gap
        ks.handle(OrderSubmitted(ts=now) if is_order else ClockTick(ts=now))
        if is_order:
            submitted.append(now)
        assert ks.orders_in_window() == sum(1 for t in submitted if now - 60 * NS_PER_S < t <= now)
    assert ks.tripped is any(
        sum(1 for t in submitted if s - 60 * NS_PER_S < t <= s) > P.max_orders_per_minute for s in submitted
    )


def _event(kind: int, ts: int, x: float) -> Event:
    makers: list[Callable[[], Event]] = [
        lambda: FillPnl(ts=ts, realised=x),
        lambda: MarkToMarket(ts=ts, unrealised=x),
        lambda: OrderSubmitted(ts=ts),
        lambda: DataHeartbeat(ts=ts),
        lambda: BrokerConnected(ts=ts),
        lambda: BrokerDisconnected(ts=ts),
        lambda: UnrecoverableError(ts=ts, text="boom"),
        lambda: OperatorReset(ts=ts, by="op"),
        lambda: ClockTick(ts=ts),
    ]
    return makers[kind]()


@given(
    st.lists(
        st.tuples(
            st.integers(0, 8),
            st.one_of(st.integers(0, 20 * NS_PER_S), st.integers(0, 20 * 3600 * NS_PER_S)),
            st.floats(-1_500, 1_000),
        ),
        max_size=60,
    )
)
def test_a_tripped_switch_stays_tripped_until_a_reset(steps: list[tuple[int, int, float]]) -> None:
    ks = live()
    now = T0
    for kind, gap, x in steps:
        before, was = ks.trips, now
        now += gap
        ks.handle(_event(kind, now, x))
        new_session = np.searchsorted(OPENS, now, "right") > np.searchsorted(OPENS, was, "right")
        if kind == 7 or new_session:
            assert all(t.ts == now for t in ks.trips)  # only what still holds trips again
        else:
            assert ks.trips[: len(before)] == before  # nothing clears, nothing is rewritten
