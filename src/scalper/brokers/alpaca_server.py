"""A local server speaking Alpaca's trading protocol: REST ``/v2`` plus the ``trade_updates`` stream.

It stands in for Alpaca's paper endpoint in tests and demos (it needs no network): alpaca-py's
``TradingClient`` and ``TradingStream`` talk to it unchanged when pointed at :attr:`AlpacaServer.rest_url`
and :attr:`AlpacaServer.stream_url`. Run it in-process (:class:`AlpacaServer`, ports 0 = free ports) or as
a process (:func:`main`, ``python -m scalper.brokers.alpaca_server``).

Protocol (as alpaca-py 0.44 speaks it):

* **REST** on one port (stdlib ``ThreadingHTTPServer``, HTTP/1.1). Every ``/v2`` request must carry the
  ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers of the configured keys, else HTTP 403
  ``{"code": 40310000, "message": "request is not authorized"}``. Paths: ``GET /v2/account``,
  ``GET /v2/clock``, ``POST /v2/orders``, ``GET /v2/orders`` (``status=open|closed|all``, ``limit``,
  ``nested``, ``direction``, ``symbols``), ``GET|DELETE /v2/orders/{id}``,
  ``GET /v2/orders:by_client_order_id?client_order_id=``, ``GET /v2/positions``,
  ``GET /v2/positions/{symbol}``. Errors are Alpaca's JSON ``{"code": ..., "message": ...}``; a second order
  with the same ``client_order_id`` is HTTP 422 ``client_order_id must be unique`` (code 40010001).
* **Stream** on a second port (``websockets`` asyncio server, any path): the client sends
  ``{"action": "authenticate", "data": {"key_id": ..., "secret_key": ...}}`` and gets
  ``{"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}`` (or
  ``"unauthorized"``, then the connection is closed); then ``{"action": "listen", "data": {"streams":
  ["trade_updates"]}}`` answered by ``{"stream": "listening", "data": {"streams": ["trade_updates"]}}``.
  Trade updates are ``{"stream": "trade_updates", "data": {"event": ..., "order": {...}, "timestamp": ...,
  "execution_id": ..., "price": ..., "qty": ..., "position_qty": ...}}`` (the last four on fills only;
  ``execution_id`` on every event). Frames are JSON in *binary* frames, as Alpaca's paper endpoint sends
  them (``binary_frames=False``: text frames). Updates are not replayed to late or reconnecting clients.

Order semantics (like Alpaca's, simplified):

* ``order_class`` is simple (``""`` in responses, as Alpaca answers) or ``bracket``
  (``take_profit.limit_price``, ``stop_loss.stop_price`` [+ ``limit_price``]; time in force day or gtc).
  A bracket's two legs get their own ids and generated client ids (uuid4), are ``held`` until the entry
  has a fill, then ``new`` (a ``new`` event each), and are one-cancels-other: a completely filled leg
  cancels its sibling. Cancelling an entry without fills cancels its legs. Legs work for the entry's full
  quantity. ``GET /v2/orders?nested=true`` lists parents with their legs under ``legs`` (a parent is listed
  when it or one of its legs matches ``status``); without ``nested`` every order, legs included, is listed
  flat. The POST response of a bracket always carries its legs.
* The POST response is the order as accepted (``new``; legs ``held``), before any fill: fills, like every
  later change, arrive on the stream (and show in later GETs).
* Statuses: ``new`` → ``partially_filled`` / ``filled`` / ``canceled`` / ``expired`` / ``rejected``;
  events ``new``, ``partial_fill``, ``fill``, ``canceled``, ``expired``, ``rejected``.

Fill model (deterministic given the prices; simple on purpose):

* Each symbol has a last price (given at construction, changed with ``POST /admin/price``). Orders of a
  symbol without a price rest until it gets one.
* At submission a market order fills at the last price; a limit order that is marketable at the last
  price (buy: last <= limit; sell: last >= limit) fills at the last price; a stop whose stop the last price
  has reached (buy: last >= stop; sell: last <= stop) fills at the last price; otherwise the order rests.
  IOC/FOK orders not filled at submission are cancelled.
* A new price (``POST /admin/price``) is applied to the resting orders of its symbol in submission order
  (legs activated by that very price are not evaluated on it): a limit fills *at its limit* when the price
  reaches it; a stop fills *at the new price* when the price reaches the stop; a stop-limit triggered by
  the price fills at the new price when that is within its limit, else rests as a limit; a trailing stop
  (``trail_price`` dollars or ``trail_percent``) trails the best price since it started working (its
  ``hwm``) and fills at the new price when the price reaches the trailed stop (the trigger is checked
  before the price moves the ``hwm``). ``max_fill_qty`` caps what each order fills per price (partial
  fills); otherwise orders fill completely.
* Positions and cash follow from fills on the average-cost method; ``market_value`` uses the last price.
  Account: ``equity`` = cash + the market value of the positions, ``buying_power`` = 2 × equity (a margin
  account without checks). No commissions.

Admin endpoints (JSON, no authentication, never recorded): ``POST /admin/price`` ``{"symbol", "price",
"max_fill_qty"?}``; ``POST /admin/reject_next`` ``{"count", "status", "message", "code"?}`` (the next
``count`` order POSTs are answered with that error and create nothing); ``POST /admin/fail_next``
``{"count", "mode"}`` (the next order POSTs get no response at all: ``drop_request`` before the order is
created, ``drop_response`` after); ``POST /admin/drop_stream`` ``{"refuse_s"?}`` (close every stream
connection, then refuse new ones with HTTP 503 for ``refuse_s`` seconds); ``POST /admin/expire``
``{"symbol"?}`` (expire open day orders); ``POST /admin/reject_order`` ``{"id" | "client_order_id",
"reason"?}``; ``GET /admin/stream`` (connection counts); ``GET /admin/requests`` (every ``/v2`` request
received: method, path, query, JSON body, HTTP status; header values are never recorded) and
``DELETE /admin/requests`` (clear it).

State (orders, prices, positions, cash, the request record) is kept in memory and, with ``state_path``,
written to that JSON file after every change (atomically) and loaded at start, so a restarted server
continues where it stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from scalper.config.secrets import Secret
from scalper.core.errors import ConfigError

log = logging.getLogger(__name__)

KEY_ENV = "APCA_API_KEY_ID"
SECRET_ENV = "APCA_API_SECRET_KEY"

#: Alpaca's error codes and messages the server answers with
CODE_BAD_REQUEST = 40010000
CODE_DUPLICATE = 40010001
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
DUPLICATE_CLIENT_ID_MESSAGE = "client_order_id must be unique"
UNAUTHORIZED_MESSAGE = "request is not authorized"

OPEN_STATUSES = frozenset({"new", "accepted", "pending_new", "held", "partially_filled", "accepted_for_bidding"})
CLOSED_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIMES_IN_FORCE = frozenset({"day", "gtc", "ioc", "fok", "opg", "cls"})
FAIL_MODES = frozenset({"drop_request", "drop_response"})
_ACCOUNT_ID = "9d9a6a63-3a4c-4f3b-9c1e-5b7a2f0c8e11"
_NS = 1_000_000_000


class ApiError(Exception):
    """An Alpaca error answer: HTTP status plus Alpaca's ``{"code", "message"}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def rfc3339(ns: int, digits: int = 6) -> str:
    """``ns`` (UTC) as RFC 3339 with ``digits`` fractional digits (6: Alpaca's orders; 9: its stream)."""
    seconds, rem = divmod(ns, _NS)
    base = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits <= 0:
        return f"{base}Z"
    return f"{base}.{str(rem).zfill(9)[:digits]}Z"


