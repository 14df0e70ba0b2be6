"""The Alpaca broker: :class:`~scalper.brokers.port.Broker` over Alpaca's trading API (paper or live).

REST goes through alpaca-py's ``TradingClient`` (its request and response models); trade updates come
from Alpaca's ``trade_updates`` websocket, spoken by a small client here (the protocol alpaca-py's
``TradingStream`` speaks: authenticate, listen, JSON messages in text or binary frames; parsed with
alpaca-py's ``TradeUpdate`` model). ``TradingStream`` itself is not used: it runs on the deprecated
``websockets.legacy`` client, reports neither connection state nor authentication failures, and only
notices a stop request between 5-second receive timeouts.

Threads (what the port asks implementations to document):

* **The caller's thread** (the engine's): :meth:`AlpacaBroker.submit`, :meth:`~AlpacaBroker.submit_bracket`
  and :meth:`~AlpacaBroker.cancel` only check and queue the request (a client id this broker already took,
  a cancel of an id it does not know: :class:`~scalper.core.errors.BrokerError`, nothing sent) and return
  at once. :meth:`~AlpacaBroker.drain` delivers the queued updates to the :meth:`~AlpacaBroker.subscribe`\\ d
  listeners **on the thread that calls it**, in the order they were produced. :meth:`~AlpacaBroker.open_orders`,
  :meth:`~AlpacaBroker.positions` and :meth:`~AlpacaBroker.account` are synchronous REST calls (start-up
  reconciliation).
* **One worker thread** sends the queued requests, in order, over REST.
* **One stream thread** (its own asyncio loop) keeps the websocket, reconnecting with bounded exponential
  backoff, and turns trade updates into :class:`~scalper.core.orders.StatusUpdate` / :class:`~scalper.core.orders.Fill`.
* Both background threads queue updates and then call ``wakeup()`` (from their thread): the caller reacts
  by calling :meth:`~AlpacaBroker.drain` on its own thread. ``on_connection(connected, reason)`` is called
  from the background threads too: ``(True, "")`` once the stream listens (and the REST API answers),
  ``(False, reason)`` when the stream drops, its authentication is refused, or a request cannot reach the
  REST API; only changes are reported.

Mapping:

* An :class:`~scalper.core.orders.OrderRequest` becomes a market / limit / stop / stop-limit / trailing-stop
  (``trail_price`` = ``trail_amount``) order with our client id as ``client_order_id``. A
  :class:`~scalper.brokers.port.BracketRequest` becomes ONE ``order_class=bracket`` order: ``take_profit``
  from the target's limit, ``stop_loss`` from the stop's stop (and limit). Alpaca's brackets take no
  trailing-stop leg and only day/gtc entries, and their legs inherit the entry's time in force: other
  brackets are refused synchronously. The legs' Alpaca ids (from the response's ``legs``: stop/stop-limit →
  our stop, limit → our target) are mapped to our client ids; :meth:`~AlpacaBroker.bind_bracket` registers
  that mapping for brackets an earlier process submitted (resolved through ``nested=true`` listings).
* Alpaca's ``new`` / ``accepted`` / ``pending_new`` (and held legs) → ``accepted``, once per order (before
  the first fill at the latest); ``fill`` / ``partial_fill`` → a :class:`~scalper.core.orders.Fill`
  (``fill_id`` = ``execution_id``, the event's ``qty`` and ``price``, ``ts`` = its timestamp in ns;
  commission 0; fees on sells = SEC Section 31 fee + FINRA TAF from the simulator's schedules, so live and
  backtest costs agree) and the status follows from the fills; ``canceled`` → cancelled, ``expired`` →
  expired, ``rejected`` → rejected. Every status update carries Alpaca's order id when known. Updates of
  orders this broker does not know (e.g. manual orders) are ignored and counted
  (:attr:`~AlpacaBroker.unknown_updates`).
* Known orders: those submitted through this instance, the three of a bound bracket, those given to
  :meth:`~AlpacaBroker.bind_order`, and open orders :meth:`~AlpacaBroker.open_orders` found with a client id
  of our format (:func:`scalper.oms.ids.parse_client_order_id`).

Errors and retries:

* An HTTP 4xx answer to an order (403 insufficient buying power, 422 invalid...) → exactly one attempt,
  then ``rejected`` with Alpaca's message (no retry). A 422 ``client_order_id must be unique`` means an
  earlier attempt got through (a re-send after a crash or a lost response): the order is fetched by client
  id and its real state reported instead (accepted, fills missing here, end status).
* A connection error, timeout, 429 or 5xx → up to ``submit_attempts`` attempts with exponential backoff,
  each retry first asking Alpaca for the client id (the id makes the re-send idempotent); then ``rejected``
  ``"not sent: broker unreachable"`` and ``on_connection(False, ...)``. alpaca-py's own 429/504 retry
  (3 × 3 s, blocking) is switched off in favour of this bounded one; every request has a timeout.
* After the stream reconnects, every open order is fetched once and fills or end states missed while
  disconnected are reported (synthetic fill ids ``{alpaca id}:sync:{cumulative qty}``); later duplicates
  of them on the stream are dropped (by execution id and cumulative filled quantity).

Secrets (:class:`~scalper.config.secrets.Secret`) are revealed only into alpaca-py's client headers and the
stream's authentication frame; reprs, logs and error messages never contain them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import queue
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from scalper.brokers.port import BracketRequest, UpdateListener
from scalper.brokers.sim import FINRA_TAF_DEFAULT, SEC_FEE_DEFAULT
from scalper.config.secrets import Secret
from scalper.core.errors import BrokerError, ConfigError, DataError, ScalperError
from scalper.core.orders import (
    BrokerUpdate,
    Fill,
    Leg,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StatusUpdate,
    TimeInForce,
    qty_tolerance,
)
from scalper.core.timeutil import NEW_YORK, NS_PER_S, datetime_to_ns, ns_to_datetime
from scalper.oms.ids import parse_client_order_id

with warnings.catch_warnings():
    # alpaca.trading imports its TradingStream, built on websockets.legacy (deprecated since websockets 14)
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderClass as AlpacaOrderClass
    from alpaca.trading.enums import OrderSide as AlpacaSide
    from alpaca.trading.enums import QueryOrderStatus
    from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
    from alpaca.trading.models import Order as AlpacaOrder
    from alpaca.trading.models import Position as AlpacaPosition
    from alpaca.trading.models import TradeAccount, TradeUpdate
    from alpaca.trading.requests import (
        GetOrderByIdRequest,
        GetOrdersRequest,
        LimitOrderRequest,
        MarketOrderRequest,
        StopLimitOrderRequest,
        StopLossRequest,
        StopOrderRequest,
        TakeProfitRequest,
        TrailingStopOrderRequest,
    )
    from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest

log = logging.getLogger(__name__)

PAPER_REST_URL = "https://paper-api.alpaca.markets"
LIVE_REST_URL = "https://api.alpaca.markets"
PAPER_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
LIVE_STREAM_URL = "wss://api.alpaca.markets/stream"
#: the reason of an order that could not be sent at all
UNREACHABLE_REASON = "not sent: broker unreachable"
#: ``signal_id`` of orders rebuilt from Alpaca's view whose signal this process does not know
UNKNOWN_SIGNAL = "alpaca-unknown"
#: Alpaca's answer to a second order with the same client id
DUPLICATE_MESSAGE = "client_order_id must be unique"
DUPLICATE_CODE = 40010001

_ACCEPT_EVENTS = frozenset({"new", "accepted", "pending_new"})
_OPEN = frozenset(
    {"new", "accepted", "pending_new", "held", "partially_filled", "accepted_for_bidding", "pending_cancel",
     "pending_replace", "calculated", "done_for_day", "stopped", "suspended", "pending_review"}
)  # fmt: skip
_END_EVENTS = {"canceled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED, "rejected": OrderStatus.REJECTED}
_STOP_TYPES = frozenset({"stop", "stop_limit"})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AlpacaSettings:
    """Credentials and endpoints. ``paper=False`` means the live endpoints (whether live trading is allowed
    is the caller's decision). ``rest_url`` (without ``/v2``) and ``stream_url`` override the endpoints,
    e.g. to a local :class:`~scalper.brokers.alpaca_server.AlpacaServer`."""

    key_id: Secret
    secret_key: Secret
    paper: bool = True
    rest_url: str | None = None
    stream_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("key_id", "secret_key"):
            value = getattr(self, name)
            if not isinstance(value, Secret):
                raise ConfigError(f"alpaca {name}: expected a Secret, was a {type(value).__name__} (value not shown)")
            if not value.reveal():
                raise ConfigError(f"alpaca {name}: expected a non-empty secret, was empty")
        for name in ("rest_url", "stream_url"):
            url = getattr(self, name)
            if url is not None and not url:
                raise ConfigError(f"alpaca {name}: expected None or a URL, was ''")

    @property
    def resolved_rest_url(self) -> str:
        return self.rest_url or (PAPER_REST_URL if self.paper else LIVE_REST_URL)

    @property
    def resolved_stream_url(self) -> str:
        return self.stream_url or (PAPER_STREAM_URL if self.paper else LIVE_STREAM_URL)


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account's equity, buying power and cash (dollars) as Alpaca reports them."""

    equity: float
    buying_power: float
    cash: float
    currency: str = "USD"


def parse_timestamp_ns(text: str) -> int:
    """An RFC 3339 timestamp (up to nanoseconds, ``Z`` or an offset) as integer nanoseconds UTC."""
    m = _RFC3339.match(text.strip())
    if m is None:
        raise DataError(f"alpaca timestamp: expected RFC 3339, was {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "").ljust(9, "0")
    zone = m.group(8)
    offset_s = 0
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    try:
        base = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as exc:
        raise DataError(f"alpaca timestamp: expected a valid date and time, was {text!r}") from exc
    return datetime_to_ns(base) + int(frac) - offset_s * NS_PER_S


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d{2}:?\d{2})$"
)


