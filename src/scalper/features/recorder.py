"""Which snapshots are persisted, and their rows for the ``features`` table (no I/O here).

A snapshot is stored for a symbol after the last second of every ``every_s``-second window of
the day (with the default 60: after hh:mm:59) and, when a window's last second never came, after
the symbol's first second of a later window (whose state includes the closed window). It is
stamped with the time it became known — the end of that second. ``data`` holds every field of
:data:`scalper.features.snapshot.FIELDS` (``null`` where not ready); ``ready`` is true when the
fields of ``READY_FIELDS`` all have values;
``version`` names the feature set (code and parameters), so snapshots of different settings
never overwrite each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import ConfigError
from scalper.core.events import SECOND_NS
from scalper.features.engine import EventArrays
from scalper.features.kernel import OK, SECOND
from scalper.features.params import FeatureParams
from scalper.features.snapshot import FIELDS, INDEX, READY_FIELDS

FEATURE_CODE_VERSION: Final = 1  # bump when a definition in the kernel changes
_READY = np.array([INDEX[name] for name in READY_FIELDS])


def feature_version(params: FeatureParams) -> str:
    """``f<code version>-<hash of the parameters>``, e.g. ``f1-3a9c0e12``."""
    digest = hashlib.sha256(repr(sorted(asdict(params).items())).encode()).hexdigest()[:8]
    return f"f{FEATURE_CODE_VERSION}-{digest}"


def _due(t: int, prev: int | None, every: int) -> bool:
    if (t + 1) % every == 0:
        return True
    return prev is not None and t // every != prev // every and (prev + 1) % every != 0


class SnapshotRecorder:
    """Collects the snapshots due for storage, live (one at a time) or from a replay batch."""

    def __init__(self, symbols: Sequence[str], *, every_s: int, version: str) -> None:
        if not 1 <= every_s <= 86_400:
            raise ConfigError(f"features.snapshot_every_s: expected 1..86400, was {every_s!r}")
        self.symbols = tuple(symbols)
        self.every_s = every_s
        self.version = version
        self._symbol: list[str] = []
        self._ts: list[int] = []
        self._rows: list[NDArray[np.float64]] = []
        self._last: dict[str, int] = {}  # the last second (whole seconds) seen per symbol

    def due(self, symbol: str, ts_ns: int) -> bool:
        """Whether the snapshot after this second of ``symbol`` is stored (call once per processed second)."""
        t = ts_ns // SECOND_NS
        prev = self._last.get(symbol)
        self._last[symbol] = t
        return _due(t, prev, self.every_s)

    def due_mask(self, events: EventArrays) -> NDArray[np.bool_]:
        """The same rule over a replay batch (seconds only), continuing from earlier calls."""
        mask = np.zeros(len(events), dtype=bool)
        seconds = events.kind == SECOND
        for code, symbol in enumerate(self.symbols):
            rows = np.flatnonzero(seconds & (events.symbol == code))
            if rows.size == 0:
                continue
            t = events.ts[rows] // SECOND_NS
            before = self._last.get(symbol)
            prev = np.concatenate(([before if before is not None else -1], t[:-1]))
            window_end = (t + 1) % self.every_s == 0
            caught_up = (t // self.every_s != prev // self.every_s) & ((prev + 1) % self.every_s != 0) & (prev >= 0)
            mask[rows] = window_end | caught_up
            self._last[symbol] = int(t[-1])
        return mask

    def add(self, symbol: str, ts_ns: int, row: NDArray[np.float64]) -> None:
        """Keep one snapshot (copied) of the second starting at ``ts_ns``."""
        self._symbol.append(symbol)
        self._ts.append(ts_ns + SECOND_NS)
        self._rows.append(np.array(row, dtype=np.float64))

    def add_replay(
        self, events: EventArrays, mask: NDArray[np.bool_], status: NDArray[np.int8], rows: NDArray[np.float64]
    ) -> None:
        """Keep the snapshots a replay returned for ``mask`` (those of refused events are dropped)."""
        picked = np.flatnonzero(mask)
        good = status[picked] == OK
        for event, row in zip(picked[good], rows[good], strict=True):
            self.add(self.symbols[int(events.symbol[event])], int(events.ts[event]), row)

    def __len__(self) -> int:
        return len(self._ts)

    def take(self) -> dict[str, Any]:
        """The collected rows as columns of the ``features`` table, and forget them."""
        columns = self.peek()
        self.drop(len(self._ts))
        return columns

    def peek(self) -> dict[str, Any]:
        """The collected rows as columns of the ``features`` table (kept until :meth:`drop`)."""
        rows = np.array(self._rows).reshape(len(self._rows), len(FIELDS))
        ready = np.isfinite(rows[:, _READY]).all(axis=1) if len(rows) else np.zeros(0, dtype=bool)
        encode = msgspec.json.Encoder().encode
        data = [encode(dict(zip(FIELDS, row.tolist(), strict=True))).decode() for row in rows]
        return {
            "symbol": np.array(self._symbol, dtype=object),
            "ts": np.array(self._ts, dtype=np.int64),
            "version": np.full(len(rows), self.version, dtype=object),
            "ready": ready,
            "data": np.array(data, dtype=object),
        }

    def drop(self, n: int) -> None:
        """Forget the ``n`` oldest collected rows (once they are stored)."""
        del self._symbol[:n], self._ts[:n], self._rows[:n]
