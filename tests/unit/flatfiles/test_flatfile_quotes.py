"""One-second NBBO from a quotes file equals what the live sink keeps from the same quotes."""

import numpy as np

from scalper.adapters.feed.sink import EventSink
from scalper.core.events import Quote
from scalper.marketdata.aggregate import quotes_to_seconds

NAMES = ("QQQ", "SPY")


def test_last_quote_of_each_second_and_its_count_match_the_live_sink() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    symbol = np.sort(rng.integers(0, 2, n))
    ts = np.concatenate([np.sort(rng.integers(0, 60 * 10**9, int((symbol == c).sum()))) for c in (0, 1)])
    bid = np.round(500 + rng.normal(0, 0.2, n), 2)
    values = {
        "bid": bid,
        "bid_size": rng.integers(1, 9, n) * 100.0,
        "ask": bid + 0.01,
        "ask_size": rng.integers(1, 9, n) * 100.0,
    }

    ours = quotes_to_seconds(symbol, ts, values)

    sink = EventSink()
    sink.add(
        [
            Quote(symbol=NAMES[symbol[i]], ts_event=int(ts[i]), **{k: float(v[i]) for k, v in values.items()})
            for i in range(n)
        ]
    )
    live = sink.take(close_quotes=True).build()[0]["quotes_1s"]
    expected = sorted(
        zip(
            live["symbol"],
            live["ts"],
            live["bid"],
            live["bid_size"],
            live["ask"],
            live["ask_size"],
            live["quotes"],
            strict=True,
        )
    )
    got = sorted(
        zip(
            [NAMES[s] for s in ours["symbol"]],
            ours["ts"],
            ours["bid"],
            ours["bid_size"],
            ours["ask"],
            ours["ask_size"],
            ours["quotes"],
            strict=True,
        )
    )
    assert got == expected
