"""The latest value per symbol and kind of event, in memory, for the engine."""

from __future__ import annotations

from collections.abc import Iterable

from scalper.core.events import MarketEvent


class LatestValues:
    """``get(symbol, EventType)`` returns the newest event of that type seen for the symbol."""

    def __init__(self) -> None:
        self._latest: dict[tuple[type, str], MarketEvent] = {}

    def update_all(self, events: Iterable[MarketEvent]) -> dict[tuple[type, str], int]:
        """Take each event that is not older than what is held for its symbol and type; returns how many
        events of each (type, symbol) there were (the caller's counters, for free: one pass per frame)."""
        latest = self._latest
        counts: dict[tuple[type, str], int] = {}
        for event in events:
            key = (type(event), event.symbol)
            counts[key] = counts.get(key, 0) + 1
            current = latest.get(key)
            if current is None or event.ts_event >= current.ts_event:
                latest[key] = event
        return counts

    def get(self, symbol: str, kind: type) -> MarketEvent | None:
        return self._latest.get((kind, symbol))

    def symbols(self) -> set[str]:
        return {symbol for _, symbol in self._latest}
