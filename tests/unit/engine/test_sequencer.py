"""The sequencer releases live events in the replay order, whatever the interleaving of the sockets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.events import MarketEvent, Quote, SecondAgg, Trade
from scalper.engine.sequencer import Sequencer
from scalper.features.engine import EventArrays
from scalper.features.kernel import QUOTE, SECOND, TRADE

S = 1_000_000_000
SYMBOLS = {"I:SPX": 0, "SPY": 1, "I:NDX": 2, "QQQ": 3}
KIND = {SecondAgg: SECOND, Trade: TRADE, Quote: QUOTE}


def second(symbol: str, t: int) -> SecondAgg:
    return SecondAgg(symbol=symbol, ts_event=t * S, ts_end=(t + 1) * S, open=1.0, high=1.0, low=1.0, close=1.0)


def trade(symbol: str, ns: int) -> Trade:
    return Trade(symbol=symbol, ts_event=ns, price=1.0, size=1.0)


def quote(symbol: str, ns: int) -> Quote:
    return Quote(symbol=symbol, ts_event=ns, bid=1.0, bid_size=1.0, ask=1.01, ask_size=1.0)


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[MarketEvent], list[MarketEvent]]:
    """Two sockets' streams, each in time order: index seconds; proxy seconds, trades and quotes."""
    seconds = draw(st.integers(min_value=1, max_value=20))
    indices: list[MarketEvent] = []
    stocks: list[MarketEvent] = []
    for t in range(seconds):
        ticks = sorted(draw(st.lists(st.integers(min_value=0, max_value=S - 1), max_size=4)))
        stocks += [
            draw(st.sampled_from([trade, quote]))(draw(st.sampled_from(["SPY", "QQQ"])), t * S + x) for x in ticks
        ]
        for symbol in draw(st.permutations(["I:SPX", "I:NDX"])):
            if draw(st.booleans()) or t == 0:
                indices.append(second(symbol, t))
        stocks += [second(s, t) for s in draw(st.permutations(["SPY", "QQQ"])) if draw(st.booleans())]
    return indices, stocks


def replay_order(events: list[MarketEvent]) -> list[MarketEvent]:
    """The order EventArrays.merge gives the same events (the replay path's own rule)."""
    n = len(events)
    arrays = EventArrays(
        np.array([SYMBOLS[e.symbol] for e in events], dtype=np.int64),
        np.array([KIND[type(e)] for e in events], dtype=np.int64),
        np.array([e.ts_event for e in events], dtype=np.int64),
        *(np.arange(n, dtype=np.float64) for _ in range(6)),  # a: the position, to map back
    )
    merged = EventArrays.merge(arrays)
    return [events[int(i)] for i in merged.a]


@settings(max_examples=300, deadline=None)
@given(sessions(), st.data())
def test_any_interleaving_of_the_sockets_is_released_in_the_replay_order(
    streams: tuple[list[MarketEvent], list[MarketEvent]], data: st.DataObject
) -> None:
    indices, stocks = streams
    seq = Sequencer(["indices", "stocks"], SYMBOLS, grace_ns=10**18)  # only the watermark releases
    out: list[MarketEvent] = []
    i = j = 0
    while i < len(indices) or j < len(stocks):  # frames of random sizes, interleaved at random
        if j >= len(stocks) or (i < len(indices) and data.draw(st.booleans())):
            k = data.draw(st.integers(1, 3))
            assert seq.push("indices", indices[i : i + k], 0) == []
            i += k
        else:
            k = data.draw(st.integers(1, 5))
            assert seq.push("stocks", stocks[j : j + k], 0) == []
            j += k
        out += seq.release(0)
    out += seq.drain()
    assert out == replay_order(indices + stocks)
    assert seq.late == 0 and seq.released == len(out)


def test_a_quiet_stream_holds_events_only_for_the_grace_period() -> None:
    seq = Sequencer(["indices", "stocks"], SYMBOLS, grace_ns=200_000_000)
    seq.push("indices", [second("I:SPX", 0)], arrived_ns=1_000)
    assert seq.release(now_ns=1_000 + 199_999_999) == []  # the stocks socket has said nothing yet
    assert seq.release(now_ns=1_000 + 200_000_000) == [second("I:SPX", 0)]


def test_an_event_behind_what_was_released_is_applied_at_once_and_counted_late() -> None:
    seq = Sequencer(["indices", "stocks"], SYMBOLS, grace_ns=10**18)
    seq.push("indices", [second("I:SPX", 0), second("I:SPX", 1)], 0)
    seq.push("stocks", [trade("SPY", 2 * S + 5)], 0)
    assert seq.release(0) == [second("I:SPX", 0)]  # known before the watermark (2 s); the one known at 2 s waits
    late = seq.push("stocks", [quote("SPY", S // 2)], 0)  # a quote of 0.5 s after the bar known at 1 s went out
    assert late == [quote("SPY", S // 2)] and seq.late == 1
    assert seq.drain() == [second("I:SPX", 1), trade("SPY", 2 * S + 5)]