def regulatory_fees(side: Side, price: float, qty: float, ts: int) -> float:
    """SEC Section 31 fee + FINRA TAF of one fill (sells only), with the simulator's schedules."""
    if side is not Side.SELL:
        return 0.0
    day = ns_to_datetime(ts).astimezone(NEW_YORK).date()
    rate, cap = FINRA_TAF_DEFAULT.on(day)
    return price * qty * SEC_FEE_DEFAULT.rate_on(day) + min(qty * rate, cap)


@dataclass(slots=True)
class _Tracked:
    """What this broker knows of one order (keyed by our client id)."""

    cid: str
    request: OrderRequest | None
    broker_id: str | None = None
    parent: str | None = None
    accepted: bool = False
    terminal: bool = False
    filled_qty: float = 0.0
    filled_notional: float = 0.0
    executions: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Submit:
    cids: tuple[str, ...]  # entry first; a bracket's stop, target follow
    request: AlpacaOrderRequest


@dataclass(frozen=True, slots=True)
class _Cancel:
    cid: str


@dataclass(frozen=True, slots=True)
class _Resolve:
    entry_cid: str


@dataclass(frozen=True, slots=True)
class _Resync:
    pass


_Job = _Submit | _Cancel | _Resolve | _Resync


class _Transient(Exception):
    """A request that may succeed if repeated (no connection, timeout, 429, 5xx)."""


class _Rest:
    """alpaca-py's ``TradingClient`` with typed answers, a request timeout and no internal retries.

    Each thread that makes REST calls has its own (requests' sessions are not shared across threads).
    """

    def __init__(self, settings: AlpacaSettings, timeout_s: float) -> None:
        self.url = settings.resolved_rest_url
        self._client = TradingClient(
            api_key=settings.key_id.reveal(),
            secret_key=settings.secret_key.reveal(),
            paper=settings.paper,
            url_override=self.url,
        )
        # alpaca-py retries 429/504 three times, sleeping 3 s each, inside the call: bounded retries are ours
        self._client._retry_codes = []
        session = self._client._session
        original = session.request

        def request(method: str, url: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout_s)
            return original(method, url, **kwargs)

        session.request = request  # type: ignore[method-assign, assignment]

    def close(self) -> None:
        self._client._session.close()

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except APIError as exc:
            status = exc.status_code
            if status is None or status == 429 or status >= 500:
                raise _Transient(f"{what}: HTTP {status}: {api_message(exc)}") from exc
            raise
        except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
            raise _Transient(f"{what}: {type(exc).__name__}") from exc

    def submit(self, request: AlpacaOrderRequest) -> AlpacaOrder:
        return _expect(self._call("submit order", lambda: self._client.submit_order(request)), AlpacaOrder)

    def by_client_id(self, cid: str) -> AlpacaOrder | None:
        try:
            answer = self._call(f"get order {cid}", lambda: self._client.get_order_by_client_id(cid))
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise
        return _expect(answer, AlpacaOrder)

    def by_id(self, order_id: str, *, nested: bool = False) -> AlpacaOrder:
        request = GetOrderByIdRequest(nested=nested)
        return _expect(
            self._call(f"get order {order_id}", lambda: self._client.get_order_by_id(order_id, request)), AlpacaOrder
        )

    def cancel(self, order_id: str) -> None:
        self._call(f"cancel order {order_id}", lambda: self._client.cancel_order_by_id(order_id))

    def open_orders(self) -> list[AlpacaOrder]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True, limit=500)
        answer = self._call("list open orders", lambda: self._client.get_orders(request))
        return [_expect(o, AlpacaOrder) for o in _expect(answer, list)]

    def positions(self) -> list[AlpacaPosition]:
        answer = self._call("list positions", self._client.get_all_positions)
        return [_expect(p, AlpacaPosition) for p in _expect(answer, list)]

    def account(self) -> TradeAccount:
        return _expect(self._call("get account", self._client.get_account), TradeAccount)


