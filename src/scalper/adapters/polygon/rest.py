"""Our REST client: the official ``massive.RESTClient`` with typed results and our error tree.

Aggregates come back as :class:`~scalper.core.events.SecondAgg`/:class:`MinuteAgg` (``ts_event``
= window start ns, ``ts_end`` = start + the window; ``volume``/``vwap`` None for ``I:`` indices);
the client follows ``next_url`` itself. Errors are translated here, at the edge::

    401, 403        -> FeedAuthError (403: not entitled; never retried)
    429             -> that request retried with exponential backoff + jitter, then FeedError
    other non-200   -> FeedError naming the status and the URL (without the API key)

urllib3's own status retries are switched off so that every retry is ours (and counted). The API
key is never put in a message or a log line.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import urllib3
from massive import RESTClient  # type: ignore[import-untyped]
from massive.exceptions import BadResponse  # type: ignore[import-untyped]

from scalper.core.errors import ConfigError, FeedAuthError, FeedError
from scalper.core.events import MINUTE_NS, SECOND_NS, MinuteAgg, SecondAgg

MASSIVE_BASE: Final = "https://api.massive.com"
NS_PER_MS: Final = 1_000_000
FORBIDDEN: Final = "not entitled: real-time index data needs an indices plan"

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How 429 answers are retried: ``attempts`` tries in all, delays ``base_s * 2**n`` (+ jitter)."""

    attempts: int = 5
    base_s: float = 1.0
    max_s: float = 30.0
    jitter: float = 0.5  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_s < 0 or self.max_s < 0 or not 0 <= self.jitter <= 1:
            raise ConfigError(f"rest retry policy: expected attempts >= 1, delays >= 0, 0 <= jitter <= 1, was {self}")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        scale: float = rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.max_s, self.base_s * 2.0**retry) * scale


class _RetryingPool:
    """Wraps the client's urllib3 pool: retries each 429 per the policy and remembers, per thread,
    the status and URL of the last answer (``massive`` raises ``BadResponse`` with the body only)."""

    def __init__(self, pool: Any, policy: RetryPolicy, sleep: Callable[[float], None], rng: random.Random) -> None:
        self._pool, self._policy, self._sleep, self._rng = pool, policy, sleep, rng
        self.last = threading.local()

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        for retry in range(self._policy.attempts):
            response = self._pool.request(method, url, **kwargs)
            self.last.status, self.last.url, self.last.attempts = response.status, url, retry + 1
            if response.status != 429 or retry + 1 == self._policy.attempts:
                return response
            self._sleep(self._policy.delay(retry, self._rng))
        raise AssertionError("unreachable: attempts >= 1")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class PolygonRest:
    """Typed access to the aggregates and option-chain snapshot endpoints (sync; run in a thread)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = MASSIVE_BASE,
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError("rest api key: expected a non-empty key (MASSIVE_API_KEY or POLYGON_API_KEY)")
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        no_status_retries = urllib3.Retry(total=2, status=0, redirect=0, raise_on_status=False)
        self._client = RESTClient(
            api_key=api_key,
            base=self.base_url,
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries=0,
            connection_pool_kw={"retries": no_status_retries},
        )
        self._pool = _RetryingPool(self._client.client, self.retry, sleep, rng or random.Random())
        self._client.client = self._pool

    def second_aggs(self, ticker: str, start_ns: int, end_ns: int) -> list[SecondAgg]:
        """One-second bars of ``ticker`` whose windows start in ``[start_ns, end_ns]``."""
        rows = self._aggs(ticker, "second", start_ns, end_ns)
        return [SecondAgg(**_agg_fields(ticker, row, SECOND_NS)) for row in rows]

    def minute_aggs(self, ticker: str, start_ns: int, end_ns: int) -> list[MinuteAgg]:
        """One-minute bars of ``ticker`` whose windows start in ``[start_ns, end_ns]``."""
        rows = self._aggs(ticker, "minute", start_ns, end_ns)
        return [MinuteAgg(**_agg_fields(ticker, row, MINUTE_NS)) for row in rows]

    def options_snapshot(self, underlying: str, **filters: str | float) -> list[dict[str, Any]]:
        """The raw results of ``GET /v3/snapshot/options/{underlying}`` over every page.

        ``filters`` are query parameters with ``_`` for ``.`` (``strike_price_gte=580``).
        """
        params: dict[str, str | float] = {_dotted(name): value for name, value in filters.items()}
        params.setdefault("limit", 250)

        def fetch() -> list[dict[str, Any]]:
            # the public method returns models; _paginate with dict keeps the raw results
            pages = self._client._paginate(
                path=f"/v3/snapshot/options/{underlying}", params=params, raw=False, deserializer=dict
            )
            return list(pages)

        return self._call(fetch)

    def _aggs(self, ticker: str, timespan: str, start_ns: int, end_ns: int) -> list[Any]:
        if end_ns < start_ns:
            raise ConfigError(f"aggregates of {ticker}: expected start <= end, was {start_ns} > {end_ns}")
        start_ms, end_ms = -(-start_ns // NS_PER_MS), end_ns // NS_PER_MS

        def fetch() -> list[Any]:
            bars: Iterator[Any] = self._client.list_aggs(ticker, 1, timespan, start_ms, end_ms, limit=50_000)
            return list(bars)

        return self._call(fetch)

    def _call(self, fetch: Callable[[], T]) -> T:
        """Run ``fetch`` (429s are retried request by request in the pool); translate failures."""
        try:
            return fetch()
        except BadResponse:
            status, url = self._last()
            raise self._error(status, url) from None
        except urllib3.exceptions.HTTPError as exc:
            raise FeedError(f"REST request to {self.base_url} failed: {type(exc).__name__}") from None

    def _last(self) -> tuple[int, str]:
        status = getattr(self._pool.last, "status", 0)
        url = urlsplit(getattr(self._pool.last, "url", ""))
        return status, f"{url.scheme}://{url.netloc}{url.path}"  # path only: no query, so never apiKey=

    def _error(self, status: int, url: str) -> FeedError:
        if status == 429:
            return FeedError(f"REST rate limit: still 429 after {self.retry.attempts} attempts at {url}")
        if status == 401:
            return FeedAuthError(f"REST API key refused (401) at {url}: check MASSIVE_API_KEY/POLYGON_API_KEY")
        if status == 403:
            return FeedAuthError(f"REST 403 at {url}: {FORBIDDEN}")
        return FeedError(f"REST request failed with HTTP {status} at {url}")


def _agg_fields(ticker: str, row: Any, window_ns: int) -> dict[str, Any]:
    """Keyword arguments of an aggregate event from a ``massive`` ``Agg`` model."""
    start = int(row.timestamp) * NS_PER_MS
    fields: dict[str, Any] = {
        "symbol": ticker,
        "ts_event": start,
        "ts_end": start + window_ns,
        "open": row.open,
        "high": row.high,
        "low": row.low,
        "close": row.close,
    }
    if not ticker.startswith("I:"):
        fields |= {"volume": row.volume, "vwap": row.vwap, "trades": row.transactions}
    return fields


def _dotted(name: str) -> str:
    """``strike_price_gte`` -> ``strike_price.gte`` (the comparison suffixes of the REST API)."""
    for op in ("gte", "lte", "gt", "lt"):
        if name.endswith(f"_{op}"):
            return f"{name[: -len(op) - 1]}.{op}"
    return name
