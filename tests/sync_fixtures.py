"""Helpers of the sync tests: warm child processes, free ports, and reading a terminal's store file.

Child processes are started "warm": they import what they need, print ``ready`` and wait for a
``go`` line, so a test can keep a spare one ready and replace a killed process in a moment.
Every wait here is bounded.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

#: Seconds a child has to print ``ready`` (interpreter start-up plus imports, on a busy machine).
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WarmProcess:
    """A child that prints ``ready``, then obeys lines on stdin and answers with lines on stdout."""

    def __init__(self, script: str, *args: str, code: str | None = None) -> None:
        """Run ``tests/<script> args...``, or with ``code`` the program ``python -c code args...``."""
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        argv = ["-c", code, *args] if code is not None else [str(TESTS / script), *args]
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    @property
    def stderr(self) -> str:
        """The last lines the child wrote to stderr."""
        return "".join(self._stderr)

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout_s: float) -> str:
        """The next line starting with ``prefix`` (other lines are skipped); AssertionError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} from the child within {timeout_s} s; stderr:\n{self.stderr}") from None
            if line is None:
                raise AssertionError(f"the child exited before {prefix!r}; stderr:\n{self.stderr}")
            if line.startswith(prefix):
                return line

    def wait_ready(self) -> WarmProcess:
        """Block until the child printed ``ready``."""
        self.expect("ready", READY_TIMEOUT_S)
        return self

    def alive(self) -> bool:
        """Whether the child is still running."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the child (if alive) and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


def wait_healthy(url: str, timeout_s: float = 30.0) -> None:
    """Block until ``GET url/health`` answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} not healthy within {timeout_s} s")
        time.sleep(0.02)


def store_outbox(path: Path) -> tuple[list[tuple[str, int, str, str, str]], int]:
    """A terminal's committed outbox, read-only: ``[(id, seq, type, occurred_at, payload)]`` by
    seq, and how many of them are still unacknowledged."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT id, seq, type, occurred_at, payload FROM outbox ORDER BY seq").fetchall()
        pending = conn.execute("SELECT count(*) FROM outbox WHERE acked_at IS NULL").fetchone()[0]
    finally:
        conn.close()
    return rows, pending


def wait_until(predicate, timeout_s: float, step_s: float = 0.02, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(step_s)
