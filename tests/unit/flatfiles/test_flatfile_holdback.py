"""Seconds from a file read in blocks equal seconds from the whole file at once."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.adapters.flatfiles import FlatFileError
from scalper.adapters.flatfiles.holdback import WindowHoldback
from scalper.marketdata.aggregate import SECOND_NS, trades_to_seconds

NAMES = ("QQQ", "SPY")


def trades(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    symbol = np.sort(rng.integers(0, 2, n))
    ts = np.concatenate([np.sort(rng.integers(0, 30 * SECOND_NS, int((symbol == c).sum()))) for c in (0, 1)])
    cond = np.full((n, 2), -1, dtype=np.int16)
    cond[rng.random(n) < 0.2, 0] = 37  # odd lots: volume only
    return {
        "symbol": symbol.astype(np.int64),
        "ts": ts.astype(np.int64),
        "price": np.round(100 + rng.normal(0, 0.1, n), 2),
        "size": rng.integers(1, 500, n).astype(np.float64),
        "conditions": cond,
    }


def bars_as_rows(parts: list[dict[str, np.ndarray]]) -> list[tuple[float, ...]]:
    rows = []
    for c in parts:
        b = trades_to_seconds(c["symbol"], c["ts"], c["price"], c["size"], c["conditions"])
        rows += list(zip(b.symbol, b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.transactions, strict=True))
    return sorted(rows)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 399), max_size=6), hold=st.sampled_from([0, 1, 3]))
def test_blocks_cut_anywhere_give_the_seconds_of_the_whole(seed: int, cuts: list[int], hold: int) -> None:
    data = trades(seed, 400)
    bounds = [0, *sorted(set(cuts)), 400]
    holdback = WindowHoldback(key="k", names=NAMES, window_ns=SECOND_NS, hold_ns=hold * SECOND_NS)
    parts = [holdback.push({k: v[a:b] for k, v in data.items()}) for a, b in itertools.pairwise(bounds)]
    tail = holdback.flush()
    parts += [tail] if tail is not None else []
    assert bars_as_rows([p for p in parts if p["ts"].size]) == bars_as_rows([data])


def test_a_row_for_a_second_already_handed_on_is_an_error_naming_the_file() -> None:
    holdback = WindowHoldback(key="us_stocks_sip/trades_v1/x.csv.gz", names=NAMES, window_ns=SECOND_NS, hold_ns=0)
    first = {"symbol": np.array([1, 1]), "ts": np.array([0, 5 * SECOND_NS])}
    assert holdback.push(first)["ts"].tolist() == [0]
    with pytest.raises(FlatFileError, match=r"us_stocks_sip/trades_v1/x\.csv\.gz: rows are not in time order: SPY"):
        holdback.push({"symbol": np.array([1]), "ts": np.array([SECOND_NS])})
