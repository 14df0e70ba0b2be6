"""Hold back the rows of still-open time windows while a file streams in blocks.

Files are sorted by ticker and then by time, but a block boundary can cut a second in two. A
window is handed on only once a row at least ``hold_ns`` later of the same symbol has been
seen (or at the end of the file), so every window is aggregated from all of its rows exactly
once. A row that arrives for a window already handed on means the file is not in time order:
that is an error, not a silent double count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scalper.adapters.flatfiles.errors import FlatFileError

Columns = dict[str, NDArray[Any]]
_NONE = np.iinfo(np.int64).min


class WindowHoldback:
    """Per-symbol watermark over window starts; ``symbol`` holds small integer codes."""

    def __init__(self, *, key: str, names: tuple[str, ...], window_ns: int, hold_ns: int) -> None:
        self._key = key
        self._names = names
        self._window_ns = window_ns
        self._hold_ns = hold_ns
        self._mark = np.full(len(names), _NONE, dtype=np.int64)  # windows before the mark are out
        self._held: Columns | None = None

    def push(self, cols: Mapping[str, NDArray[Any]]) -> Columns:
        """Add a block (columns incl. ``symbol`` and ``ts``); return the rows of closed windows."""
        sym, ts = cols["symbol"], cols["ts"]
        window = ts - ts % self._window_ns
        late = window < self._mark[sym]
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise FlatFileError(
                self._key,
                f"rows are not in time order: {self._names[int(sym[i])]} at {int(ts[i])} ns comes after "
                "later rows of its ticker were loaded",
            )
        merged: Columns = dict(cols) if self._held is None else _concat(self._held, cols)
        m_sym, m_ts = merged["symbol"], merged["ts"]
        m_window = m_ts - m_ts % self._window_ns
        newest = np.full(len(self._names), _NONE, dtype=np.int64)
        np.maximum.at(newest, m_sym, m_window)
        seen = newest != _NONE
        self._mark[seen] = np.maximum(self._mark[seen], newest[seen] - self._hold_ns)
        ready = m_window < self._mark[m_sym]
        if ready.all():
            self._held = None
            return merged
        self._held = {k: v[~ready] for k, v in merged.items()}
        return {k: v[ready] for k, v in merged.items()}

    def flush(self) -> Columns | None:
        """The rows still held (end of file)."""
        held, self._held = self._held, None
        return held


def _concat(a: Mapping[str, NDArray[Any]], b: Mapping[str, NDArray[Any]]) -> Columns:
    return {k: np.concatenate([a[k], b[k]]) for k in a}
