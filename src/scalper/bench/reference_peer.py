"""The reference strategy in backtrader, the independent engine the benchmark and the cross-check
compare with (backtrader is a development dependency: import this module only where it is installed).

EMA(30)/EMA(120) seeded with the first close and updated on every bar; from bar 120 on, the target
is +1 when fast > slow and −1 when fast < slow; ``order_target_size`` sends a market order, which
backtrader fills at the next bar's open. Data preloaded, no observers (``stdstats=False``); the
time measured is from the strategy's ``start`` to its ``stop``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd
from numpy.typing import NDArray

CASH = 100_000.0
NS_PER_S = 1_000_000_000


class EmaCross(bt.Strategy):  # type: ignore[misc]
    """The reference strategy; ``fills`` holds (bar start UTC ns, signed size, price) per fill."""

    def __init__(self) -> None:
        self.fast: float | None = None
        self.slow = 0.0
        self.bar = -1
        self.fills: list[tuple[int, float, float]] = []
        self.started = 0.0
        self.stopped = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()

    def stop(self) -> None:
        self.stopped = time.perf_counter()

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            # backtrader keeps times as float days: back to whole seconds
            when = round(pd.Timestamp(bt.num2date(order.executed.dt)).value / NS_PER_S) * NS_PER_S
            self.fills.append((when, float(order.executed.size), float(order.executed.price)))

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


def run(bars: Mapping[str, NDArray[np.generic]]) -> dict[str, Any]:
    """backtrader over ``bars``: ``fills`` [(bar start ns, signed size, price)], ``units``,
    ``position``, ``pnl`` (broker value − cash at start) and ``seconds`` (strategy start to stop)."""
    frame = pd.DataFrame(
        {k: np.asarray(bars[k], dtype=float) for k in ("open", "high", "low", "close", "volume")},
        index=pd.to_datetime(np.asarray(bars["ts_ns"], dtype=np.int64)),
    )
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(EmaCross)
    cerebro.broker.setcash(CASH)
    (strategy,) = cerebro.run(preload=True, runonce=False)
    return {
        "fills": strategy.fills,
        "units": float(sum(abs(size) for _, size, _ in strategy.fills)),
        "position": float(strategy.position.size),
        "pnl": float(cerebro.broker.getvalue() - CASH),
        "seconds": strategy.stopped - strategy.started,
    }
