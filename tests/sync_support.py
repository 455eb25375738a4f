"""The real central service for the sync client's tests: run in-process (a uvicorn thread) or as
a child, enrol terminals, load reference data, and read back what it stored.

Everything goes through the central's own code (:func:`sync.central.app.create_app`,
:class:`sync.central.server.CentralServer`, :class:`sync.central.storage.CentralStore`); only :func:`central_events` reads the ``events``
table directly, to compare full bodies with a terminal's outbox.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sync.central.app import create_app
from sync.central.reference import RowChange
from sync.central.server import CentralServer
from sync.central.storage import CentralStore, TerminalState
from sync.central.sync_api.schema import events, heartbeats
from tests.sync_fixtures import wait_healthy

#: Seconds the in-process central has to start or stop.
START_TIMEOUT_S = 30.0


class CentralHarness:
    """One central database; its HTTP service can be started and stopped (on a chosen port)."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        self.admin_token = secrets.token_hex(16)
        self.store = CentralStore.open(self.db)
        self._server: CentralServer | None = None
        self.port = 0
        self.started_at = 0.0  # monotonic time the service last answered /health

    @staticmethod
    def clock() -> float:
        """The clock :attr:`started_at` is on (monotonic seconds)."""
        return time.monotonic()

    @property
    def url(self) -> str:
        """Base URL of the running service."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the running service, for a proxy's upstream."""
        return ("127.0.0.1", self.port)

    def start(self, port: int | None = None) -> None:
        """Serve the API on ``port`` (a free one if None) in a thread; returns once it is healthy."""
        self._server = CentralServer(create_app(self.store, admin_token=self.admin_token), port=port or 0)
        self._server.start(START_TIMEOUT_S)
        self.port = self._server.port
        wait_healthy(self.url, START_TIMEOUT_S)
        self.started_at = time.monotonic()

    def stop_service(self) -> None:
        """Stop serving (the network is down for the terminals); the database stays open."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def start_service(self) -> None:
        """Serve again on the same port (the network is back)."""
        self.start(self.port)

    def stop(self) -> None:
        """Stop the service (if running) and close the harness's own database handle."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.store.close()

    # -- administration through the central's storage API ----------------------------------

    def enrol(self, terminal_id: str, site: str, role: str = "hall") -> str:
        """Enrol ``terminal_id`` at ``site``; returns its bearer token."""
        return self.store.enrol(role, site, terminal_id).token  # type: ignore[arg-type]

    def revoke(self, terminal_id: str) -> None:
        """Refuse ``terminal_id`` from now on."""
        self.store.revoke(terminal_id, "test")

    def load(self, site: str, kind: str, rows: Iterable[tuple[str, dict[str, Any] | None]]) -> None:
        """Upsert (data) or delete (None) reference rows ``(key, data)`` of ``kind`` at ``site``."""
        changes = [RowChange(key, "upsert" if data is not None else "delete", data) for key, data in rows]
        self.store.apply_reference(site, kind, changes)

    # -- reading back ----------------------------------------------------------------------

    def seqs(self, terminal_id: str) -> list[int]:
        """Every seq stored for ``terminal_id``, ascending."""
        return self.store.stored_seqs(terminal_id)

    def events(self, terminal_id: str) -> list[tuple[str, int, str, str, str]]:
        """``[(id, seq, type, occurred_at, payload)]`` stored for ``terminal_id``, by seq."""
        return central_events(self.store, terminal_id)

    def terminal_state(self, terminal_id: str) -> TerminalState:
        """The central's view of one terminal (highest seq, missing, last heartbeat, outbox)."""
        return next(s for s in self.store.terminal_states() if s.terminal_id == terminal_id)

    def heartbeat_devices(self, terminal_id: str) -> dict[str, Any]:
        """The devices of the terminal's last heartbeat."""
        with self.store.engine.connect() as conn:
            text = conn.execute(select(heartbeats.c.devices).where(heartbeats.c.terminal_id == terminal_id)).scalar()
        return json.loads(text)


def central_events(store: CentralStore, terminal_id: str) -> list[tuple[str, int, str, str, str]]:
    """``[(id, seq, type, occurred_at, payload)]`` stored for ``terminal_id``, by seq."""
    query = (
        select(events.c.id, events.c.seq, events.c.type, events.c.occurred_at, events.c.payload)
        .where(events.c.terminal_id == terminal_id)
        .order_by(events.c.seq)
    )
    with store.engine.connect() as conn:
        return [(r.id, int(r.seq), r.type, r.occurred_at, r.payload) for r in conn.execute(query)]

