"""Headless Chromium driven over the DevTools protocol: open a page, report its script errors.

:func:`open_page` starts ``chromium --headless=new`` in its own process group with a fresh profile
(``--remote-debugging-port=0``: Chromium picks the port and writes it to ``DevToolsActivePort`` in
the profile), connects to the page target with ``websockets``, enables ``Runtime``/``Log``/``Page``,
navigates, waits for the load event, then evaluates a JavaScript expression (awaiting it when it is
a promise). Every uncaught exception (``Runtime.exceptionThrown``), ``console.error`` call and
browser log entry of level error (e.g. a resource that failed to load) is collected. Chromium runs
with ``--no-sandbox`` (root in containers) and is killed, group and all, on the way out.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

INSTALL_HINT = "headless browser tests need Chromium: install the Debian package chromium (apt-get install -y chromium)"


def find_chromium() -> str | None:
    """The Chromium binary on PATH (``chromium`` or ``chromium-browser``), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """The Chromium binary; without one the test is skipped, or fails when ``SCALPER_REQUIRE_BROWSER=1``."""
    path = find_chromium()
    if path is None:
        if os.environ.get("SCALPER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SCALPER_REQUIRE_BROWSER=1 but no chromium on PATH: {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)
    return path


@dataclass
class PageResult:
    """What the page did: its errors (one line each) and the value of the evaluated expression."""

    errors: list[str] = field(default_factory=list)
    value: Any = None


class DevTools:
    """A DevTools session on one page target: commands by id, events collected on the way."""

    def __init__(self, ws: ClientConnection, deadline: float) -> None:
        self.ws = ws
        self.deadline = deadline
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def _recv(self) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("chromium: the page did not finish in time")
        message: dict[str, Any] = json.loads(self.ws.recv(timeout=left))
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events arriving meanwhile are kept)."""
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = self._recv()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"chromium {method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        """The first event ``method`` (already received or to come)."""
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            message = self._recv()
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            out.append(f"exception: {exc.get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            out.append(f"console.error: {args}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".rstrip())
    return out


@contextlib.contextmanager
def _chromium(binary: str, timeout_s: float) -> Iterator[int]:
    """A headless Chromium with a throwaway profile; yields its DevTools port."""
    with tempfile.TemporaryDirectory(prefix="scalper-chromium-", ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp) / "profile"
        log = (Path(tmp) / "chromium.log").open("wb")
        proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            active = profile / "DevToolsActivePort"
            deadline = time.monotonic() + timeout_s
            while not (active.exists() and active.read_text().count("\n") >= 1):
                if proc.poll() is not None:
                    log.flush()
                    tail = (Path(tmp) / "chromium.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"chromium exited with {proc.returncode} before DevTools was up:\n{tail}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium: no DevToolsActivePort after {timeout_s} s")
                time.sleep(0.05)
            yield int(active.read_text().splitlines()[0])
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            log.close()


def open_page(url: str, expression: str, *, binary: str | None = None, timeout_s: float = 60.0) -> PageResult:
    """Load ``url`` in headless Chromium and evaluate ``expression`` once it has loaded.

    The value must be JSON-serialisable (``returnByValue``); a promise is awaited. Errors seen up to
    the end of the evaluation are returned, not raised: the caller asserts on them.
    """
    binary = binary or require_chromium()
    deadline = time.monotonic() + timeout_s
    with _chromium(binary, timeout_s) as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t.get("type") == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            tools = DevTools(ws, deadline)
            tools.call("Runtime.enable")
            tools.call("Log.enable")
            tools.call("Page.enable")
            tools.events.clear()  # nothing from about:blank
            navigated = tools.call("Page.navigate", url=url)
            if navigated.get("errorText"):
                return PageResult(errors=[f"navigation: {navigated['errorText']}"])
            tools.wait_event("Page.loadEventFired")
            result = tools.call(
                "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True, timeout=30_000
            )
            if "exceptionDetails" in result:
                details = result["exceptionDetails"]
                desc = details.get("exception", {}).get("description") or details.get("text")
                return PageResult(errors=[*_errors(tools.events), f"evaluate: {desc}"])
            tools.call("Runtime.evaluate", expression="0")  # flush events queued before the answer
            return PageResult(errors=_errors(tools.events), value=result.get("result", {}).get("value"))
