"""The latest value per symbol and kind of event, in memory, for the engine."""

from __future__ import annotations

from scalper.core.events import MarketEvent


class LatestValues:
    """``get(symbol, EventType)`` returns the newest event of that type seen for the symbol."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, type], MarketEvent] = {}

    def update(self, event: MarketEvent) -> None:
        key = (event.symbol, type(event))
        current = self._latest.get(key)
        if current is None or event.ts_event >= current.ts_event:
            self._latest[key] = event

    def get(self, symbol: str, kind: type) -> MarketEvent | None:
        return self._latest.get((symbol, kind))

    def symbols(self) -> set[str]:
        return {symbol for symbol, _ in self._latest}
