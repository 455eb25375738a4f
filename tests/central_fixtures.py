"""A running central (real uvicorn on loopback) over either backend, and helpers to talk to it.

    def test_x(central):                       # parametrized: [sqlite] and [postgresql]
        token = central.enrol("hall-01", site="site-a")
        with central.client(token) as c:
            r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1)]))
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sync.central.app import create_app
from sync.central.server import CentralServer
from sync.central.storage import CentralStore
from sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
START_TIMEOUT_S = 60.0  # longest wait for a central process to listen and answer
HTTP_TIMEOUT_S = 20.0  # per request in tests


def event(terminal_id: str, seq: int, payload: dict[str, Any] | None = None, event_id: str | None = None,
          type_: str = "ticket.issued") -> dict[str, Any]:
    """An event envelope as JSON, with a fresh id unless one is given."""
    return {
        "id": event_id or str(uuid.uuid4()), "terminal_id": terminal_id, "seq": seq, "type": type_,
        "occurred_at": dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat(),
        "payload": payload if payload is not None else {"n": seq}, "schema": 1,
    }


def push_body(terminal_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """A push request body."""
    return {"terminal_id": terminal_id, "events": events}


def central_process(db: str, log: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m sync.central`` on a free loopback port, its JSON log in ``log``; returns it and its URL."""
    with open(log, "w", encoding="utf-8") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "sync.central", "--db", db, "--bind", "127.0.0.1:0",
                                 "--log-level", "info", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=log_file, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"listening on (http\S+)", line)
    if not match:
        proc.kill()
        proc.communicate(timeout=10)
        raise AssertionError(f"no listening line: {line!r}; log: {log.read_text(encoding='utf-8')[-2000:]}")
    return proc, match.group(1)


def wait_ready(url: str, workers: int = 1, verify: Any = True) -> None:
    """Until /health has answered a few fresh connections (2 per worker, so later workers are up too)."""
    served = 0
    for _ in range(int(START_TIMEOUT_S / 0.05)):
        try:
            if httpx.get(url + "/health", timeout=5, verify=verify).status_code == 200:
                served += 1
                if served >= 2 * workers:
                    return
        except httpx.TransportError:
            threading.Event().wait(0.05)
    raise AssertionError(f"{url} never became healthy")


@dataclass
class RunningCentral:
    """A central served on loopback, its store and its admin token."""

    url: str
    store: CentralStore
    app: FastAPI
    admin_token: str = ADMIN_TOKEN

    def enrol(self, terminal_id: str, site: str = "site-a", role: str = "hall") -> str:
        """Enrol a terminal directly in the store; returns its token."""
        return self.store.enrol(role, site, terminal_id).token  # type: ignore[arg-type]

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client for the central, with ``token`` as bearer if given."""
        headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=HTTP_TIMEOUT_S)


@pytest.fixture
def central(central_db_url: str) -> Iterator[RunningCentral]:
    """A central over a fresh database of each backend, serving on 127.0.0.1:<free port>."""
    store = CentralStore.open(central_db_url)
    app = create_app(store, admin_token=ADMIN_TOKEN)
    server = CentralServer(app)
    try:
        url = server.start()
        yield RunningCentral(url, store, app)
    finally:
        server.stop()
        store.close()
