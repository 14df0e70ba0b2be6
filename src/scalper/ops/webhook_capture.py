"""A local Discord-compatible webhook that keeps what it receives: alerts captured offline.

:class:`WebhookCapture` is a real HTTP server on 127.0.0.1 (an ephemeral port) answering
``POST /api/webhooks/<id>/<token>`` with 204, as Discord does, and appending each message (its
arrival time and JSON body) to a JSON-lines file. The demo points ``scalper run``'s alert delivery
at it, so the alerts a fault raises travel the real delivery path and end up on disk.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

PATH_PREFIX = "/api/webhooks/"


class WebhookCapture:
    """The capture server; use as a context manager (``url`` is valid inside)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self.path.startswith(PATH_PREFIX):
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                capture._keep({"received_at": time.time(), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the file is the record

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-capture", daemon=True)

    @property
    def url(self) -> str:
        """The webhook URL to configure (a made-up id and token: nothing leaves the machine)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PATH_PREFIX}0/local-capture"

    def __enter__(self) -> WebhookCapture:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text("", encoding="utf-8")
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _keep(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(item)
            with self.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(item) + "\n")