def _expect(value: object, kind: type[_T]) -> _T:
    if not isinstance(value, kind):
        raise BrokerError(f"alpaca answer: expected a {kind.__name__}, was {type(value).__name__}")
    return value


def api_message(exc: APIError) -> str:
    """Alpaca's error message of ``exc`` (its JSON ``message``, else the raw text, shortened)."""
    try:
        message = exc.message
    except (ValueError, KeyError, TypeError):
        message = str(exc)
    return str(message)[:500]


def _is_duplicate(exc: APIError) -> bool:
    if exc.status_code != 422:
        return False
    try:
        code = exc.code
    except (ValueError, KeyError, TypeError):
        code = None
    return code == DUPLICATE_CODE or DUPLICATE_MESSAGE in api_message(exc)


def _float(value: object, default: float = 0.0) -> float:
    if value is None or value == "":
        return default
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) else default


def _enum_value(value: object) -> str:
    return str(getattr(value, "value", value) or "")


def _dt_ns(value: dt.datetime | None, default: int) -> int:
    if value is None:
        return default
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return datetime_to_ns(value)


class AlpacaBroker:
    """:class:`~scalper.brokers.port.Broker` on Alpaca (see the module docstring for threads and mapping).

    ``wakeup`` is called (from a background thread) whenever updates were queued: call :meth:`drain` on
    your thread then. ``on_connection(connected, reason)`` reports the connection state (from a background
    thread). ``http_timeout_s``: timeout of each REST request; ``submit_attempts`` / ``retry_backoff_s``:
    the bounded retries of a request that got no answer; ``reconnect_min_s`` / ``reconnect_max_s``: the
    stream's reconnection backoff; ``now_ns``: the clock stamping updates that carry no broker time
    (rejections of requests that never reached Alpaca). Usable as a context manager (connect/close).
    """

    supports_replace = False

    def __init__(
        self,
        settings: AlpacaSettings,
        *,
        wakeup: Callable[[], None] | None = None,
        on_connection: Callable[[bool, str], None] | None = None,
        http_timeout_s: float = 10.0,
        submit_attempts: int = 3,
        retry_backoff_s: float = 0.5,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(settings, AlpacaSettings):
            raise ConfigError(f"alpaca settings: expected AlpacaSettings, was {type(settings).__name__}")
        for name, value in (
            ("http_timeout_s", http_timeout_s),
            ("retry_backoff_s", retry_backoff_s),
            ("reconnect_min_s", reconnect_min_s),
            ("reconnect_max_s", reconnect_max_s),
        ):
            if not (math.isfinite(value) and value > 0.0):
                raise ConfigError(f"alpaca {name}: expected a number > 0 (seconds), was {value!r}")
        if not 1 <= submit_attempts <= 10:
            raise ConfigError(f"alpaca submit_attempts: expected 1..10, was {submit_attempts!r}")
        if reconnect_max_s < reconnect_min_s:
            raise ConfigError(
                f"alpaca reconnect_max_s: expected >= reconnect_min_s {reconnect_min_s}, was {reconnect_max_s}"
            )
        self._settings = settings
        self._wakeup = wakeup
        self._on_connection = on_connection
        self._timeout = http_timeout_s
        self._attempts = submit_attempts
        self._backoff = retry_backoff_s
        self._reconnect_min = reconnect_min_s
        self._reconnect_max = reconnect_max_s
        self._now = now_ns
        self._lock = threading.RLock()
        self._listeners: list[UpdateListener] = []
        self._updates: queue.SimpleQueue[BrokerUpdate] = queue.SimpleQueue()
        self._orders: dict[str, _Tracked] = {}
        self._by_broker_id: dict[str, str] = {}
        self._bound: dict[str, tuple[str, str]] = {}
        self._parked: list[dict[str, Any]] = []
        self._inflight = 0  # queued jobs that may map new Alpaca ids (brackets, bound-leg look-ups)
        self._unknown = 0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._started = False
        self._closed = False
        self._worker: threading.Thread | None = None
        self._stream_thread: threading.Thread | None = None
        self._stream_loop: asyncio.AbstractEventLoop | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._listening = threading.Event()
        self._auth_refused = threading.Event()
        self._stream_reason = "not connected yet"
        self._stream_ok = False
        self._rest_ok = True
        self._reported: bool | None = None
        self._sync_rest: _Rest | None = None
        self._resync_at_connect = False

    def __repr__(self) -> str:
        s = self._settings
        return f"AlpacaBroker(rest={s.resolved_rest_url}, stream={s.resolved_stream_url}, paper={s.paper})"

    __str__ = __repr__

    # --- lifecycle -----------------------------------------------------------------------------------

    def connect(self, timeout_s: float = 10.0) -> None:
        """Check the REST API (the account), start the worker and stream threads and wait until the stream
        listens. Raises ``BrokerError`` naming the URL when credentials are refused or nothing listens
        within ``timeout_s`` (everything is stopped again then)."""
        if self._started:
            raise BrokerError(f"{self!r} connect: expected a broker not yet connected, was connected")
        if self._closed:
            raise BrokerError(f"{self!r} connect: expected an open broker, was closed")
        rest_url, stream_url = self._settings.resolved_rest_url, self._settings.resolved_stream_url
        try:
            self.account()
        except BrokerError:
            self._close_sync_rest()
            raise
        self._started = True
        self._worker = threading.Thread(target=self._work, name="alpaca-broker-worker", daemon=True)
        self._worker.start()
        self._stream_thread = threading.Thread(target=self._run_stream, name="alpaca-broker-stream", daemon=True)
        self._stream_thread.start()
        with self._lock:
            for entry in self._bound:
                self._queue_resolve(entry)
            if self._resync_at_connect:
                self._jobs.put(_Resync())
        deadline = time.monotonic() + timeout_s
        while not self._listening.is_set():
            if self._auth_refused.is_set():
                self.close()
                raise BrokerError(f"alpaca stream {stream_url}: authentication refused (check the API key and secret)")
            left = deadline - time.monotonic()
            if left <= 0.0:
                reason = self._stream_reason
                self.close()
                raise BrokerError(f"alpaca stream {stream_url}: not listening after {timeout_s} s ({reason})")
            self._listening.wait(min(left, 0.05))
        log.info("alpaca broker connected: rest=%s stream=%s", rest_url, stream_url)

    def close(self) -> None:
        """Stop the stream and the worker (queued requests not yet sent are dropped) and join them."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        loop, task = self._stream_loop, self._stream_task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(task.cancel)
        if self._stream_thread is not None:
            self._stream_thread.join(10.0)
            if self._stream_thread.is_alive():
                log.warning("alpaca broker: the stream thread did not stop within 10 s")
        self._jobs.put(None)
        if self._worker is not None:
            self._worker.join(10.0 + self._timeout)
            if self._worker.is_alive():
                log.warning("alpaca broker: the worker thread did not stop in time")
        self._close_sync_rest()

    def __enter__(self) -> AlpacaBroker:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether the stream listens and the REST API answered the last request."""
        with self._lock:
            return self._stream_ok and self._rest_ok

    @property
    def unknown_updates(self) -> int:
        """Trade updates ignored because their order is not known to this broker."""
        with self._lock:
            return self._unknown

    # --- the port ------------------------------------------------------------------------------------

    def subscribe(self, listener: UpdateListener) -> None:
        self._listeners.append(listener)

    def drain(self) -> int:
        """Deliver the queued updates to the listeners on the calling thread, in order; returns how many."""
        n = 0
        while True:
            try:
                update = self._updates.get_nowait()
            except queue.Empty:
                return n
            n += 1
            for listener in self._listeners:
                listener(update)

    def submit(self, request: OrderRequest) -> None:
        """Queue ``request`` for the worker; ``accepted``/``rejected`` and fills arrive as updates."""
        alpaca_request = _order_request(request)
        with self._lock:
            self._check_open()
            self._check_new(request.client_order_id)
            self._orders[request.client_order_id] = _Tracked(request.client_order_id, request)
            self._jobs.put(_Submit((request.client_order_id,), alpaca_request))

    def submit_bracket(self, bracket: BracketRequest) -> None:
        """Queue the bracket as one Alpaca bracket order (stop and target are its legs)."""
        alpaca_request = _bracket_request(bracket)
        entry = bracket.entry.client_order_id
        with self._lock:
            self._check_open()
            for leg in bracket.legs:
                self._check_new(leg.client_order_id)
            self._orders[entry] = _Tracked(entry, bracket.entry)
            for leg in (bracket.stop, bracket.target):
                self._orders[leg.client_order_id] = _Tracked(leg.client_order_id, leg, parent=entry)
            self._bound[entry] = (bracket.stop.client_order_id, bracket.target.client_order_id)
            self._inflight += 1
            cids = (entry, bracket.stop.client_order_id, bracket.target.client_order_id)
            self._jobs.put(_Submit(cids, alpaca_request))

    def cancel(self, client_order_id: str) -> None:
        """Queue a cancel; ``cancelled`` arrives as an update unless the order fills (or ended) first."""
        with self._lock:
            self._check_open()
            if client_order_id not in self._orders:
                raise BrokerError(f"order {client_order_id}: unknown client order id")
            self._jobs.put(_Cancel(client_order_id))

    def replace(self, client_order_id: str, request: OrderRequest) -> None:
        """Not supported (``supports_replace`` is False): cancel and submit a new order instead."""
        raise BrokerError(
            f"replace {client_order_id} by {request.client_order_id}: not supported by the Alpaca broker; "
            "cancel and submit a new order"
        )

    def bind_bracket(self, entry_cid: str, stop_cid: str, target_cid: str) -> None:
        """Register a bracket submitted by an earlier process: Alpaca's legs of ``entry_cid`` are our
        ``stop_cid`` (its stop or stop-limit leg) and ``target_cid`` (its limit leg). Looked up at once when
        connected (else at :meth:`connect`) and by :meth:`open_orders`."""
        ids = {entry_cid, stop_cid, target_cid}
        if len(ids) != 3 or "" in ids:
            raise BrokerError(f"bind bracket {entry_cid}: expected three distinct client ids, was {sorted(ids)}")
        with self._lock:
            known = self._bound.get(entry_cid)
            if known is not None and known != (stop_cid, target_cid):
                raise BrokerError(f"bind bracket {entry_cid}: expected legs {known}, was {(stop_cid, target_cid)}")
            self._bound[entry_cid] = (stop_cid, target_cid)
            self._track(entry_cid)
            self._track(stop_cid, parent=entry_cid)
            self._track(target_cid, parent=entry_cid)
            if self._started and not self._closed:
                self._queue_resolve(entry_cid)

    def adopt(self, orders: Iterable[Order], fills: Iterable[Fill]) -> int:
        """Take over the orders of an earlier process (a restart) as its stored book has them: each
        order with its request, Alpaca id, acceptance, end and filled quantity (from ``fills``, whose
        execution ids are then known), brackets bound (:meth:`bind_bracket`). Once connected, the
        brackets' legs are looked up and every open order is brought up to Alpaca's state: fills and
        ends missed while no process listened are reported as updates. Returns the orders adopted."""
        done: dict[str, list[Fill]] = {}
        for fill in fills:
            done.setdefault(fill.client_order_id, []).append(fill)
        adopted = list(orders)
        children: dict[str, dict[Leg, str]] = {}
        with self._lock:
            for order in adopted:
                r = order.request
                t = self._track(r.client_order_id, parent=r.parent_id)
                t.request = r
                if order.broker_order_id is not None and t.broker_id is None:
                    self._map(t, order.broker_order_id)
                t.accepted = order.status is not OrderStatus.NEW
                t.terminal = not order.is_open
                mine = done.get(r.client_order_id, [])
                t.filled_qty = sum(f.qty for f in mine)
                t.filled_notional = sum(f.qty * f.price for f in mine)
                t.executions.update(f.fill_id for f in mine)
                if r.parent_id is not None:
                    children.setdefault(r.parent_id, {})[r.leg] = r.client_order_id
            for entry, legs in children.items():
                if Leg.STOP in legs and Leg.TARGET in legs:
                    self._bound[entry] = (legs[Leg.STOP], legs[Leg.TARGET])
                    if self._started and not self._closed:
                        self._queue_resolve(entry)
            if self._started and not self._closed:
                self._jobs.put(_Resync())
            else:
                self._resync_at_connect = True
        return len(adopted)

    def bind_order(self, client_order_id: str) -> None:
        """Register an order submitted by an earlier process (its Alpaca client id is ``client_order_id``)."""
        if not client_order_id:
            raise BrokerError("bind order: expected a client order id, was ''")
        with self._lock:
            self._track(client_order_id)

    def open_orders(self) -> list[Order]:
        """Alpaca's open orders (synchronous REST, ``nested=true``), oldest first: ours under our client ids
        (bracket legs resolved through :meth:`bind_bracket`), the others under Alpaca's client id."""
        snapshots = self._rest_sync("list open orders", lambda rest: rest.open_orders())
        flat: list[tuple[AlpacaOrder, AlpacaOrder | None]] = []
        seen: set[str] = set()
        for o in snapshots:
            for item, parent in [(o, None), *((leg, o) for leg in o.legs or [])]:
                if str(item.id) not in seen:
                    seen.add(str(item.id))
                    flat.append((item, parent))
        flat.sort(key=lambda pair: _dt_ns(pair[0].submitted_at or pair[0].created_at, 0))
        result: list[Order] = []
        with self._lock:
            for o, parent in flat:
                if _enum_value(o.status) not in _OPEN:
                    continue
                cid = self._resolve_snapshot(o, parent)
                order = self._order_of(cid or o.client_order_id, o)
                if order is not None:
                    result.append(order)
        return result

    def positions(self) -> dict[str, Position]:
        """Alpaca's net positions (synchronous REST); symbols this broker traded and Alpaca has none of are
        included flat. ``realised_pnl`` and ``costs`` are not reported by Alpaca (0)."""
        snapshots = self._rest_sync("list positions", lambda rest: rest.positions())
        result: dict[str, Position] = {}
        for p in snapshots:
            qty = abs(_float(p.qty)) * (-1.0 if _enum_value(p.side) == "short" else 1.0)
            avg = _float(p.avg_entry_price) if qty != 0.0 else 0.0
            if qty != 0.0 and avg <= 0.0:
                raise BrokerError(
                    f"alpaca position {p.symbol} avg_entry_price: expected > 0, was {p.avg_entry_price!r}"
                )
            result[p.symbol] = Position(symbol=p.symbol, qty=qty, avg_price=avg)
        with self._lock:
            for t in self._orders.values():
                if t.request is not None and t.request.symbol not in result:
                    result[t.request.symbol] = Position(symbol=t.request.symbol)
        return result

    def account(self) -> AccountSnapshot:
        """Equity, buying power and cash (synchronous REST)."""
        a = self._rest_sync("get account", lambda rest: rest.account())
        return AccountSnapshot(
            equity=_float(a.equity),
            buying_power=_float(a.buying_power),
            cash=_float(a.cash),
            currency=a.currency or "USD",
        )

    # --- synchronous checks --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError(f"{self!r}: expected an open broker, was closed")

    def _check_new(self, cid: str) -> None:
        if cid in self._orders:
            raise BrokerError(f"order {cid}: client order id already used")

    def _track(self, cid: str, parent: str | None = None) -> _Tracked:
        t = self._orders.get(cid)
        if t is None:
            t = self._orders[cid] = _Tracked(cid, None, parent=parent)
        return t

    def _queue_resolve(self, entry_cid: str) -> None:
        self._inflight += 1
        self._jobs.put(_Resolve(entry_cid))

    def _rest_sync(self, what: str, fn: Callable[[_Rest], _T]) -> _T:
        """A REST call on the caller's thread, its errors as ``BrokerError`` naming the URL."""
        url = self._settings.resolved_rest_url
        with self._lock:
            if self._sync_rest is None:
                self._sync_rest = _Rest(self._settings, self._timeout)
            rest = self._sync_rest
        try:
            return fn(rest)
        except _Transient as exc:
            raise BrokerError(f"alpaca REST {url}: {exc}") from None
        except APIError as exc:
            status = exc.status_code
            if status in (401, 403):
                raise BrokerError(
                    f"alpaca REST {url}: {what}: credentials refused (HTTP {status}: {api_message(exc)})"
                ) from None
            raise BrokerError(f"alpaca REST {url}: {what}: HTTP {status}: {api_message(exc)}") from None

    def _close_sync_rest(self) -> None:
        with self._lock:
            rest, self._sync_rest = self._sync_rest, None
        if rest is not None:
            rest.close()

    # --- updates (callers hold the lock) ---------------------------------------------------------------

    def _emit(self, update: BrokerUpdate) -> None:
        self._updates.put(update)

    def _notify(self) -> None:
        if self._wakeup is not None:
            try:
                self._wakeup()
            except Exception:
                log.exception("alpaca broker: the wakeup callback failed")

    def _status(self, t: _Tracked, status: OrderStatus, ts: int, reason: str | None = None) -> None:
        self._emit(
            StatusUpdate(
                client_order_id=t.cid, status=status, ts=max(ts, 0), broker_order_id=t.broker_id, reason=reason
            )
        )

    def _accept(self, t: _Tracked, ts: int) -> None:
        if not t.accepted and not t.terminal:
            t.accepted = True
            self._status(t, OrderStatus.ACCEPTED, ts)

    def _end(self, t: _Tracked, status: OrderStatus, ts: int, reason: str | None) -> None:
        if t.terminal:
            return
        t.terminal = True
        self._status(t, status, ts, reason)

    def _fill(self, t: _Tracked, fill_id: str, symbol: str, side: Side, qty: float, price: float, ts: int) -> None:
        if t.terminal:
            log.warning("alpaca broker: fill %s of ended order %s ignored", fill_id, t.cid)
            return
        if t.request is not None:
            qty = min(qty, t.request.qty - t.filled_qty)
            if qty <= qty_tolerance(t.request.qty):
                log.warning("alpaca broker: fill %s would overfill %s; ignored", fill_id, t.cid)
                return
        self._accept(t, ts)
        fill = Fill(
            fill_id=fill_id,
            client_order_id=t.cid,
            ts=max(ts, 0),
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            commission=0.0,
            fees=regulatory_fees(side, price, qty, ts),
        )
        t.filled_qty += qty
        t.filled_notional += qty * price
        if t.request is not None and t.request.qty - t.filled_qty <= qty_tolerance(t.request.qty):
            t.terminal = True
        self._emit(fill)

    def _sync(self, t: _Tracked, o: AlpacaOrder) -> None:
        """Bring ``t`` up to Alpaca's snapshot ``o``: acceptance, missing fills, end status."""
        status = _enum_value(o.status)
        ts = _dt_ns(o.updated_at, self._now())
        if t.broker_id is None:
            self._map(t, str(o.id))
        if status == "rejected":
            self._end(t, OrderStatus.REJECTED, ts, "rejected by the broker")
            return
        self._accept(t, ts)
        cum = _float(o.filled_qty)
        tolerance = qty_tolerance(max(cum, t.filled_qty))
        if cum > t.filled_qty + tolerance:
            delta = cum - t.filled_qty
            avg = _float(o.filled_avg_price)
            price = (avg * cum - t.filled_notional) / delta
            if not (math.isfinite(price) and price > 0.0):
                price = avg
            if price > 0.0 and o.symbol and o.side is not None:
                self._fill(t, f"{o.id}:sync:{cum:g}", o.symbol, Side(_enum_value(o.side)), delta, price, ts)
        if status in ("canceled", "expired", "replaced"):
            end = OrderStatus.EXPIRED if status == "expired" else OrderStatus.CANCELLED
            self._end(t, end, ts, f"{status} at the broker")
        elif status == "filled":
            t.terminal = True

    def _map(self, t: _Tracked, broker_id: str) -> None:
        t.broker_id = broker_id
        self._by_broker_id[broker_id] = t.cid

    def _map_legs(self, entry_cid: str, parent: AlpacaOrder) -> list[tuple[_Tracked, AlpacaOrder]]:
        bound = self._bound.get(entry_cid)
        if bound is None:
            return []
        stop_cid, target_cid = bound
        mapped = []
        for leg in parent.legs or []:
            kind = _enum_value(leg.type or leg.order_type)
            cid = stop_cid if kind in _STOP_TYPES else target_cid if kind == "limit" else None
            if cid is None:
                log.warning("alpaca broker: leg %s of %s has type %s; not mapped", leg.id, entry_cid, kind)
                continue
            t = self._track(cid, parent=entry_cid)
            if t.broker_id is None:
                self._map(t, str(leg.id))
            mapped.append((t, leg))
        return mapped

    def _resolve_snapshot(self, o: AlpacaOrder, parent: AlpacaOrder | None) -> str | None:
        cid = self._by_broker_id.get(str(o.id))
        if cid is not None:
            return cid
        t = self._orders.get(o.client_order_id)
        if t is not None:
            if t.broker_id is None:
                self._map(t, str(o.id))
            if o.client_order_id in self._bound:
                self._map_legs(o.client_order_id, o)
            return t.cid
        if parent is not None:
            parent_cid = self._by_broker_id.get(str(parent.id)) or parent.client_order_id
            if parent_cid in self._bound:
                self._track(parent_cid)
                self._map_legs(parent_cid, parent)
                return self._by_broker_id.get(str(o.id))
            return None
        if parse_client_order_id(o.client_order_id) is not None:
            self._map(self._track(o.client_order_id), str(o.id))
            return o.client_order_id
        return None

    def _order_of(self, cid: str, o: AlpacaOrder) -> Order | None:
        """Our :class:`Order` for Alpaca's snapshot ``o`` (known request, else rebuilt from ``o``)."""
        t = self._orders.get(cid)
        request = t.request if t is not None else None
        created = _dt_ns(o.created_at, 0)
        if request is None:
            request = _rebuild_request(cid, o, created, self._role(cid))
            if request is None:
                return None
        filled = min(_float(o.filled_qty), request.qty)
        avg = _float(o.filled_avg_price) if filled > 0.0 else None
        if filled > 0.0 and (avg is None or avg <= 0.0):
            filled, avg = 0.0, None
        complete = request.qty - filled <= qty_tolerance(request.qty)
        status = OrderStatus.PARTIALLY_FILLED if filled > 0.0 and not complete else OrderStatus.ACCEPTED
        if complete:
            status = OrderStatus.FILLED
        try:
            return Order(
                request=request,
                status=status,
                ts_updated=max(_dt_ns(o.updated_at, request.ts_created), request.ts_created),
                filled_qty=filled,
                avg_fill_price=avg,
                broker_order_id=str(o.id),
            )
        except ScalperError as exc:
            log.warning("alpaca broker: open order %s cannot be represented: %s", cid, exc)
            return None

    def _role(self, cid: str) -> Leg | None:
        for entry, (stop, target) in self._bound.items():
            if cid == entry:
                return Leg.ENTRY
            if cid == stop:
                return Leg.STOP
            if cid == target:
                return Leg.TARGET
        return None

    # --- the stream's trade updates --------------------------------------------------------------------

    def _on_trade_update(self, data: dict[str, Any]) -> None:
        with self._lock:
            before = self._updates.qsize()
            self._handle_trade_update(data, replay=False)
            emitted = self._updates.qsize() != before
        if emitted:
            self._notify()

    def _handle_trade_update(self, data: dict[str, Any], *, replay: bool) -> None:
        try:
            update = TradeUpdate(**data)
        except ValueError as exc:
            log.warning("alpaca broker: malformed trade update ignored: %s", exc)
            return
        o = update.order
        t = self._orders.get(self._by_broker_id.get(str(o.id), ""))
        if t is None:
            known = self._orders.get(o.client_order_id)
            if known is not None and known.parent is None:
                t = known
                if t.broker_id is None:
                    self._map(t, str(o.id))
        if t is None:
            if self._inflight > 0 and not replay:
                self._parked.append(data)  # a bracket's legs whose ids are not mapped yet
            else:
                self._unknown += 1
                log.debug("alpaca broker: update %s of unknown order %s ignored", update.event, o.id)
            return
        event = _enum_value(update.event)
        raw_ts = data.get("timestamp")
        ts = parse_timestamp_ns(raw_ts) if isinstance(raw_ts, str) else _dt_ns(update.timestamp, self._now())
        if event in _ACCEPT_EVENTS:
            self._accept(t, ts)
        elif event in ("fill", "partial_fill"):
            self._on_fill_event(t, data, update, ts)
        elif event in _END_EVENTS:
            if event == "rejected":
                self._end(t, OrderStatus.REJECTED, ts, str(data.get("reason") or "rejected by the broker"))
            else:
                self._end(t, _END_EVENTS[event], ts, f"{event} by the broker")
        else:
            log.debug("alpaca broker: %s event of %s ignored", event, t.cid)

    def _on_fill_event(self, t: _Tracked, data: Mapping[str, Any], update: TradeUpdate, ts: int) -> None:
        o = update.order
        execution = str(data.get("execution_id") or f"{o.id}:{_float(o.filled_qty):g}")
        if execution in t.executions:
            return
        t.executions.add(execution)
        qty, price = _float(update.qty), _float(update.price)
        cum = _float(o.filled_qty)
        if cum > 0.0:
            qty = min(qty, cum - t.filled_qty)  # what a snapshot sync already reported is not repeated
        if price <= 0.0 or not o.symbol or o.side is None:
            log.warning("alpaca broker: fill %s of %s without price, symbol or side ignored", execution, t.cid)
            return
        if qty <= qty_tolerance(max(cum, 1.0)):
            log.debug("alpaca broker: fill %s of %s already reported", execution, t.cid)
            return
        self._fill(t, execution, o.symbol, Side(_enum_value(o.side)), qty, price, ts)

    def _replay_parked(self) -> None:
        parked, self._parked = self._parked, []
        for data in parked:  # while another mapping is pending, what is still unresolved is parked again
            self._handle_trade_update(data, replay=self._inflight == 0)

    # --- connection state ---------------------------------------------------------------------------------

    def _set_connection(self, *, stream: bool | None = None, rest: bool | None = None, reason: str = "") -> None:
        with self._lock:
            if stream is not None:
                self._stream_ok = stream
            if rest is not None:
                self._rest_ok = rest
            ok = self._stream_ok and self._rest_ok
            changed = ok is not self._reported and (ok or bool(reason))
            if changed:
                self._reported = ok
        if changed and self._on_connection is not None and not (self._closing.is_set() and ok):
            try:
                self._on_connection(ok, "" if ok else reason)
            except Exception:
                log.exception("alpaca broker: the on_connection callback failed")

    # --- the worker ---------------------------------------------------------------------------------------

    def _work(self) -> None:
        rest = _Rest(self._settings, self._timeout)
        try:
            while True:
                job = self._jobs.get()
                if job is None or self._closing.is_set():
                    if job is not None:
                        log.warning("alpaca broker: closing; %s not sent", job)
                    if job is None:
                        return
                    continue
                try:
                    self._run_job(rest, job)
                except Exception:
                    log.exception("alpaca broker: %s failed", job)
        finally:
            rest.close()

    def _run_job(self, rest: _Rest, job: _Job) -> None:
        if isinstance(job, _Submit):
            self._job_submit(rest, job)
        elif isinstance(job, _Cancel):
            self._job_cancel(rest, job.cid)
        elif isinstance(job, _Resolve):
            try:
                self._job_resolve(rest, job.entry_cid)
            finally:
                with self._lock:
                    self._inflight -= 1
                    self._replay_parked()
                self._notify()
        else:
            self._job_resync(rest)

    def _sleep(self, attempt: int) -> bool:
        """Back off before retry ``attempt`` (1, 2, ...); False when closing."""
        return not self._closing.wait(self._backoff * 2 ** (attempt - 1))

    def _job_submit(self, rest: _Rest, job: _Submit) -> None:
        entry = job.cids[0]
        bracket = len(job.cids) > 1
        result: AlpacaOrder | str
        try:
            result = self._send(rest, entry, job.request)
            if isinstance(result, AlpacaOrder) and bracket and not result.legs:
                result = rest.by_id(str(result.id), nested=True)
        except _Transient as exc:
            log.warning("alpaca broker: %s", exc)
            result = UNREACHABLE_REASON
        except (APIError, BrokerError) as exc:
            result = api_message(exc) if isinstance(exc, APIError) else str(exc)
        with self._lock:
            try:
                if isinstance(result, AlpacaOrder):
                    t = self._orders[entry]
                    self._map(t, str(result.id))
                    legs = self._map_legs(entry, result) if bracket else []
                    self._sync(t, result)
                    for leg, snapshot in legs:
                        self._sync(leg, snapshot)
                else:
                    ts = self._now()
                    for cid in job.cids:
                        self._end(self._orders[cid], OrderStatus.REJECTED, ts, result)
            finally:
                if bracket:
                    self._inflight -= 1
                    self._replay_parked()
        self._notify()

    def _send(self, rest: _Rest, cid: str, request: AlpacaOrderRequest) -> AlpacaOrder | str:
        """POST ``request`` once, or again after no answer (bounded); an order, or a rejection reason."""
        last = ""
        for attempt in range(self._attempts):
            try:
                if attempt > 0:
                    if not self._sleep(attempt):
                        return "not sent: broker closed"
                    found = rest.by_client_id(cid)
                    if found is not None:
                        self._set_connection(rest=True)
                        return found
                order = rest.submit(request)
                self._set_connection(rest=True)
                return order
            except _Transient as exc:
                last = str(exc)
                log.warning("alpaca broker: order %s attempt %d: %s", cid, attempt + 1, last)
            except APIError as exc:
                self._set_connection(rest=True)
                if _is_duplicate(exc):
                    try:
                        found = rest.by_client_id(cid)
                    except _Transient as transient:
                        last = str(transient)
                        continue
                    if found is not None:
                        log.info("alpaca broker: order %s was already at the broker; reporting its state", cid)
                        return found
                return api_message(exc) or f"HTTP {exc.status_code}"
        self._set_connection(rest=False, reason=f"alpaca REST {rest.url} unreachable: {last}")
        return UNREACHABLE_REASON

    def _job_cancel(self, rest: _Rest, cid: str) -> None:
        with self._lock:
            t = self._orders[cid]
            if t.terminal:
                return
            broker_id, parent = t.broker_id, t.parent
        if broker_id is None:
            try:
                if parent is not None:
                    self._job_resolve(rest, parent)
                else:
                    found = rest.by_client_id(cid)
                    if found is not None:
                        with self._lock:
                            self._map(t, str(found.id))
            except (_Transient, APIError) as exc:
                log.warning("alpaca broker: cancel %s: cannot look the order up: %s", cid, exc)
            with self._lock:
                broker_id = t.broker_id
            if broker_id is None:
                log.warning("alpaca broker: cancel %s: the broker does not know the order; nothing sent", cid)
                return
        last = ""
        for attempt in range(self._attempts):
            if attempt > 0 and not self._sleep(attempt):
                return
            try:
                rest.cancel(broker_id)
                self._set_connection(rest=True)
                return
            except _Transient as exc:
                last = str(exc)
            except APIError as exc:
                self._set_connection(rest=True)
                # 422: already filled / cancelled / expired (the stream reports what happened); 404: gone
                log.info("alpaca broker: cancel %s: HTTP %s: %s", cid, exc.status_code, api_message(exc))
                return
        log.error("alpaca broker: cancel %s not sent: %s", cid, last)
        self._set_connection(rest=False, reason=f"alpaca REST {rest.url} unreachable: {last}")

    def _job_resolve(self, rest: _Rest, entry_cid: str) -> None:
        found = rest.by_client_id(entry_cid)
        if found is None:
            log.warning("alpaca broker: bound bracket %s is not known to the broker", entry_cid)
            return
        if not found.legs:
            found = rest.by_id(str(found.id), nested=True)
        with self._lock:
            t = self._track(entry_cid)
            if t.broker_id is None:
                self._map(t, str(found.id))
            self._map_legs(entry_cid, found)

    def _job_resync(self, rest: _Rest) -> None:
        with self._lock:
            pending = [(t, t.broker_id) for t in self._orders.values() if not t.terminal and t.broker_id is not None]
        for t, broker_id in pending:
            if self._closing.is_set():
                return
            assert broker_id is not None
            try:
                snapshot = rest.by_id(broker_id)
            except (_Transient, APIError) as exc:
                log.warning("alpaca broker: resync of %s failed: %s", t.cid, exc)
                continue
            with self._lock:
                self._sync(t, snapshot)
            self._notify()

    # --- the stream ---------------------------------------------------------------------------------------

    def _run_stream(self) -> None:
        try:
            asyncio.run(self._stream_main())
        except Exception:
            log.exception("alpaca broker: the stream thread failed")

    async def _stream_main(self) -> None:
        self._stream_loop = asyncio.get_running_loop()
        self._stream_task = asyncio.current_task()
        url = self._settings.resolved_stream_url
        failures = 0
        first = True
        try:
            while not self._closing.is_set():
                reason, listened = await self._stream_session(url, resync=not first)
                if listened:
                    first, failures = False, 0
                if self._closing.is_set():
                    return
                self._listening.clear()
                self._stream_reason = reason
                self._set_connection(stream=False, reason=reason)
                if self._auth_refused.is_set():
                    log.error("alpaca broker: %s; not reconnecting", reason)
                    return
                failures += 1
                delay = min(self._reconnect_max, self._reconnect_min * 2 ** min(failures - 1, 30))
                log.warning("alpaca broker: %s; reconnecting in %.2f s", reason, delay)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return

    async def _stream_session(self, url: str, *, resync: bool) -> tuple[str, bool]:
        """One connection: authenticate, listen, consume. Returns (why it ended, whether it listened)."""
        listened = False
        try:
            async with ws_connect(
                url, open_timeout=self._timeout, close_timeout=1.0, ping_interval=10.0, ping_timeout=20.0
            ) as ws:
                auth = {
                    "action": "authenticate",
                    "data": {
                        "key_id": self._settings.key_id.reveal(),
                        "secret_key": self._settings.secret_key.reveal(),
                    },
                }
                await ws.send(json.dumps(auth))
                reply = _first_message(await asyncio.wait_for(ws.recv(), self._timeout))
                status = (reply.get("data") or {}).get("status") if reply.get("stream") == "authorization" else None
                if status != "authorized":
                    self._auth_refused.set()
                    return f"alpaca stream {url}: authentication refused ({status or 'no answer'})", False
                await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
                while True:
                    message = _first_message(await asyncio.wait_for(ws.recv(), self._timeout))
                    if message.get("stream") == "listening":
                        break
                    self._on_message(message)
                streams = (message.get("data") or {}).get("streams") or []
                if "trade_updates" not in streams:
                    return f"alpaca stream {url}: trade_updates not granted (listening to {streams})", False
                listened = True
                self._stream_reason = ""
                self._listening.set()
                self._set_connection(stream=True)
                if resync:
                    self._jobs.put(_Resync())
                async for raw in ws:
                    for message in _messages(raw):
                        self._on_message(message)
                return f"alpaca stream {url}: closed by the broker", listened
        except ConnectionClosed as exc:
            return f"alpaca stream {url}: connection lost ({exc})", listened
        except (OSError, TimeoutError, WebSocketException) as exc:
            return f"alpaca stream {url}: unreachable ({type(exc).__name__}: {exc})", listened
        except ValueError as exc:
            return f"alpaca stream {url}: unreadable message ({exc})", listened

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("stream") != "trade_updates":
            log.debug("alpaca broker: stream message %s ignored", message.get("stream"))
            return
        data = message.get("data")
        if not isinstance(data, dict):
            log.warning("alpaca broker: trade update without data ignored")
            return
        try:
            self._on_trade_update(data)
        except Exception:
            log.exception("alpaca broker: trade update not applied")


def _messages(raw: str | bytes) -> list[dict[str, Any]]:
    decoded = json.loads(raw)
    items = decoded if isinstance(decoded, list) else [decoded]
    return [m for m in items if isinstance(m, dict)]


def _first_message(raw: str | bytes) -> dict[str, Any]:
    messages = _messages(raw)
    return messages[0] if messages else {}


# --- requests -------------------------------------------------------------------------------------------


def _common(request: OrderRequest) -> dict[str, Any]:
    return {
        "symbol": request.symbol,
        "qty": request.qty,
        "side": AlpacaSide(request.side.value),
        "time_in_force": AlpacaTimeInForce(request.time_in_force.value),
        "client_order_id": request.client_order_id,
    }


def _typed(request: OrderRequest, fields: dict[str, Any]) -> AlpacaOrderRequest:
    kind = request.order_type
    try:
        if kind is OrderType.MARKET:
            return MarketOrderRequest(**fields)
        if kind is OrderType.LIMIT:
            return LimitOrderRequest(limit_price=request.limit_price, **fields)
        if kind is OrderType.STOP:
            return StopOrderRequest(stop_price=request.stop_price, **fields)
        if kind is OrderType.STOP_LIMIT:
            return StopLimitOrderRequest(stop_price=request.stop_price, limit_price=request.limit_price, **fields)
        return TrailingStopOrderRequest(trail_price=request.trail_amount, **fields)
    except ValueError as exc:
        raise BrokerError(f"order {request.client_order_id}: not expressible as an Alpaca order: {exc}") from None


def _order_request(request: OrderRequest) -> AlpacaOrderRequest:
    return _typed(request, _common(request))


def _bracket_request(bracket: BracketRequest) -> AlpacaOrderRequest:
    entry, stop, target = bracket.legs
    cid = entry.client_order_id
    if entry.time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
        raise BrokerError(
            f"bracket {cid} time_in_force: expected day or gtc for an Alpaca bracket, was {entry.time_in_force}"
        )
    if entry.order_type is OrderType.TRAILING_STOP:
        raise BrokerError(
            f"bracket {cid} entry order_type: expected market, limit, stop or stop_limit, was trailing_stop"
        )
    if stop.order_type is OrderType.TRAILING_STOP:
        raise BrokerError(f"bracket {cid} stop {stop.client_order_id}: Alpaca brackets take no trailing stop leg")
    assert stop.stop_price is not None and target.limit_price is not None
    fields = _common(entry)
    fields["order_class"] = AlpacaOrderClass.BRACKET
    fields["take_profit"] = TakeProfitRequest(limit_price=target.limit_price)
    fields["stop_loss"] = StopLossRequest(stop_price=stop.stop_price, limit_price=stop.limit_price)
    return _typed(entry, fields)


def _rebuild_request(cid: str, o: AlpacaOrder, created: int, role: Leg | None) -> OrderRequest | None:
    """An :class:`OrderRequest` standing for an order this process did not submit (for :meth:`open_orders`)."""
    qty = _float(o.qty)
    if qty <= 0.0 or not o.symbol or o.side is None:
        log.warning("alpaca broker: open order %s has no quantity, symbol or side; left out", cid)
        return None
    parsed = parse_client_order_id(cid)
    leg = role or (parsed[0] if parsed is not None else Leg.EXIT)
    kind = _enum_value(o.type or o.order_type) or "market"
    prices: dict[str, float | None] = {"limit_price": None, "stop_price": None, "trail_amount": None}
    if kind in ("limit", "stop_limit"):
        prices["limit_price"] = _float(o.limit_price) or None
    if kind in ("stop", "stop_limit"):
        prices["stop_price"] = _float(o.stop_price) or None
    if kind == "trailing_stop":
        trail = _float(o.trail_price)
        if trail <= 0.0 and o.trail_percent and o.hwm:
            trail = _float(o.hwm) * _float(o.trail_percent) / 100.0
        prices["trail_amount"] = trail or None
    tif = _enum_value(o.time_in_force)
    try:
        return OrderRequest(
            client_order_id=cid,
            signal_id=UNKNOWN_SIGNAL if leg in (Leg.ENTRY, Leg.STOP, Leg.TARGET) else None,
            leg=leg,
            symbol=o.symbol,
            side=Side(_enum_value(o.side)),
            order_type=OrderType(kind),
            qty=qty,
            ts_created=max(created, 0),
            time_in_force=TimeInForce(tif) if tif in {t.value for t in TimeInForce} else TimeInForce.DAY,
            limit_price=prices["limit_price"],
            stop_price=prices["stop_price"],
            trail_amount=prices["trail_amount"],
        )
    except (ScalperError, ValueError) as exc:
        log.warning("alpaca broker: open order %s cannot be represented: %s", cid, exc)
        return None
