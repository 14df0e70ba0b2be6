import json
import random
from datetime import date
from functools import cache

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scalper.adapters.feed.backoff import Backoff
from scalper.adapters.feed.parse import parse_frame
from scalper.adapters.feed.sink import EventSink
from scalper.core.events import IndexValue, MinuteAgg, Quote, SecondAgg, Trade
from scalper.synthetic.market import generate_market_days
from scalper.synthetic.polygon_events import Frame, render_frames


@cache
def sample(market: str) -> tuple[Frame, ...]:
    day = next(generate_market_days(date(2025, 3, 4), 1, seed=3))
    return tuple(render_frames(market, day))[:300]


@pytest.mark.parametrize("market", ["indices", "stocks"])
def test_every_event_of_a_real_frame_is_parsed_with_its_values(market: str) -> None:
    for frame in sample(market):
        raw = json.loads(frame.data)
        parsed = parse_frame(frame.data, ts_recv=42)
        assert parsed.errors == [] and len(parsed.events) == len(raw)
        for wire, event in zip(raw, parsed.events, strict=True):
            assert event.ts_recv == 42
            if wire["ev"] in ("A", "AM"):
                assert isinstance(event, SecondAgg if wire["ev"] == "A" else MinuteAgg)
                assert (event.symbol, event.ts_event, event.ts_end) == (
                    wire["sym"],
                    wire["s"] * 10**6,
                    wire["e"] * 10**6,
                )
                assert (event.open, event.high, event.low, event.close) == (wire["o"], wire["h"], wire["l"], wire["c"])
                assert event.volume == wire.get("v") and event.vwap == wire.get("vw")
            elif wire["ev"] == "V":
                assert isinstance(event, IndexValue)
                assert (event.symbol, event.value, event.ts_event) == (wire["T"], wire["val"], wire["t"] * 10**6)
            elif wire["ev"] == "T":
                assert isinstance(event, Trade)
                assert (event.price, event.size, event.sequence, event.trade_id) == (
                    wire["p"],
                    wire["s"],
                    wire["q"],
                    wire["i"],
                )
                assert list(event.conditions) == wire.get("c", [])
            else:
                assert isinstance(event, Quote)
                assert (event.bid, event.ask, event.ask_size) == (wire["bp"], wire["ap"], wire["as"])


def test_a_bad_event_costs_only_itself() -> None:
    frame = json.dumps(
        [
            {"ev": "V", "val": 5000.5, "T": "I:SPX", "t": 1},
            {"ev": "NEW", "x": 1},
            {"ev": "A", "sym": "SPY", "o": 5, "h": 4, "l": 4, "c": 5, "s": 1, "e": 2},
            {"ev": "T", "sym": "SPY", "p": 500.1, "s": 10, "t": 5},
        ]
    )
    parsed = parse_frame(frame, 0)
    assert [type(e) for e in parsed.events] == [IndexValue, Trade]
    assert len(parsed.errors) == 2
    assert "ev='NEW'" in parsed.errors[0].detail and parsed.errors[0].reason == "unknown_event"
    assert "expected low <= open,close <= high" in parsed.errors[1].detail and parsed.errors[1].reason == "bad_value"


def test_statuses_and_decimal_volumes() -> None:
    parsed = parse_frame(
        '[{"ev":"status","status":"max_connections","message":"too many"},'
        '{"ev":"A","sym":"SPY","o":1,"h":1,"l":1,"c":1,"s":0,"e":1000,"dv":"12.5","dav":"99"}]',
        0,
    )
    assert parsed.statuses[0].status == "max_connections"
    assert isinstance(parsed.events[0], SecondAgg) and parsed.events[0].volume == 12.5
    assert parsed.events[0].day_volume == 99.0


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 10_000), noise=st.binary(max_size=20))
@example(cut=3, noise=b'\x80"')  # invalid UTF-8 inside a string
def test_corrupt_bytes_never_raise_and_are_reported(cut: int, noise: bytes) -> None:
    data = sample("stocks")[5].data
    corrupt = data[: cut % len(data)] + noise
    parsed = parse_frame(corrupt, 0)
    assert parsed.errors or parsed.events or parsed.statuses or corrupt.strip() in (b"[]",)


def test_quotes_reduce_to_the_last_nbbo_of_each_second() -> None:
    sink = EventSink()
    s = 1_000_000_000

    def quote(symbol: str, ts: int, bid: float) -> Quote:
        return Quote(symbol=symbol, ts_event=ts, bid=bid, bid_size=1, ask=bid + 0.01, ask_size=2)

    sink.add([quote("SPY", ts, bid) for ts, bid in ((0, 1.0), (s // 2, 1.01), (s + 1, 1.02), (3 * s, 1.03))])
    sink.add([quote("QQQ", s, 2.0)])
    open_batches, held = sink.take().build()
    assert open_batches["quotes_1s"]["symbol"].tolist() == ["SPY", "SPY"]  # each symbol's latest second is open
    assert open_batches["quotes_1s"]["ts"].tolist() == [0, s]
    assert open_batches["quotes_1s"]["bid"].tolist() == [1.01, 1.02]
    assert open_batches["quotes_1s"]["quotes"].tolist() == [2, 1]
    assert [(q.symbol, q.ts_event) for q in held] == [("SPY", 3 * s), ("QQQ", s)]
    sink.give_back(held)
    sink.add([quote("SPY", 3 * s + 5, 1.04), quote("SPY", 4 * s, 1.05)])
    closed, held = sink.take(close_quotes=True).build()
    assert held == []
    rows = list(
        zip(
            closed["quotes_1s"]["symbol"],
            closed["quotes_1s"]["ts"],
            closed["quotes_1s"]["bid"],
            closed["quotes_1s"]["quotes"],
            strict=True,
        )
    )
    assert sorted(rows) == [("QQQ", s, 2.0, 1), ("SPY", 3 * s, 1.04, 2), ("SPY", 4 * s, 1.05, 1)]


def test_backoff_grows_to_its_cap_with_jitter_and_long_after_max_connections() -> None:
    backoff, rng = Backoff(base_s=1, cap_s=8, long_s=300), random.Random(0)
    delays = [backoff.delay(a, rng) for a in range(10)]
    assert all(0.5 <= d <= 8 for d in delays)
    assert max(delays[:2]) <= 2 and min(delays[5:]) >= 4
    assert len(set(delays)) == len(delays)
    assert 225 <= backoff.delay(0, rng, long=True) <= 375
