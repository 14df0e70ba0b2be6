"""A running capture: one FeedClient per cluster feeding one IngestPipeline, started and stopped together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType

from scalper.adapters.feed.client import FeedClient, FeedSettings
from scalper.adapters.feed.ingest import IngestPipeline
from scalper.core.clock import Clock


class Capture:
    """``async with Capture(...) as cap:`` runs the clients and the pipeline's writer until the block ends.

    Leaving the block stops the clients, lets the pipeline flush and repair what it holds, and closes
    its connection. A fatal client error (a refused key) is re-raised on exit, or by ``check()``.
    """

    def __init__(
        self,
        pipeline: IngestPipeline,
        settings: Mapping[str, FeedSettings],
        clock: Clock,
        *,
        market_open: Callable[[int], bool],
        seed: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.clients = {
            market: FeedClient(
                s, clock, pipeline.on_frame, market_open=market_open, on_state=pipeline.on_state, seed=seed
            )
            for market, s in settings.items()
        }
        self._stop = asyncio.Event()
        self._client_tasks: list[asyncio.Task[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Capture:
        self._client_tasks = [asyncio.create_task(c.run(self._stop)) for c in self.clients.values()]
        self._writer = asyncio.create_task(self.pipeline.run(self._stop))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        results = await asyncio.gather(*self._client_tasks, return_exceptions=True)
        if self._writer is not None:
            await self._writer
        self.pipeline.close()
        if exc is None:
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    def check(self) -> None:
        """Re-raise a client's fatal error now, if one has ended it."""
        for task in self._client_tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def wait(self, timeout_s: float | None) -> None:
        """Run until a client fails fatally or ``timeout_s`` passes (``None``: forever)."""
        done, _ = await asyncio.wait(self._client_tasks, timeout=timeout_s, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()

    def reconnects(self) -> int:
        return sum(sum(c.reconnects.values()) for c in self.clients.values())
