"""The constant-maturity ATM IV against the synthetic market's own term structure of ATM vol."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

from scalper.options.atm import _per_expiry, atm_iv
from scalper.options.chains import Chain, chain_from_snapshot, complete, terms
from scalper.synthetic.market import MarketDay, generate_market_days
from scalper.synthetic.options import (
    DIVIDEND,
    RATE,
    ROOTS,
    YEAR_NS,
    OptionDay,
    generate_option_day,
    realised_base_vol,
    smile,
)
from scalper.synthetic.polygon_events import snapshot_results


@dataclass(frozen=True)
class Market:
    chain: Chain  # as the REST snapshot at the close gives it
    day: MarketDay
    options: OptionDay


@cache
def spx() -> Market:
    day = next(generate_market_days(dt.date(2025, 3, 5), 1, seed=3))
    options = generate_option_day(day, 3)
    results = snapshot_results(options, day, 0)
    ts = max(r["last_quote"]["last_updated"] for r in results)
    return Market(chain_from_snapshot(results, underlying="I:SPX", ts_ns=ts), day, options)


def generator_iv_at(m: Market, expiry: np.datetime64, root: str, strike: float) -> float:
    """The generator's IV of a strike of one listing: its sticky-strike smile, fixed at the open."""
    oc = m.options.chain
    rows = np.flatnonzero((oc.expiry == expiry) & (oc.underlying == 0) & (np.array(ROOTS)[oc.root] == root))
    t0 = max((int(oc.settle_ns[rows[0]]) - m.day.window.open_ns) / YEAR_NS, 60.0 / (365 * 86400))
    spot_open = float(m.day.index_seconds.open[m.day.index_seconds.symbol == 1][0])
    forward_open = spot_open * math.exp((RATE - DIVIDEND[0]) * t0)
    return float(smile(np.array([strike]), np.array([forward_open]), np.array([t0]), realised_base_vol(m.day))[0])


def test_each_expirys_atm_iv_is_the_generators_iv_at_the_forward() -> None:
    m = spx()
    filled, _ = complete(m.chain)
    term = terms(filled)
    keys = np.char.add(filled.root.astype(str), filled.expiry.astype(str))
    checked = 0
    for t, iv in _per_expiry(filled, term):
        row = int(np.flatnonzero(term.t == t)[0])
        key = keys[row]
        assert keys[np.flatnonzero(term.t == t)].tolist() == [key] * int((term.t == t).sum())
        want = generator_iv_at(m, filled.expiry[row], str(filled.root[row]), float(term.forward[row]))
        assert iv == pytest.approx(want, rel=1e-3)  # linear in ln(K/F) between the two neighbouring strikes
        checked += 1
    assert checked >= 10


def test_the_constant_maturity_value_interpolates_total_variance_between_the_bracketing_expiries() -> None:
    chain = spx().chain
    filled, _ = complete(chain)
    points = sorted(_per_expiry(filled, terms(filled)))
    target = 7 / 365
    (t1, v1), (t2, v2) = [p for p in points if p[0] <= target][-1], next(p for p in points if p[0] >= target)
    want = math.sqrt((v1**2 * t1 + (v2**2 * t2 - v1**2 * t1) * (target - t1) / (t2 - t1)) / target)
    got, reason = atm_iv(chain, days=7)
    assert reason is None and got == pytest.approx(want, rel=1e-12)
    assert t1 < target < t2


def test_a_maturity_beyond_the_listed_expiries_is_nan_with_the_reason() -> None:
    value, reason = atm_iv(spx().chain, days=90)
    assert np.isnan(value) and reason is not None and "outside the expiries" in reason
