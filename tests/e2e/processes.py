"""Real processes for end-to-end fault tests: ``scalper`` commands as subprocesses and a PostgreSQL
server of the test's own that can be stopped and started again.

Each subprocess runs in its own process group with its output in files (a pipe nobody reads could
fill up and block it); the context managers kill the group on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scalper.adapters.store.embedded import _import_server, embedded_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment of a ``scalper`` subprocess: none of the user's settings or keys, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALPER_") and "API_KEY" not in k}
    return env | {"COLUMNS": "200"} | overrides


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, *, every_s: float = 0.2) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


class Process:
    """``python -m scalper ARGS`` in its own process group; stdout/stderr go to ``log_dir/NAME.{out,err}``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self._out = log_dir / f"{name}.out"
        self._err = log_dir / f"{name}.err"
        with self._out.open("w") as out, self._err.open("w") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "scalper", *args],
                env=env,
                cwd=log_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process (not its group)."""
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the process (nothing when it has already exited)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def wait(self, timeout_s: float) -> int:
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit within {timeout_s:.0f} s\n{self.logs()}") from None

    def stdout(self) -> str:
        return self._out.read_text()

    def stderr(self) -> str:
        return self._err.read_text()

    def logs(self, tail: int = 3000) -> str:
        """The end of both outputs, for failure messages."""
        return f"--- {self.name} stdout\n{self.stdout()[-tail:]}\n--- {self.name} stderr\n{self.stderr()[-tail:]}"


@contextlib.contextmanager
def scalper_process(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Iterator[Process]:
    """Run ``scalper ARGS``; its process group is killed on exit from the block if still running."""
    process = Process(name, args, env, log_dir)
    try:
        yield process
    finally:
        process.kill()


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_listening(process: Process, port: int, timeout_s: float = 60) -> None:
    """Wait until ``process`` accepts TCP connections on ``port`` (fail at once if it died)."""

    def ready() -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited with {process.popen.returncode}\n{process.logs()}")
        return port_open(port)

    wait_until(ready, timeout_s, f"{process.name} to listen on port {port}", every_s=0.05)


class Postgres:
    """An embedded PostgreSQL of the test's own: ``stop()`` is ``pg_ctl stop -m fast``, ``start()`` brings it back
    on the same socket, so the URL stays valid."""

    def __init__(self, pgdata: Path, url: str) -> None:
        self.pgdata = pgdata
        self.url = url
        self._module: Any = _import_server()
        self._user = self._module.get_server(pgdata).system_user  # the server's OS user when run as root
        (self._socket_dir,) = parse_qs(urlsplit(url).query)["host"]
        self.up = True
        self.restarted = False

    def _pg_ctl(self, *args: str) -> None:
        self._module.pg_ctl(list(args), pgdata=self.pgdata, user=self._user, timeout=60)

    def stop(self) -> None:
        if self.up:
            self._pg_ctl("-w", "-m", "fast", "stop")
            self.up = False

    def start(self) -> None:
        if not self.up:
            log = str(self.pgdata / "log")
            self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", log, "start")
            self.up = self.restarted = True


@contextlib.contextmanager
def dedicated_postgres(root: Path) -> Iterator[Postgres]:
    """A fresh embedded PostgreSQL in ``root``, stopped on exit."""
    pgdata = (root / "pgdata").resolve()
    with embedded_server(pgdata) as url:
        server = Postgres(pgdata, url)
        try:
            yield server
        finally:
            if server.restarted:  # embedded_server stops the first postmaster; a restarted one is ours to stop
                server.stop()
