"""Helpers for driving the replay server from synchronous code (tests, sync clients)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from scalper.adapters.polygon.replay_server import ReplayServer


@contextlib.contextmanager
def running_in_thread(server: ReplayServer) -> Iterator[ReplayServer]:
    """Start ``server`` on its own event loop in a background thread; stop it on exit."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, name="replay-server")
    thread.start()
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(server.close())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
