"""The latest value per symbol and kind of event, in memory, for the engine."""

from __future__ import annotations

from collections.abc import Iterable

from scalper.core.events import MarketEvent


class LatestValues:
    """``get(symbol, EventType)`` returns the newest event of that type seen for the symbol."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, type], MarketEvent] = {}

    def update_all(self, events: Iterable[MarketEvent]) -> None:
        """Take each event that is not older than what is held for its symbol and type."""
        latest = self._latest
        for event in events:
            key = (event.symbol, type(event))
            current = latest.get(key)
            if current is None or event.ts_event >= current.ts_event:
                latest[key] = event

    def get(self, symbol: str, kind: type) -> MarketEvent | None:
        return self._latest.get((symbol, kind))

    def symbols(self) -> set[str]:
        return {symbol for symbol, _ in self._latest}
