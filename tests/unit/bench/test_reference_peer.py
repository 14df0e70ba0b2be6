"""backtrader, an independent event-driven engine, trades the reference strategy on the reference bars
exactly as the plain-loop statement of it does: the peer the benchmark and the cross-check use."""

from __future__ import annotations

from typing import Any

import backtrader as bt
import pandas as pd

from scalper.bench.reference_bars import ema_cross_reference, make_bars


class EmaCross(bt.Strategy):  # type: ignore[misc]
    """EMA(30)/EMA(120) seeded with the first close, updated every bar; from bar 120 on, the target
    is +1 when fast > slow and -1 when fast < slow; the order fills at the next bar's open."""

    def __init__(self) -> None:
        self.fast: float | None = None
        self.slow = 0.0
        self.bar = -1
        self.fills = 0
        self.units = 0.0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            self.fills += 1
            self.units += abs(order.executed.size)

    def next(self) -> None:
        self.bar += 1
        close = float(self.data.close[0])
        if self.fast is None:
            self.fast = self.slow = close
        else:
            self.fast = 2 / 31 * close + (1 - 2 / 31) * self.fast
            self.slow = 2 / 121 * close + (1 - 2 / 121) * self.slow
        if self.bar >= 120:
            position = self.position.size
            target = 1 if self.fast > self.slow else -1 if self.fast < self.slow else position
            if target != position:
                self.order_target_size(target=target)


def test_backtrader_and_the_reference_loop_agree_on_two_sessions() -> None:
    bars = make_bars(2, 7)
    frame = pd.DataFrame(
        {k: bars[k].astype(float) for k in ("open", "high", "low", "close", "volume")},
        index=pd.to_datetime(bars["ts_ns"]),
    )
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(EmaCross)
    cerebro.broker.setcash(100_000.0)
    (strategy,) = cerebro.run(preload=True, runonce=False)
    fills, units, position, pnl = ema_cross_reference(bars["open"], bars["close"])
    assert (strategy.fills, strategy.units, strategy.position.size) == (fills, units, position)
    assert fills > 100  # a real workload, not a trivial agreement
    assert round(cerebro.broker.getvalue() - 100_000.0, 2) == round(pnl, 2)