def _num(value: float | None) -> str | None:
    """A number as Alpaca writes it in JSON: a decimal string (None stays None)."""
    if value is None:
        return None
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _positive(body: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    raw = body.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(422, CODE_UNPROCESSABLE, f"{name} is required")
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ApiError(422, CODE_UNPROCESSABLE, f"invalid {name}: expected a number, was {raw!r}") from None
    if not (math.isfinite(value) and value > 0.0):
        raise ApiError(422, CODE_UNPROCESSABLE, f"invalid {name}: expected a number > 0, was {raw!r}")
    return value


class Exchange:
    """The server's order book, fill model, positions and cash (no I/O; callers hold the lock).

    Methods that change state return the trade-update ``data`` payloads they produced, in order.
    """

    def __init__(self, prices: Mapping[str, float], cash: float) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_cid: dict[str, str] = {}
        self.prices: dict[str, float] = {s: float(p) for s, p in prices.items()}
        self.positions: dict[str, dict[str, float]] = {}
        self.cash = float(cash)

    # --- persistence ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "orders": list(self.orders.values()),
            "prices": self.prices,
            "positions": self.positions,
            "cash": self.cash,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Exchange:
        ex = cls(data.get("prices", {}), float(data.get("cash", 0.0)))
        for o in data.get("orders", []):
            ex.orders[o["id"]] = dict(o)
            ex.by_cid[o["client_order_id"]] = o["id"]
        ex.positions = {s: dict(p) for s, p in data.get("positions", {}).items()}
        return ex

    # --- views --------------------------------------------------------------------------------------

    def order_json(self, o: Mapping[str, Any], *, nested: bool) -> dict[str, Any]:
        """``o`` as Alpaca's order JSON (numbers as strings; legs when ``nested``)."""
        filled = o["filled_qty"]
        avg = o["filled_notional"] / filled if filled > 0.0 else None
        legs = [self.order_json(self.orders[i], nested=False) for i in o["legs"]] if nested and o["legs"] else None

        def ts(name: str) -> str | None:
            value = o.get(name)
            return None if value is None else rfc3339(value)

        return {
            "id": o["id"],
            "client_order_id": o["client_order_id"],
            "created_at": ts("created_at"),
            "updated_at": ts("updated_at"),
            "submitted_at": ts("submitted_at"),
            "filled_at": ts("filled_at"),
            "expired_at": ts("expired_at"),
            "canceled_at": ts("canceled_at"),
            "failed_at": ts("failed_at"),
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{o['symbol']}")),
            "symbol": o["symbol"],
            "asset_class": "us_equity",
            "notional": None,
            "qty": _num(o["qty"]),
            "filled_qty": _num(filled),
            "filled_avg_price": _num(avg),
            "order_class": "" if o["order_class"] == "simple" else o["order_class"],
            "order_type": o["type"],
            "type": o["type"],
            "side": o["side"],
            "time_in_force": o["time_in_force"],
            "limit_price": _num(o["limit_price"]),
            "stop_price": _num(o["stop_price"]),
            "status": o["status"],
            "extended_hours": bool(o.get("extended_hours", False)),
            "legs": legs,
            "trail_percent": _num(o["trail_percent"]),
            "trail_price": _num(o["trail_price"]),
            "hwm": _num(o["hwm"]),
        }

    def position_json(self, symbol: str) -> dict[str, Any]:
        p = self.positions[symbol]
        qty, avg = p["qty"], p["avg"]
        price = self.prices.get(symbol, avg)
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}")),
            "symbol": symbol,
            "exchange": "ARCA",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _num(avg),
            "qty": _num(qty),
            "qty_available": _num(qty),
            "side": "long" if qty > 0 else "short",
            "market_value": _num(qty * price),
            "cost_basis": _num(qty * avg),
            "unrealized_pl": _num(qty * (price - avg)),
            "unrealized_plpc": _num((price - avg) / avg * (1 if qty > 0 else -1)) if avg else "0",
            "unrealized_intraday_pl": _num(qty * (price - avg)),
            "unrealized_intraday_plpc": "0",
            "current_price": _num(price),
            "lastday_price": _num(price),
            "change_today": "0",
        }

    def account_json(self) -> dict[str, Any]:
        market = sum(p["qty"] * self.prices.get(s, p["avg"]) for s, p in self.positions.items())
        long_mv = sum(p["qty"] * self.prices.get(s, p["avg"]) for s, p in self.positions.items() if p["qty"] > 0)
        equity = self.cash + market
        return {
            "id": _ACCOUNT_ID,
            "account_number": "PA0LOCAL0001",
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "buying_power": _num(max(0.0, 2.0 * equity)) or "0",
            "regt_buying_power": _num(max(0.0, 2.0 * equity)) or "0",
            "daytrading_buying_power": _num(max(0.0, 4.0 * equity)) or "0",
            "non_marginable_buying_power": _num(max(0.0, self.cash)) or "0",
            "cash": _num(self.cash) or "0",
            "accrued_fees": "0",
            "portfolio_value": _num(equity) or "0",
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2024-01-02T14:30:00Z",
            "trade_suspended_by_user": False,
            "multiplier": "2",
            "shorting_enabled": True,
            "equity": _num(equity) or "0",
            "last_equity": _num(equity) or "0",
            "long_market_value": _num(long_mv) or "0",
            "short_market_value": _num(market - long_mv) or "0",
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
        }

    def list_orders(self, status: str, limit: int, nested: bool, direction: str, symbols: set[str] | None) -> list[Any]:
        wanted = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}.get(status)
        if wanted is None and status != "all":
            raise ApiError(422, CODE_UNPROCESSABLE, f"invalid status: expected open, closed or all, was {status!r}")

        def matches(o: Mapping[str, Any]) -> bool:
            return wanted is None or o["status"] in wanted

        chosen: list[dict[str, Any]] = []
        for o in self.orders.values():
            if symbols is not None and o["symbol"] not in symbols:
                continue
            if nested:
                if o["parent"] is None and (matches(o) or any(matches(self.orders[i]) for i in o["legs"])):
                    chosen.append(o)
            elif matches(o):
                chosen.append(o)
        if direction != "asc":
            chosen.reverse()
        return [self.order_json(o, nested=nested) for o in chosen[:limit]]

    def find(self, order_id: str) -> dict[str, Any]:
        o = self.orders.get(order_id)
        if o is None:
            raise ApiError(404, CODE_NOT_FOUND, "order not found")
        return o

    def find_by_cid(self, cid: str) -> dict[str, Any]:
        order_id = self.by_cid.get(cid)
        if order_id is None:
            raise ApiError(404, CODE_NOT_FOUND, f"order not found for {cid}")
        return self.orders[order_id]

    # --- requests -------------------------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any], now: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Create an order from a POST body: (the response JSON, the events)."""
        if not isinstance(body, Mapping):
            raise ApiError(400, CODE_BAD_REQUEST, "request body format is invalid")
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise ApiError(422, CODE_UNPROCESSABLE, "symbol is required")
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise ApiError(422, CODE_UNPROCESSABLE, f"invalid side: expected buy or sell, was {side!r}")
        kind = body.get("type", body.get("order_type"))
        if kind not in ORDER_TYPES:
            raise ApiError(422, CODE_UNPROCESSABLE, f"invalid order type: {kind!r}")
        tif = body.get("time_in_force")
        if tif not in TIMES_IN_FORCE:
            raise ApiError(422, CODE_UNPROCESSABLE, f"invalid time_in_force: {tif!r}")
        qty = _positive(body, "qty", required=True)
        assert qty is not None
        limit = _positive(body, "limit_price", required=kind in ("limit", "stop_limit"))
        stop = _positive(body, "stop_price", required=kind in ("stop", "stop_limit"))
        trail_price = _positive(body, "trail_price", required=False)
        trail_percent = _positive(body, "trail_percent", required=False)
        if kind == "trailing_stop" and (trail_price is None) == (trail_percent is None):
            raise ApiError(
                422, CODE_UNPROCESSABLE, "trailing_stop orders need exactly one of trail_price, trail_percent"
            )
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if not isinstance(cid, str) or len(cid) > 128:
            raise ApiError(422, CODE_UNPROCESSABLE, "client_order_id must be a string of at most 128 characters")
        if cid in self.by_cid:
            raise ApiError(422, CODE_DUPLICATE, DUPLICATE_CLIENT_ID_MESSAGE)
        order_class = body.get("order_class") or "simple"
        if order_class not in ("simple", "bracket"):
            raise ApiError(422, CODE_UNPROCESSABLE, f"order_class {order_class!r} is not supported by the local server")
        legs: list[dict[str, Any]] = []
        if order_class == "bracket":
            legs = self._bracket_legs(body, symbol, side, qty, tif, kind, now)
        entry = self._record(
            cid,
            symbol,
            side,
            kind,
            qty,
            tif,
            order_class,
            now,
            limit=limit,
            stop=stop,
            trail_price=trail_price,
            trail_percent=trail_percent,
        )
        entry["legs"] = [leg["id"] for leg in legs]
        for leg in legs:
            leg["parent"] = entry["id"]
        for o in (entry, *legs):
            self.orders[o["id"]] = o
            self.by_cid[o["client_order_id"]] = o["id"]
        response = self.order_json(entry, nested=True)
        events = [self._event("new", entry, now)]
        price = self.prices.get(symbol)
        if price is not None:
            self._start_trailing(entry, price)
            fill_px = self._fill_price(entry, price, resting=False)
            if fill_px is not None:
                events += self._fill(entry, entry["qty"], fill_px, now)
        if tif in ("ioc", "fok") and entry["status"] in OPEN_STATUSES:
            events += self._end(entry, "canceled", now)
        return response, events

    def _bracket_legs(
        self, body: Mapping[str, Any], symbol: str, side: str, qty: float, tif: str, kind: str, now: int
    ) -> list[dict[str, Any]]:
        if tif not in ("day", "gtc"):
            raise ApiError(422, CODE_UNPROCESSABLE, f"bracket orders must be day or gtc, was {tif!r}")
        if kind == "trailing_stop":
            raise ApiError(422, CODE_UNPROCESSABLE, "bracket orders cannot have a trailing_stop entry")
        take, loss = body.get("take_profit"), body.get("stop_loss")
        if not isinstance(take, Mapping):
            raise ApiError(422, CODE_UNPROCESSABLE, "bracket orders require take_profit.limit_price")
        if not isinstance(loss, Mapping):
            raise ApiError(422, CODE_UNPROCESSABLE, "bracket orders require stop_loss.stop_price")
        tp = _positive(take, "limit_price", required=True)
        sl = _positive(loss, "stop_price", required=True)
        sl_limit = _positive(loss, "limit_price", required=False)
        assert tp is not None and sl is not None
        if (side == "buy" and tp <= sl) or (side == "sell" and tp >= sl):
            relation = ">" if side == "buy" else "<"
            raise ApiError(
                422, CODE_UNPROCESSABLE, f"take_profit.limit_price must be {relation} stop_loss.stop_price for a {side}"
            )
        exit_side = "sell" if side == "buy" else "buy"
        target = self._record(str(uuid.uuid4()), symbol, exit_side, "limit", qty, tif, "bracket", now, limit=tp)
        stop = self._record(
            str(uuid.uuid4()),
            symbol,
            exit_side,
            "stop" if sl_limit is None else "stop_limit",
            qty,
            tif,
            "bracket",
            now,
            limit=sl_limit,
            stop=sl,
        )
        for leg in (target, stop):
            leg["status"] = "held"
        return [target, stop]

    def _record(
        self,
        cid: str,
        symbol: str,
        side: str,
        kind: str,
        qty: float,
        tif: str,
        order_class: str,
        now: int,
        *,
        limit: float | None = None,
        stop: float | None = None,
        trail_price: float | None = None,
        trail_percent: float | None = None,
    ) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()), "client_order_id": cid, "symbol": symbol, "side": side, "type": kind,
            "qty": qty, "time_in_force": tif, "order_class": order_class, "status": "new",
            "limit_price": limit, "stop_price": stop, "trail_price": trail_price, "trail_percent": trail_percent,
            "hwm": None, "triggered": False, "filled_qty": 0.0, "filled_notional": 0.0,
            "created_at": now, "updated_at": now, "submitted_at": now, "filled_at": None, "expired_at": None,
            "canceled_at": None, "failed_at": None, "legs": [], "parent": None, "extended_hours": False,
        }  # fmt: skip

    def cancel(self, order_id: str, now: int) -> list[dict[str, Any]]:
        o = self.find(order_id)
        if o["status"] not in OPEN_STATUSES:
            raise ApiError(422, CODE_UNPROCESSABLE, f'order is already in "{o["status"]}" state')
        return self._end(o, "canceled", now)

    def reject_order(self, o: dict[str, Any], reason: str, now: int) -> list[dict[str, Any]]:
        if o["status"] not in OPEN_STATUSES:
            raise ApiError(422, CODE_UNPROCESSABLE, f'order is already in "{o["status"]}" state')
        o["reject_reason"] = reason
        return self._end(o, "rejected", now)

    def expire(self, symbol: str | None, now: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for o in list(self.orders.values()):
            # the status is read now: an earlier expiry (of its parent) may have ended the order
            if o["time_in_force"] == "day" and o["status"] in OPEN_STATUSES and symbol in (None, o["symbol"]):
                events += self._end(o, "expired", now)
        return events

    def set_price(self, symbol: str, price: float, now: int, max_fill_qty: float | None) -> list[dict[str, Any]]:
        """Apply a new last price to the resting orders of ``symbol`` (see the module's fill model)."""
        if not (math.isfinite(price) and price > 0.0):
            raise ApiError(422, CODE_UNPROCESSABLE, f"price: expected a number > 0, was {price!r}")
        self.prices[symbol] = price
        working = [
            o for o in self.orders.values() if o["symbol"] == symbol and o["status"] in ("new", "partially_filled")
        ]
        events: list[dict[str, Any]] = []
        for o in working:
            if o["status"] not in ("new", "partially_filled"):
                continue  # cancelled by a sibling's fill on this price
            fill_px = self._fill_price(o, price, resting=True)
            if fill_px is None:
                continue
            remaining = o["qty"] - o["filled_qty"]
            qty = remaining if max_fill_qty is None else min(remaining, max_fill_qty)
            events += self._fill(o, qty, fill_px, now)
        return events

    # --- fill model ----------------------------------------------------------------------------------

    def _start_trailing(self, o: dict[str, Any], price: float) -> None:
        if o["type"] == "trailing_stop" and o["hwm"] is None:
            o["hwm"] = price
            o["stop_price"] = self._trail_stop(o)

    def _trail_stop(self, o: Mapping[str, Any]) -> float:
        hwm = o["hwm"]
        distance = o["trail_price"] if o["trail_price"] is not None else hwm * o["trail_percent"] / 100.0
        return float(hwm - distance if o["side"] == "sell" else hwm + distance)

    def _fill_price(self, o: dict[str, Any], price: float, *, resting: bool) -> float | None:
        buy = o["side"] == "buy"
        kind = o["type"]
        if kind == "market" or (kind in ("stop", "trailing_stop") and o["triggered"]):
            return price  # a triggered stop is a market order (its rest after a partial fill too)
        if kind == "trailing_stop":
            if o["hwm"] is None:
                self._start_trailing(o, price)
                return None
            if (buy and price >= o["stop_price"]) or (not buy and price <= o["stop_price"]):
                o["triggered"] = True
                return price
            o["hwm"] = min(o["hwm"], price) if buy else max(o["hwm"], price)
            o["stop_price"] = self._trail_stop(o)
            return None
        if kind in ("stop", "stop_limit") and not o["triggered"]:
            stop = o["stop_price"]
            if not ((buy and price >= stop) or (not buy and price <= stop)):
                return None
            o["triggered"] = True
            if kind == "stop":
                return price
            return self._limit_price(buy, o["limit_price"], price, resting=False)
        return self._limit_price(buy, o["limit_price"], price, resting=resting)

    @staticmethod
    def _limit_price(buy: bool, limit: float, price: float, *, resting: bool) -> float | None:
        if (buy and price <= limit) or (not buy and price >= limit):
            return limit if resting else price
        return None

    def _fill(self, o: dict[str, Any], qty: float, price: float, now: int) -> list[dict[str, Any]]:
        remaining = o["qty"] - o["filled_qty"]
        qty = min(qty, remaining)
        if remaining - qty <= 1e-9 * max(1.0, o["qty"]):
            qty = remaining
        o["filled_qty"] += qty
        o["filled_notional"] += qty * price
        complete = o["qty"] - o["filled_qty"] <= 1e-9 * max(1.0, o["qty"])
        o["status"] = "filled" if complete else "partially_filled"
        o["updated_at"] = now
        if complete:
            o["filled_at"] = now
        position_qty = self._apply_position(o["symbol"], o["side"], qty, price)
        event = self._event("fill" if complete else "partial_fill", o, now)
        event.update(price=_num(price), qty=_num(qty), position_qty=_num(position_qty), execution_id=str(uuid.uuid4()))
        events = [event]
        for leg_id in o["legs"]:
            leg = self.orders[leg_id]
            if leg["status"] == "held":
                leg["status"] = "new"
                leg["updated_at"] = now
                events.append(self._event("new", leg, now))
        if o["parent"] is not None and complete:
            for sibling_id in self.orders[o["parent"]]["legs"]:
                sibling = self.orders[sibling_id]
                if sibling_id != o["id"] and sibling["status"] in OPEN_STATUSES:
                    events += self._end(sibling, "canceled", now)
        return events

    def _apply_position(self, symbol: str, side: str, qty: float, price: float) -> float:
        p = self.positions.setdefault(symbol, {"qty": 0.0, "avg": 0.0})
        signed = qty if side == "buy" else -qty
        self.cash -= signed * price
        old = p["qty"]
        new = old + signed
        if abs(new) <= 1e-9 * max(1.0, abs(old)):
            new, avg = 0.0, 0.0
        elif old == 0.0 or (old > 0) == (signed > 0):
            avg = (abs(old) * p["avg"] + qty * price) / abs(new)
        elif (old > 0) != (new > 0):
            avg = price  # crossed through flat: the rest opened at this price
        else:
            avg = p["avg"]
        p["qty"], p["avg"] = new, avg
        if new == 0.0:
            del self.positions[symbol]
        return new

    def _end(self, o: dict[str, Any], status: str, now: int) -> list[dict[str, Any]]:
        o["status"] = status
        o["updated_at"] = now
        o[{"canceled": "canceled_at", "expired": "expired_at", "rejected": "failed_at"}[status]] = now
        events = [self._event(status, o, now)]
        if o["legs"] and o["filled_qty"] == 0.0:
            for leg_id in o["legs"]:
                leg = self.orders[leg_id]
                if leg["status"] in OPEN_STATUSES:
                    events += self._end(leg, "canceled", now)
        return events

    def _event(self, event: str, o: Mapping[str, Any], now: int) -> dict[str, Any]:
        return {
            "event": event,
            "execution_id": str(uuid.uuid4()),
            "order": self.order_json(o, nested=False),
            "timestamp": rfc3339(now, 9),
        }


class _Handler(BaseHTTPRequestHandler):
    """One HTTP connection of the REST port; the work is done by the owning :class:`AlpacaServer`."""

    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("alpaca-server: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        bad_body = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_body = True
        owner = self.server.owner
        if parts.path.startswith("/admin/"):
            status, payload = owner._admin(method, parts.path, query, body)
            self._reply(status, payload)
            return
        authorised = (
            self.headers.get("APCA-API-KEY-ID") == owner._key
            and self.headers.get("APCA-API-SECRET-KEY") == owner._secret
        )
        if not authorised:
            status, payload = 403, {"code": CODE_FORBIDDEN, "message": UNAUTHORIZED_MESSAGE}
        elif bad_body:
            status, payload = 400, {"code": CODE_BAD_REQUEST, "message": "request body format is invalid"}
        else:
            fail = owner._take_failure(method, parts.path)
            if fail == "drop_request":
                owner._record_request(method, parts.path, query, body, 0)
                self._drop()
                return
            status, payload = owner._api(method, parts.path, query, body)
            if fail == "drop_response":
                owner._record_request(method, parts.path, query, body, 0)
                self._drop()
                return
        owner._record_request(method, parts.path, query, body, status)
        self._reply(status, payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reply(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: AlpacaServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class AlpacaServer:
    """The local Alpaca-protocol server (see the module docstring): REST and stream on two ports.

    ``key_id`` / ``secret_key`` are the only credentials accepted (plain strings or
    :class:`~scalper.config.secrets.Secret`); ``prices`` the initial last price per symbol; ``cash`` the
    account's starting cash. :meth:`start` binds the ports (0: free ports) and starts the threads;
    :meth:`stop` closes every connection and joins them. Usable as a context manager.
    """

    def __init__(
        self,
        key_id: str | Secret,
        secret_key: str | Secret,
        prices: Mapping[str, float] | None = None,
        *,
        state_path: str | Path | None = None,
        host: str = "127.0.0.1",
        rest_port: int = 0,
        stream_port: int = 0,
        cash: float = 100_000.0,
        binary_frames: bool = True,
    ) -> None:
        self._key = key_id.reveal() if isinstance(key_id, Secret) else key_id
        self._secret = secret_key.reveal() if isinstance(secret_key, Secret) else secret_key
        if not self._key or not self._secret:
            raise ConfigError("alpaca server keys: expected a non-empty key id and secret key, was empty")
        self._host = host
        self._rest_port = rest_port
        self._stream_port = stream_port
        self._binary = binary_frames
        self._state_path = Path(state_path) if state_path is not None else None
        self._lock = threading.RLock()
        self._requests: list[dict[str, Any]] = []
        loaded = self._load()
        if loaded is not None:
            self._ex = loaded
            for symbol, price in (prices or {}).items():
                self._ex.prices.setdefault(symbol, float(price))
        else:
            self._ex = Exchange(prices or {}, cash)
        self._reject_next: list[tuple[int, int, str]] = []
        self._fail_next: list[str] = []
        self._refuse_until = 0.0
        self._http: _HttpServer | None = None
        self._http_thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_thread: threading.Thread | None = None
        self._ws_ready = threading.Event()
        self._ws_error: BaseException | None = None
        self._ws_stop: asyncio.Event | None = None
        self._outbox: asyncio.Queue[bytes | str] | None = None
        self._connections: set[ServerConnection] = set()
        self._listening: set[ServerConnection] = set()
        self._bound_stream_port = 0

    def __repr__(self) -> str:
        rest = self.rest_url if self._http else None
        stream = self.stream_url if self._bound_stream_port else None
        return f"AlpacaServer(rest={rest}, stream={stream})"

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        """Base URL for ``TradingClient(url_override=...)`` (without ``/v2``)."""
        if self._http is None:
            raise ConfigError("alpaca server rest_url: expected a started server, was not started")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stream_url(self) -> str:
        """URL of the trade-updates websocket."""
        if not self._bound_stream_port:
            raise ConfigError("alpaca server stream_url: expected a started server, was not started")
        return f"ws://{self._host}:{self._bound_stream_port}/stream"

    def start(self) -> AlpacaServer:
        """Bind both ports and serve in background threads; returns self."""
        if self._http is not None:
            raise ConfigError("alpaca server start: expected a stopped server, was already started")
        self._http = _HttpServer((self._host, self._rest_port), self)
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="alpaca-server-rest", daemon=True
        )
        self._http_thread.start()
        self._ws_thread = threading.Thread(target=self._run_stream, name="alpaca-server-stream", daemon=True)
        self._ws_thread.start()
        self._ws_ready.wait(10.0)
        if self._ws_error is not None or not self._bound_stream_port:
            self.stop()
            raise ConfigError(
                f"alpaca server stream port {self._host}:{self._stream_port}: cannot serve: {self._ws_error}"
            )
        return self

    def stop(self) -> None:
        """Close every connection, stop both servers and join their threads (idempotent)."""
        loop, stop_event = self._loop, self._ws_stop
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop_event.set)
        if self._ws_thread is not None:
            self._ws_thread.join(10.0)
            self._ws_thread = None
        if self._http is not None:
            self._http.shutdown()
            with self._lock:
                sockets = list(self._sockets)
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join(10.0)
            self._http_thread = None
        self._loop = None
        self._bound_stream_port = 0

    def __enter__(self) -> AlpacaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the Python face of the admin endpoints ----------------------------------------------------------

    def set_price(self, symbol: str, price: float, *, max_fill_qty: float | None = None) -> int:
        """Set ``symbol``'s last price, filling the resting orders it reaches; returns the events sent."""
        with self._lock:
            events = self._ex.set_price(symbol, float(price), time.time_ns(), max_fill_qty)
            self._publish(events)
            return len(events)

    def reject_next(self, count: int = 1, *, status: int = 403, message: str = "insufficient buying power",
                    code: int = CODE_FORBIDDEN) -> None:  # fmt: skip
        """Answer the next ``count`` order POSTs with HTTP ``status`` and Alpaca's error JSON (nothing created)."""
        with self._lock:
            self._reject_next.extend([(status, code, message)] * count)

    def fail_next(self, count: int = 1, *, mode: str = "drop_request") -> None:
        """Give the next ``count`` order POSTs no answer: ``drop_request`` (nothing created) or ``drop_response``."""
        if mode not in FAIL_MODES:
            raise ConfigError(f"fail_next mode: expected one of {', '.join(sorted(FAIL_MODES))}, was {mode!r}")
        with self._lock:
            self._fail_next.extend([mode] * count)

    def drop_stream(self, refuse_s: float = 0.0) -> int:
        """Close every stream connection and refuse new ones for ``refuse_s`` seconds; returns how many."""
        with self._lock:
            self._refuse_until = time.monotonic() + max(0.0, refuse_s)
        loop = self._loop
        if loop is None:
            return 0
        future = asyncio.run_coroutine_threadsafe(self._drop_all(), loop)
        return future.result(10.0)

    def expire_day_orders(self, symbol: str | None = None) -> int:
        """Expire every open day order (of ``symbol``); returns the events sent."""
        with self._lock:
            events = self._ex.expire(symbol, time.time_ns())
            self._publish(events)
            return len(events)

    def reject_order(self, *, order_id: str | None = None, client_order_id: str | None = None,
                     reason: str = "rejected by the local server") -> int:  # fmt: skip
        """Reject an open order after its acceptance (a ``rejected`` event); returns the events sent."""
        with self._lock:
            if order_id is not None:
                o = self._ex.find(order_id)
            elif client_order_id is not None:
                o = self._ex.find_by_cid(client_order_id)
            else:
                raise ApiError(422, CODE_UNPROCESSABLE, "reject_order: expected id or client_order_id, was neither")
            events = self._ex.reject_order(o, reason, time.time_ns())
            self._publish(events)
            return len(events)

    def requests(self) -> list[dict[str, Any]]:
        """Every ``/v2`` request received so far (method, path, query, body, status); a copy."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._save()

    def stream_counts(self) -> dict[str, int]:
        """Open stream connections and how many of them listen to ``trade_updates``."""
        with self._lock:
            return {"connections": len(self._connections), "listening": len(self._listening)}

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any]:
        """An order as Alpaca's JSON, with its legs."""
        with self._lock:
            return self._ex.order_json(self._ex.find_by_cid(client_order_id), nested=True)

    # --- REST ---------------------------------------------------------------------------------------------

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def _take_failure(self, method: str, path: str) -> str | None:
        if method != "POST" or path != "/v2/orders":
            return None
        with self._lock:
            return self._fail_next.pop(0) if self._fail_next else None

    def _record_request(self, method: str, path: str, query: dict[str, str], body: Any, status: int) -> None:
        with self._lock:
            self._requests.append({"method": method, "path": path, "query": query, "body": body, "status": status})
            self._save()

    def _api(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        try:
            with self._lock:
                result = self._route(method, path, query, body)
                self._save()
                return result
        except ApiError as exc:
            return exc.status, {"code": exc.code, "message": exc.message}

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        ex, now = self._ex, time.time_ns()
        nested = query.get("nested", "").lower() == "true"
        if path == "/v2/account" and method == "GET":
            return 200, ex.account_json()
        if path == "/v2/clock" and method == "GET":
            return 200, _clock_json(now)
        if path == "/v2/positions" and method == "GET":
            return 200, [ex.position_json(s) for s in sorted(ex.positions)]
        if path.startswith("/v2/positions/") and method == "GET":
            symbol = path.removeprefix("/v2/positions/")
            if symbol not in ex.positions:
                raise ApiError(404, CODE_NOT_FOUND, "position does not exist")
            return 200, ex.position_json(symbol)
        if path == "/v2/orders:by_client_order_id" and method == "GET":
            return 200, ex.order_json(ex.find_by_cid(query.get("client_order_id", "")), nested=True)
        if path == "/v2/orders" and method == "POST":
            if self._reject_next:
                status, code, message = self._reject_next.pop(0)
                raise ApiError(status, code, message)
            response, events = ex.submit(body, now)
            self._publish(events)
            return 200, response
        if path == "/v2/orders" and method == "GET":
            try:
                limit = int(query.get("limit") or 50)
            except ValueError:
                raise ApiError(422, CODE_UNPROCESSABLE, f"invalid limit: {query.get('limit')!r}") from None
            symbols = set(query["symbols"].split(",")) if query.get("symbols") else None
            orders = ex.list_orders(
                query.get("status") or "open",
                max(1, min(limit, 500)),
                nested,
                query.get("direction") or "desc",
                symbols,
            )
            return 200, orders
        if path.startswith("/v2/orders/"):
            order_id = path.removeprefix("/v2/orders/")
            if method == "GET":
                return 200, ex.order_json(ex.find(order_id), nested=nested)
            if method == "DELETE":
                self._publish(ex.cancel(order_id, now))
                return 204, None
        raise ApiError(404, CODE_NOT_FOUND, f"endpoint not found: {method} {path}")

    def _admin(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        args: dict[str, Any] = body if isinstance(body, dict) else {}
        try:
            if path == "/admin/requests" and method == "GET":
                return 200, self.requests()
            if path == "/admin/requests" and method == "DELETE":
                self.clear_requests()
                return 200, {"cleared": True}
            if path == "/admin/stream" and method == "GET":
                return 200, self.stream_counts()
            if method != "POST":
                raise ApiError(404, CODE_NOT_FOUND, f"admin endpoint not found: {method} {path}")
            if path == "/admin/price":
                max_qty = args.get("max_fill_qty")
                events = self.set_price(
                    str(args["symbol"]), float(args["price"]), max_fill_qty=None if max_qty is None else float(max_qty)
                )
                return 200, {"events": events}
            if path == "/admin/reject_next":
                self.reject_next(
                    int(args.get("count", 1)),
                    status=int(args.get("status", 403)),
                    message=str(args.get("message", "insufficient buying power")),
                    code=int(args.get("code", CODE_FORBIDDEN)),
                )
                return 200, {"ok": True}
            if path == "/admin/fail_next":
                self.fail_next(int(args.get("count", 1)), mode=str(args.get("mode", "drop_request")))
                return 200, {"ok": True}
            if path == "/admin/drop_stream":
                return 200, {"dropped": self.drop_stream(float(args.get("refuse_s", 0.0)))}
            if path == "/admin/expire":
                symbol = args.get("symbol")
                return 200, {"events": self.expire_day_orders(None if symbol is None else str(symbol))}
            if path == "/admin/reject_order":
                events = self.reject_order(
                    order_id=args.get("id"),
                    client_order_id=args.get("client_order_id"),
                    reason=str(args.get("reason", "rejected by the local server")),
                )
                return 200, {"events": events}
            raise ApiError(404, CODE_NOT_FOUND, f"admin endpoint not found: {method} {path}")
        except ApiError as exc:
            return exc.status, {"code": exc.code, "message": exc.message}
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            return 400, {"code": CODE_BAD_REQUEST, "message": f"bad admin request {path}: {exc}"}

    # --- persistence -------------------------------------------------------------------------------------

    def _load(self) -> Exchange | None:
        path = self._state_path
        if path is None or not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"alpaca server state {path}: cannot load: {exc}") from exc
        self._requests = list(data.get("requests", []))
        return Exchange.from_json(data)

    def _save(self) -> None:
        path = self._state_path
        if path is None:
            return
        data = self._ex.to_json()
        data["requests"] = self._requests
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)

    # --- stream --------------------------------------------------------------------------------------------

    def _frame(self, message: Mapping[str, Any]) -> bytes | str:
        text = json.dumps(message)
        return text.encode() if self._binary else text

    def _publish(self, events: list[dict[str, Any]]) -> None:
        """Queue trade updates for every listening connection (callers hold the lock: order is kept)."""
        self._save()
        loop, outbox = self._loop, self._outbox
        if loop is None or outbox is None or not events:
            return
        for data in events:
            frame = self._frame({"stream": "trade_updates", "data": data})
            try:
                loop.call_soon_threadsafe(outbox.put_nowait, frame)
            except RuntimeError:
                return  # the stream loop is closing

    def _run_stream(self) -> None:
        try:
            asyncio.run(self._serve_stream())
        except BaseException as exc:  # reported by start()
            self._ws_error = exc
            self._ws_ready.set()

    async def _serve_stream(self) -> None:
        self._ws_stop = asyncio.Event()
        self._outbox = asyncio.Queue()
        async with serve(
            self._ws_handler, self._host, self._stream_port, process_request=self._process_request, close_timeout=1.0
        ) as server:
            self._bound_stream_port = _server_port(server)
            self._loop = asyncio.get_running_loop()
            broadcaster = asyncio.create_task(self._broadcast())
            self._ws_ready.set()
            await self._ws_stop.wait()
            broadcaster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await broadcaster
            server.close()
            await server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        with self._lock:
            refusing = time.monotonic() < self._refuse_until
        if refusing:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "stream connections refused for now\n")
        return None

    async def _broadcast(self) -> None:
        assert self._outbox is not None
        while True:
            frame = await self._outbox.get()
            for ws in list(self._listening):
                try:
                    await ws.send(frame)
                except ConnectionClosed:
                    self._listening.discard(ws)

    async def _drop_all(self) -> int:
        connections = list(self._connections)
        for ws in connections:
            await ws.close(code=1011, reason="dropped by the local server")
        return len(connections)

    async def _ws_handler(self, ws: ServerConnection) -> None:
        with self._lock:
            self._connections.add(ws)
        authorised = False
        try:
            async for raw in ws:
                try:
                    message = json.loads(raw)
                    action, data = message.get("action"), message.get("data") or {}
                except (ValueError, AttributeError):
                    await ws.send(self._frame({"stream": "error", "data": {"error": "invalid message"}}))
                    continue
                if action in ("authenticate", "auth"):
                    authorised = data.get("key_id") == self._key and data.get("secret_key") == self._secret
                    status = "authorized" if authorised else "unauthorized"
                    reply: dict[str, Any] = {"action": "authenticate", "status": status}
                    await ws.send(self._frame({"stream": "authorization", "data": reply}))
                    if not authorised:
                        await ws.close(code=1008, reason="unauthorized")
                        return
                elif action == "listen":
                    if not authorised:
                        reply = {"action": "listen", "status": "unauthorized"}
                        await ws.send(self._frame({"stream": "authorization", "data": reply}))
                        continue
                    streams = [s for s in data.get("streams", []) if s == "trade_updates"]
                    with self._lock:
                        if streams:
                            self._listening.add(ws)
                        else:
                            self._listening.discard(ws)
                    await ws.send(self._frame({"stream": "listening", "data": {"streams": streams}}))
                else:
                    await ws.send(self._frame({"stream": "error", "data": {"error": f"unknown action {action!r}"}}))
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.discard(ws)
                self._listening.discard(ws)


def _server_port(server: Server) -> int:
    for sock in server.sockets:
        port = sock.getsockname()[1]
        if isinstance(port, int):
            return port
    raise ConfigError("alpaca server stream: expected a bound socket, was none")


def _clock_json(now: int) -> dict[str, Any]:
    return {
        "timestamp": rfc3339(now),
        "is_open": True,
        "next_open": rfc3339(now + 86_400 * _NS, 0),
        "next_close": rfc3339(now + 3_600 * _NS, 0),
    }


def _parse_price(text: str) -> tuple[str, float]:
    symbol, sep, price = text.partition("=")
    if not sep or not symbol:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=PRICE, was {text!r}")
    try:
        return symbol, float(price)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=PRICE with a number, was {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT. Keys come from APCA_API_KEY_ID / APCA_API_SECRET_KEY.

    Prints ``alpaca-server rest=http://... stream=ws://...`` (one line, flushed) once both ports serve.
    """
    parser = argparse.ArgumentParser(prog="alpaca-server", description="A local Alpaca-protocol server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rest-port", type=int, default=0)
    parser.add_argument("--stream-port", type=int, default=0)
    parser.add_argument("--price", type=_parse_price, action="append", default=[], metavar="SYMBOL=PRICE")
    parser.add_argument("--state", type=Path, default=None, help="JSON file to persist and restore state")
    parser.add_argument("--cash", type=float, default=100_000.0)
    parser.add_argument("--text-frames", action="store_true", help="send stream frames as text, not binary")
    args = parser.parse_args(argv)
    key, secret = os.environ.get(KEY_ENV, ""), os.environ.get(SECRET_ENV, "")
    if not key or not secret:
        print(f"alpaca-server: expected {KEY_ENV} and {SECRET_ENV} in the environment, was missing", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = AlpacaServer(
        key,
        secret,
        dict(args.price),
        state_path=args.state,
        host=args.host,
        rest_port=args.rest_port,
        stream_port=args.stream_port,
        cash=args.cash,
        binary_frames=not args.text_frames,
    )
    try:
        try:
            server.start()
        except (OSError, ConfigError) as exc:
            print(f"alpaca-server: cannot serve on {args.host}: {exc}", file=sys.stderr)
            return 1
        print(f"alpaca-server rest={server.rest_url} stream={server.stream_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
