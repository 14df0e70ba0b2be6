"""A local stand-in for a Discord webhook: a real HTTP server on 127.0.0.1 that records what it
receives and answers from a script.

Shared by the alert tests (imported as ``webhook_server``). Each request is recorded with its
arrival time (``time.monotonic()``), path and JSON body; the answer is the next scripted
:class:`Reply` (default: 204). A reply may hang until :meth:`WebhookServer.release` (or its
bound), to play a server that never answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "SeCrEtToKeN-0123456789abcdef-must-never-leak"
WEBHOOK_PATH = f"/api/webhooks/112233445566778899/{TOKEN}"
HANG_BOUND_S = 30.0


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it."""

    at: float
    path: str
    body: dict[str, Any]

    @property
    def content(self) -> str:
        return str(self.body.get("content", ""))


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer; ``{path}`` in the body is replaced by the request path (an echo)."""

    status: int = 204
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


def rate_limited(retry_after_s: float) -> Reply:
    """Discord's 429: ``retry_after`` in the JSON body and the ``Retry-After`` header."""
    body = json.dumps({"message": "You are being rate limited.", "retry_after": retry_after_s, "global": False})
    return Reply(429, body, {"Content-Type": "application/json", "Retry-After": f"{retry_after_s:g}"})


class WebhookServer:
    """The server; use as a context manager. ``url`` is the webhook URL (it contains ``TOKEN``)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answered = 0
        self._script: deque[Reply] = deque()
        self._changed = threading.Condition()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, name="webhook-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{WEBHOOK_PATH}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order (then 204 again)."""
        with self._changed:
            self._script.extend(replies)

    def release(self) -> None:
        """Let hanging replies answer (with 204)."""
        self._released.set()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> bool:
        """Wait until ``count`` requests have arrived (a generous bound, not a speed check)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.received) >= count, timeout_s)

    def contents(self) -> list[str]:
        with self._changed:
            return [r.content for r in self.received]

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def _next_reply(self, received: Received) -> Reply:
        with self._changed:
            self.received.append(received)
            reply = self._script.popleft() if self._script else Reply()
            self._changed.notify_all()
        return reply

    def _answered(self) -> None:
        with self._changed:
            self.answered += 1
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                reply = server._next_reply(Received(time.monotonic(), self.path, body))
                if reply.hang:
                    server._released.wait(HANG_BOUND_S)
                    reply = Reply()
                payload = reply.body.replace("{path}", self.path).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (a timeout test): nothing to answer
                    pass
                server._answered()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        return Handler


def webhook_server() -> Iterator[WebhookServer]:
    """Fixture body: a started server, stopped afterwards."""
    with WebhookServer() as server:
        yield server
