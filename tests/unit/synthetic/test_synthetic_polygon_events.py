"""Websocket frames: JSON arrays, exact keys, millisecond stamps, the send-time rule."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

from scalper.synthetic.market import MarketConfig, MarketDay, generate_market_days
from scalper.synthetic.options import OptionDay, generate_option_day
from scalper.synthetic.polygon_events import (
    MARKETS,
    RenderedFrames,
    frame_send_ms,
    iter_frames,
    render_frames,
)

STOCK_AGG = {"ev", "sym", "v", "av", "op", "vw", "o", "c", "h", "l", "a", "z", "s", "e"}
KEYS: dict[tuple[str, str], set[str]] = {
    ("indices", "V"): {"ev", "val", "T", "t"},
    ("indices", "A"): {"ev", "sym", "op", "o", "h", "l", "c", "s", "e"},
    ("indices", "AM"): {"ev", "sym", "op", "o", "h", "l", "c", "s", "e"},
    ("stocks", "T"): {"ev", "sym", "x", "i", "z", "p", "s", "c", "t", "q"},
    ("stocks", "Q"): {"ev", "sym", "bx", "bp", "bs", "ax", "ap", "as", "c", "i", "t", "q", "z"},
    ("stocks", "A"): STOCK_AGG,
    ("stocks", "AM"): STOCK_AGG,
    ("options", "T"): {"ev", "sym", "x", "p", "s", "c", "t", "q"},
    ("options", "A"): STOCK_AGG,
    ("options", "AM"): STOCK_AGG,
}
MS_2020, MS_2030 = 1_577_836_800_000, 1_893_456_000_000


@lru_cache(maxsize=1)
def session() -> tuple[MarketDay, OptionDay]:
    config = MarketConfig(trades_per_second=2.0, quotes_per_second=1.0)  # lighter; same shapes
    market = next(generate_market_days(dt.date(2025, 6, 2), 1, seed=12, config=config))
    return market, generate_option_day(market, seed=12)


@lru_cache(maxsize=3)
def rendered(market: str) -> RenderedFrames:
    return render_frames(market, *session())


@lru_cache(maxsize=3)
def parsed(market: str) -> tuple[tuple[int, list[dict[str, Any]]], ...]:
    return tuple((frame.send_ns, json.loads(frame.data)) for frame in rendered(market))


@pytest.mark.parametrize("market", MARKETS)
def test_every_frame_is_a_json_array_of_events_with_the_documented_keys(market: str) -> None:
    seen = set()
    for _, events in parsed(market):
        assert isinstance(events, list) and events
        for event in events:
            kind = event["ev"]
            seen.add(kind)
            extra = {"trfi", "trft"} if (market, kind) == ("stocks", "T") and "trfi" in event else set()
            assert set(event) == KEYS[(market, kind)] | extra, event
    assert seen == {kind for (m, kind) in KEYS if m == market}


@pytest.mark.parametrize("market", MARKETS)
def test_timestamps_are_milliseconds_and_bars_are_sent_after_they_end(market: str) -> None:
    last_send = 0
    for send_ns, events in parsed(market):
        assert send_ns >= last_send and send_ns % 1_000_000_000 == 0
        last_send = send_ns
        send_ms = send_ns // 1_000_000
        assert frame_send_ms(events) == send_ms
        for event in events:
            if event["ev"] in ("A", "AM"):
                assert MS_2020 < event["s"] < event["e"] < MS_2030
                assert event["e"] - event["s"] == (1_000 if event["ev"] == "A" else 60_000)
                assert event["e"] + 2_000 == send_ms
            else:
                assert MS_2020 < event["t"] <= send_ms < event["t"] + 1_000


def test_trade_events_carry_the_trades_in_milliseconds() -> None:
    market, _ = session()
    stamps = sorted(e["t"] for _, events in parsed("stocks") for e in events if e["ev"] == "T")
    assert stamps == sorted((market.trades.sip_ns // 1_000_000).tolist())
    trades = [e for _, events in parsed("stocks") for e in events if e["ev"] == "T"]
    assert all(isinstance(e["i"], str) and all(isinstance(c, int) for c in e["c"]) for e in trades[:5_000])
    assert any("trfi" in e for e in trades)


def test_frames_group_a_second_and_stay_well_under_a_megabyte() -> None:
    frames = rendered("stocks")
    sizes = np.diff(frames.line_start)
    assert sizes.max() < 256 * 1024
    assert len(frames) >= 23_000  # about one frame per second of the session


def test_iterated_frames_are_the_lines_of_the_jsonl_content() -> None:
    frames = rendered("indices")
    lines = frames.content.split(b"\n")
    assert lines[-1] == b""
    assert [frame.data for frame in iter_frames("indices", *session())] == lines[:-1]


def test_stock_aggregates_accumulate_the_day() -> None:
    market, _ = session()
    bars = [e for _, events in parsed("stocks") for e in events if e["ev"] == "A" and e["sym"] == "SPY"]
    day = market.stock_days
    assert bars[-1]["av"] == int(day.volume[day.symbol == 1][0])
    assert all(b["op"] == bars[0]["op"] for b in bars)
    assert all(earlier["av"] < later["av"] for earlier, later in itertools.pairwise(bars))


def test_options_market_needs_the_option_day_and_unknown_markets_are_refused() -> None:
    market, _ = session()
    with pytest.raises(ValueError, match="OptionDay"):
        render_frames("options", market)
    with pytest.raises(ValueError, match="unknown market"):
        render_frames("crypto", market)
