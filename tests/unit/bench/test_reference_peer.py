"""backtrader, an independent event-driven engine, trades the reference strategy on the reference bars
exactly as the plain-loop statement of it does: the peer the benchmark and the cross-check use."""

from __future__ import annotations

from scalper.bench.reference_bars import ema_cross_reference, make_bars
from scalper.bench.reference_peer import run


def test_backtrader_and_the_reference_loop_agree_on_two_sessions() -> None:
    bars = make_bars(2, 7)
    peer = run(bars)
    fills, units, position, pnl = ema_cross_reference(bars["open"], bars["close"])
    assert (len(peer["fills"]), peer["units"], peer["position"]) == (fills, units, position)
    assert fills > 100  # a real workload, not a trivial agreement
    assert round(peer["pnl"], 2) == round(pnl, 2)
    assert peer["seconds"] > 0.0
    # every fill at the open of a bar: the bar after the decision
    opens = dict(zip(bars["ts_ns"].tolist(), bars["open"].tolist(), strict=True))
    assert all(price == opens[ts] for ts, _, price in peer["fills"])
