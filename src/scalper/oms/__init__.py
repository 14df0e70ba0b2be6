"""Order management: client ids, the order state machine, position arithmetic, the order book of a run.

Pure and in memory (time is passed in with every update); persistence is
:mod:`scalper.adapters.store.orders`. See ``docs/EXECUTION.md``.
"""

from __future__ import annotations

from scalper.oms.book import OrderBook, OrderEvent
from scalper.oms.ids import client_order_id, parse_client_order_id
from scalper.oms.positions import positions_from_fills

__all__ = ["OrderBook", "OrderEvent", "client_order_id", "parse_client_order_id", "positions_from_fills"]
