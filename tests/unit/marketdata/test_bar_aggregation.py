"""trades_to_seconds / values_to_seconds equal a plain per-window Python loop."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.marketdata.aggregate import (
    MINUTE_NS,
    SECOND_NS,
    TradeBars,
    ValueBars,
    trades_to_bars,
    trades_to_seconds,
    values_to_seconds,
)
from scalper.marketdata.conditions import STOCK_TRADE_CONDITIONS, condition_matrix

CONDITION_SETS = [[], [], [], [37], [12, 37], [14], [2], [15], [32], [14, 41], [38], [53], [200]]


def _allows(codes: list[int], column: int) -> bool:
    """Polygon's rule, from the reference table: every known condition must allow the update."""
    return all(STOCK_TRADE_CONDITIONS[c][column] for c in codes if c in STOCK_TRADE_CONDITIONS)


def _oracle_trades(trades: list[tuple[int, int, float, float, list[int]]], window: int) -> list[tuple[Any, ...]]:
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for index, (sym, ts, *_rest) in enumerate(trades):
        groups[(sym, ts // window)].append((ts, index))
    bars = []
    for (sym, win), members in sorted(groups.items()):
        rows = [trades[i] for _, i in sorted(members)]
        hl = [r for r in rows if _allows(r[4], 1)]
        if not hl:
            continue
        oc = [r for r in hl if _allows(r[4], 2)] or hl
        volume, notional, count = 0.0, 0.0, 0
        for r in rows:
            if _allows(r[4], 3):
                volume += r[3]
                notional += r[2] * r[3]
            if _allows(r[4], 1) or _allows(r[4], 3):
                count += 1
        vwap = notional / volume if volume > 0 else math.nan
        bars.append(
            (
                sym,
                win * window,
                oc[0][2],
                max(r[2] for r in hl),
                min(r[2] for r in hl),
                oc[-1][2],
                volume,
                vwap,
                count,
            )
        )
    return bars


def _rows(bars: TradeBars) -> list[tuple[Any, ...]]:
    return list(
        zip(
            bars.symbol.tolist(),
            bars.start_ns.tolist(),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            bars.volume.tolist(),
            bars.vwap.tolist(),
            bars.transactions.tolist(),
            strict=True,
        )
    )


def _same(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> bool:
    """Exact equality, NaN equal to NaN."""
    return len(left) == len(right) and all(
        all(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)) for a, b in zip(x, y, strict=True))
        for x, y in zip(left, right, strict=True)
    )


trade_lists = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=-3 * SECOND_NS, max_value=4 * SECOND_NS),
        st.integers(min_value=57_800, max_value=57_815).map(lambda c: c / 100),
        st.integers(min_value=1, max_value=2_000).map(float),
        st.sampled_from(CONDITION_SETS),
    ),
    max_size=60,
)


def _arrays(trades: list[tuple[int, int, float, float, list[int]]]) -> tuple[Any, ...]:
    return (
        np.array([t[0] for t in trades], dtype=np.int64),
        np.array([t[1] for t in trades], dtype=np.int64),
        np.array([t[2] for t in trades]),
        np.array([t[3] for t in trades]),
        condition_matrix([t[4] for t in trades], width=2),
    )


@settings(max_examples=150, deadline=None)
@given(trade_lists)
def test_trades_to_seconds_equals_a_per_second_loop(
    trades: list[tuple[int, int, float, float, list[int]]],
) -> None:
    assert _same(_rows(trades_to_seconds(*_arrays(trades))), _oracle_trades(trades, SECOND_NS))


@settings(max_examples=50, deadline=None)
@given(trade_lists)
def test_minute_windows_follow_the_same_rules(trades: list[tuple[int, int, float, float, list[int]]]) -> None:
    bars = trades_to_bars(*_arrays(trades), window_ns=MINUTE_NS)
    assert _same(_rows(bars), _oracle_trades(trades, MINUTE_NS))


def test_a_second_of_only_odd_lots_has_no_bar_but_its_volume_counts_in_the_minute() -> None:
    trades = [
        (0, 100, 500.01, 100.0, []),
        (0, SECOND_NS + 5, 500.02, 30.0, [37]),
        (0, 2 * SECOND_NS, 500.0, 200.0, []),
    ]
    seconds = trades_to_seconds(*_arrays(trades))
    assert seconds.start_ns.tolist() == [0, 2 * SECOND_NS]
    minute = trades_to_bars(*_arrays(trades), window_ns=MINUTE_NS)
    assert minute.volume.tolist() == [330.0]
    assert (minute.open[0], minute.close[0], minute.high[0], minute.low[0]) == (500.01, 500.0, 500.01, 500.0)


def test_no_trades_give_no_bars() -> None:
    bars = trades_to_seconds(
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros((0, 2), np.int16)
    )
    assert len(bars) == 0


def _oracle_values(ticks: list[tuple[int, int, float]]) -> list[tuple[Any, ...]]:
    groups: dict[tuple[int, int], list[tuple[int, int, float]]] = defaultdict(list)
    for index, (sym, ts, value) in enumerate(ticks):
        groups[(sym, ts // SECOND_NS)].append((ts, index, value))
    bars = []
    for (sym, sec), members in sorted(groups.items()):
        values = [v for _, _, v in sorted(members)]
        bars.append((sym, sec * SECOND_NS, values[0], max(values), min(values), values[-1]))
    return bars


def _value_rows(bars: ValueBars) -> list[tuple[Any, ...]]:
    return list(
        zip(
            bars.symbol.tolist(),
            bars.start_ns.tolist(),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            strict=True,
        )
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(-2 * SECOND_NS, 5 * SECOND_NS),
            st.floats(min_value=4000, max_value=7000, allow_nan=False),
        ),
        max_size=60,
    )
)
def test_values_to_seconds_equals_a_per_second_loop(ticks: list[tuple[int, int, float]]) -> None:
    bars = values_to_seconds(
        np.array([t[0] for t in ticks], dtype=np.int64),
        np.array([t[1] for t in ticks], dtype=np.int64),
        np.array([t[2] for t in ticks]),
    )
    assert _value_rows(bars) == _oracle_values(ticks)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="ts_ns"):
        values_to_seconds(np.zeros(2, np.int64), np.zeros(3, np.int64), np.zeros(2))


def test_non_finite_prices_are_refused() -> None:
    trades = [(0, 1, 500.0, 10.0, []), (0, 2, float("nan"), 10.0, [])]
    with pytest.raises(ValueError, match="price"):
        trades_to_seconds(*_arrays(trades))
