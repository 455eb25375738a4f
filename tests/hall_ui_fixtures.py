"""Fixtures of the counter and display UI tests: a real hall queue service on loopback over a fresh store."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.store import Store
from tests.hall_ui_support import SERVICES, Service


@pytest.fixture
def hall_store(tmp_path: Path) -> Iterator[Store]:
    """The hall's store with the queue tables."""
    store = Store.open(tmp_path / "hall.db", "hall-01", extra_migrations=(HALL_MIGRATIONS,))
    yield store
    store.close()


@pytest.fixture
def hall_queue(hall_store: Store) -> HallQueue:
    """A strict-rule queue with three all-day services."""
    return HallQueue(hall_store, ServiceCatalog.from_data(SERVICES), CallingRule("strict"))


@pytest.fixture
def hall_service(hall_queue: HallQueue) -> Iterator[Service]:
    """The hall service over ``hall_queue`` on loopback."""
    service = Service(hall_queue)
    yield service
    service.stop()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (for a service that is down from the start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
