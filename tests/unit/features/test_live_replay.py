"""The live path (one engine call per event) and the replay path (the compiled loop over arrays)
give bit-identical snapshots for the same events — seconds, trades, quotes and AM bars of four
symbols over two sessions, index VWAPs mapped from their proxies."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from scalper.features import kernel as K
from scalper.features.engine import EventArrays, FeatureEngine
from scalper.features.snapshot import FIELDS, INDEX
from scalper.synthetic.feature_events import market_events
from scalper.synthetic.market import generate_market_days

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")


@pytest.fixture(scope="module")
def events() -> EventArrays:
    days = list(generate_market_days(dt.date(2025, 6, 2), 2, seed=11))
    return market_events(days, SYMBOLS, trades=True, quotes=True, minutes=True, ticks_until_s=1800)


def live(events: EventArrays) -> tuple[np.ndarray, np.ndarray, FeatureEngine]:
    engine = FeatureEngine(SYMBOLS)
    rows = np.empty((len(events), len(FIELDS)))
    status = np.empty(len(events), dtype=np.int8)
    for i in range(len(events)):
        symbol = SYMBOLS[int(events.symbol[i])]
        kind, ts = int(events.kind[i]), int(events.ts[i])
        a, b, c, d, e, f = (float(col[i]) for col in (events.a, events.b, events.c, events.d, events.e, events.f))
        if kind == K.SECOND:
            volume = None if e != e else e
            vwap = None if f != f else f
            status[i] = engine.on_second(symbol, ts, a, b, c, d, volume, vwap)
        elif kind == K.TRADE:
            status[i] = engine.on_trade(symbol, ts, a, b)
        elif kind == K.QUOTE:
            status[i] = engine.on_quote(symbol, ts, a, b)
        else:
            status[i] = engine.on_minute(symbol, ts, a, b, c, d, None if e != e else e)
        rows[i] = engine.latest(symbol)
    return status, rows, engine


def test_live_and_replay_snapshots_are_bit_identical(events: EventArrays) -> None:
    kinds = np.bincount(events.kind, minlength=4)
    assert all(kinds > 1000), kinds  # every kind of event is exercised
    live_status, live_rows, live_engine = live(events)
    replay_engine = FeatureEngine(SYMBOLS)
    replay_status, replay_rows = replay_engine.replay(events, keep=True)

    assert np.array_equal(live_status, replay_status)
    assert (live_status == K.OK).all()
    assert live_rows.tobytes() == replay_rows.tobytes()  # bit for bit, nan payloads included
    assert live_engine.states.tobytes() == replay_engine.states.tobytes()
    # the comparison is not vacuous: the features are live by the end of the second session
    last = replay_rows[-200:]
    for name in ("vwap", "ema_15m", "adx_1m", "bb_upper", "cum_delta_lee_ready", "avwap_prior_high", "proxy_ratio"):
        assert np.isfinite(last[:, INDEX[name]]).any(), name


def test_replay_in_chunks_equals_one_replay(events: EventArrays) -> None:
    whole = FeatureEngine(SYMBOLS)
    _, rows = whole.replay(events, keep=True)
    chunked = FeatureEngine(SYMBOLS)
    cuts = [0, 1, 777, 50_000, len(events) // 2, len(events)]
    parts = [chunked.replay(events.take(slice(a, b)), keep=True)[1] for a, b in itertools.pairwise(cuts)]
    assert np.concatenate(parts).tobytes() == rows.tobytes()


def test_a_keep_mask_returns_exactly_the_marked_snapshots(events: EventArrays) -> None:
    head = events.take(slice(0, 20_000))
    _, every = FeatureEngine(SYMBOLS).replay(head, keep=True)
    mask = np.zeros(len(head), dtype=bool)
    mask[::97] = True
    _, some = FeatureEngine(SYMBOLS).replay(head, keep=mask)
    assert some.shape == (mask.sum(), len(FIELDS))
    assert some.tobytes() == every[mask].tobytes()
