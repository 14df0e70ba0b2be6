"""The feature engine: every symbol's feature state, updated one event at a time or over arrays.

Live and replay share one path. :meth:`FeatureEngine.on_second` (and ``on_trade``, ``on_quote``,
``on_minute``) makes one call into the compiled :func:`~scalper.features.kernel.step_event`;
:meth:`FeatureEngine.replay` runs the compiled loop over arrays of the same events, which calls
that same function. The latest snapshot of each symbol is kept in memory (:meth:`latest`).

Symbols: an index (``I:`` prefix) has no volume; when it is paired with its proxy (``I:SPX`` ↔
``SPY``, ``I:NDX`` ↔ ``QQQ`` by default) and ``index_vwap`` is ``proxy``, its VWAP and opening ranges
come from the proxy through the live ratio. Inputs that break a bar's invariants, repeat or precede
a second already processed, or fall outside the exchange calendar are refused and counted by
reason (:attr:`FeatureEngine.refused`); the state is left untouched by them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import ConfigError
from scalper.core.events import SECOND_NS
from scalper.features import kernel as K
from scalper.features import layout as L
from scalper.features.params import FeatureParams
from scalper.features.snapshot import FIELDS, N_FIELDS, SnapshotView
from scalper.marketdata.calendar import session_table

DEFAULT_PAIRS: Final = {"I:SPX": "SPY", "I:NDX": "QQQ"}
Resolution = Literal["second", "minute"]
#: at minute resolution a minute bar is stepped as the last second of its minute (hh:mm:59)
MINUTE_STAMP_NS: Final = 59 * SECOND_NS
REASONS: Final = {K.OUTSIDE_CALENDAR: "outside_calendar", K.STALE: "stale", K.BAD_INPUT: "bad_input"}
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class EventArrays:
    """A time-ordered batch of events for :meth:`FeatureEngine.replay`.

    Columns as in :func:`~scalper.features.kernel.step_event`.
    """

    symbol: NDArray[np.int64]
    kind: NDArray[np.int64]
    ts: NDArray[np.int64]
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    c: NDArray[np.float64]
    d: NDArray[np.float64]
    e: NDArray[np.float64]
    f: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def seconds(
        cls,
        symbol: NDArray[np.int64],
        ts: NDArray[np.int64],
        o: NDArray[np.float64],
        h: NDArray[np.float64],
        lo: NDArray[np.float64],
        c: NDArray[np.float64],
        volume: NDArray[np.float64],
        vwap: NDArray[np.float64],
    ) -> EventArrays:
        """One-second aggregates (``ts`` = window start); ``nan`` volume/vwap for indices."""
        return cls._of(K.SECOND, symbol, ts, o, h, lo, c, volume, vwap)

    @classmethod
    def trades(
        cls, symbol: NDArray[np.int64], ts: NDArray[np.int64], price: NDArray[np.float64], size: NDArray[np.float64]
    ) -> EventArrays:
        """Trades (SIP time)."""
        nan = np.full(ts.shape[0], _NAN)
        return cls._of(K.TRADE, symbol, ts, price, size, nan, nan, nan, nan)

    @classmethod
    def quotes(
        cls, symbol: NDArray[np.int64], ts: NDArray[np.int64], bid: NDArray[np.float64], ask: NDArray[np.float64]
    ) -> EventArrays:
        """NBBO quotes (SIP time)."""
        nan = np.full(ts.shape[0], _NAN)
        return cls._of(K.QUOTE, symbol, ts, bid, ask, nan, nan, nan, nan)

    @classmethod
    def _of(
        cls, kind: int, symbol: NDArray[np.int64], ts: NDArray[np.int64], *cols: NDArray[np.float64]
    ) -> EventArrays:
        n = ts.shape[0]
        as_f = [np.ascontiguousarray(col, dtype=np.float64) for col in cols]
        return cls(
            np.ascontiguousarray(symbol, dtype=np.int64),
            np.full(n, kind, dtype=np.int64),
            np.ascontiguousarray(ts, dtype=np.int64),
            *as_f,
        )

    def delivered_at(self, aggregate_delay_ns: int = 0) -> NDArray[np.int64]:
        """When each event is delivered: a second at its window's end and an AM bar at its minute's end, each
        plus ``aggregate_delay_ns`` (the provider's delay for aggregates); a trade or quote at its time."""
        bar_end = np.where(self.kind == K.SECOND, SECOND_NS, np.where(self.kind == K.MINUTE, 60 * SECOND_NS, 0))
        delay = np.where((self.kind == K.SECOND) | (self.kind == K.MINUTE), aggregate_delay_ns, 0)
        return self.ts + bar_end + delay

    @classmethod
    def merge(cls, *parts: EventArrays, aggregate_delay_ns: int = 0) -> EventArrays:
        """All events in delivery order (ties: by kind — quote, trade, second, minute — then symbol), as the
        live sequencer orders them with the same ``aggregate_delay_ns``."""
        joined = cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in cls.__slots__))
        rank = np.array([2, 1, 0, 3])[joined.kind]  # SECOND, TRADE, QUOTE, MINUTE
        order = np.lexsort((joined.symbol, rank, joined.delivered_at(aggregate_delay_ns)))
        return cls(*(np.ascontiguousarray(getattr(joined, name)[order]) for name in cls.__slots__))

    def take(self, rows: NDArray[np.int64] | slice) -> EventArrays:
        """A subset of the events (in the given order)."""
        return EventArrays(*(np.ascontiguousarray(getattr(self, name)[rows]) for name in self.__slots__))


def is_index(symbol: str) -> bool:
    """Indices (``I:SPX``) carry no volume."""
    return symbol.startswith("I:")


class FeatureEngine:
    """Feature state for a fixed set of symbols."""

    def __init__(
        self,
        symbols: Sequence[str],
        params: FeatureParams | None = None,
        *,
        pairs: Mapping[str, str] | None = None,
        sessions: NDArray[np.int64] | None = None,
        resolution: Resolution = "second",
    ) -> None:
        if len(set(symbols)) != len(symbols) or not symbols:
            raise ConfigError(f"feature engine: expected distinct symbols, was {list(symbols)!r}")
        if resolution not in ("second", "minute"):
            raise ConfigError(f"feature engine resolution: expected 'second' or 'minute', was {resolution!r}")
        self.resolution: Resolution = resolution
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.params = params or FeatureParams()
        self.codes: dict[str, int] = {s: i for i, s in enumerate(self.symbols)}
        links = DEFAULT_PAIRS if pairs is None else pairs
        self.partner = np.full(len(symbols), -1, dtype=np.int64)
        for index, proxy in links.items():
            if index in self.codes and proxy in self.codes:
                self.partner[self.codes[index]] = self.codes[proxy]
                self.partner[self.codes[proxy]] = self.codes[index]
        self.param_rows = np.stack(
            [
                self.params.vector(has_volume=not is_index(s), has_proxy=self.partner[i] >= 0)
                for i, s in enumerate(symbols)
            ]
        )
        self.sessions = session_table() if sessions is None else np.ascontiguousarray(sessions, dtype=np.int64)
        self.states = np.empty((len(symbols), L.STATE_SIZE))
        for row in self.states:
            K.init_state(row)
        self.snapshots = np.full((len(symbols), N_FIELDS), _NAN)
        self.refused: Counter[str] = Counter()

    def _step(self, symbol: str, kind: int, ts: int, a: float, b: float, c: float, d: float, e: float, f: float) -> int:
        code = self.codes[symbol]
        status = int(
            K.step_event(
                self.states,
                self.param_rows,
                self.sessions,
                self.partner,
                code,
                kind,
                ts,
                a,
                b,
                c,
                d,
                e,
                f,
                self.snapshots[code],
            )
        )
        if status:
            self.refused[REASONS[status]] += 1
        return status

    def on_second(
        self, symbol: str, ts: int, o: float, h: float, lo: float, c: float, volume: float | None, vwap: float | None
    ) -> int:
        """One one-second aggregate (``ts`` = window start, UTC ns); returns 0 or a refusal code."""
        return self._step(
            symbol,
            K.SECOND,
            ts,
            o,
            h,
            lo,
            c,
            _NAN if volume is None else volume,
            _NAN if vwap is None else vwap,
        )

    def on_trade(self, symbol: str, ts: int, price: float, size: float) -> int:
        """One trade (Lee–Ready delta); returns 0 or a refusal code."""
        return self._step(symbol, K.TRADE, ts, price, size, _NAN, _NAN, _NAN, _NAN)

    def on_quote(self, symbol: str, ts: int, bid: float, ask: float) -> int:
        """One NBBO quote; returns 0 or a refusal code."""
        return self._step(symbol, K.QUOTE, ts, bid, ask, _NAN, _NAN, _NAN, _NAN)

    def on_minute(
        self,
        symbol: str,
        ts: int,
        o: float,
        h: float,
        lo: float,
        c: float,
        volume: float | None,
        vwap: float | None = None,
    ) -> int:
        """A minute bar (``ts`` = window start). At second resolution it is the feed's ``AM`` bar,
        checked against the minute built from the seconds. At minute resolution (only minute data)
        it drives the features: stepped as the last second of its minute, so the minute closes on
        it and the second-level features move once a minute."""
        v = _NAN if volume is None else volume
        if self.resolution == "minute":
            return self._step(symbol, K.SECOND, ts + MINUTE_STAMP_NS, o, h, lo, c, v, _NAN if vwap is None else vwap)
        return self._step(symbol, K.MINUTE, ts, o, h, lo, c, v, _NAN)

    def replay(
        self, events: EventArrays, *, keep: bool | NDArray[np.bool_] = False
    ) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
        """Apply a time-ordered batch; returns (status per event, the kept snapshots in event order).

        ``keep``: True keeps every event's snapshot, a boolean mask keeps those it marks, False none.
        """
        n = len(events)
        mask = np.full(n, bool(keep)) if isinstance(keep, bool) else np.asarray(keep, dtype=bool)
        if mask.shape != (n,):
            raise ConfigError(f"replay keep mask: expected {n} booleans, was shape {mask.shape}")
        slot = np.full(n, -1, dtype=np.int64)
        kept = np.flatnonzero(mask)
        slot[kept] = np.arange(kept.size)
        out = np.empty((kept.size + 1, N_FIELDS))
        status = np.zeros(n, dtype=np.int8)
        applied = int(
            K.run_events(
                self.states,
                self.param_rows,
                self.sessions,
                self.partner,
                events.symbol,
                events.kind,
                events.ts,
                events.a,
                events.b,
                events.c,
                events.d,
                events.e,
                events.f,
                slot,
                out,
                status,
            )
        )
        if applied < n:  # beyond the calendar: count it and everything after it
            status[applied:] = K.OUTSIDE_CALENDAR
            out[slot[applied:][slot[applied:] >= 0]] = _NAN
        for code, reason in REASONS.items():
            count = int(np.count_nonzero(status == code))
            if count:
                self.refused[reason] += count
        self._refresh_latest()
        return status, out[:-1]

    def _refresh_latest(self) -> None:
        for code in range(len(self.symbols)):
            K.snapshot(self.states[code], self.param_rows[code], self.snapshots[code])

    def latest(self, symbol: str) -> NDArray[np.float64]:
        """The symbol's latest snapshot row (a view: copy it to keep it)."""
        return self.snapshots[self.codes[symbol]]

    def latest_dict(self, symbol: str) -> dict[str, float | None]:
        """The latest snapshot as {field: value}, ``None`` where not ready."""
        row = self.latest(symbol)
        return {name: (float(v) if v == v else None) for name, v in zip(FIELDS, row, strict=True)}

    def latest_view(self, symbol: str) -> SnapshotView:
        """The latest snapshot as a read-only mapping like :meth:`latest_dict` (equal to it), over a
        copy of the row: O(1) to make, a field read only when asked for (the decision path)."""
        return SnapshotView(self.snapshots[self.codes[symbol]].copy())
