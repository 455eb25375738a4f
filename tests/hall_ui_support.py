"""Helpers of the counter and display UI tests: the test hall's services and secret, configs, tickets.

The fixtures that use them live in :mod:`tests.hall_ui_fixtures` (loaded with ``pytest_plugins``).
"""

from __future__ import annotations

from pathlib import Path

from kiosk.config import Counter as CounterConfig
from kiosk.config import Lan, TerminalConfig, load_config
from kiosk.hall import HallQueue, Ticket
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.status import ComponentStatus

SECRET = "linfen-hall-secret-0123456789"
SERVICES = [
    {"code": "A", "name_zh": "综合受理", "name_en": "General services", "daily_cap": 999},
    {"code": "B", "name_zh": "社保医保", "name_en": "Social and medical insurance", "daily_cap": 999},
    {"code": "C", "name_zh": "为老服务", "name_en": "Services for older residents", "daily_cap": 999},
]


class Service:
    """The hall service on a fixed loopback port that a test can stop and start again."""

    def __init__(self, queue: HallQueue) -> None:
        self.queue = queue
        self.server = HallServer(create_app(queue, SECRET, keepalive_s=0.5))
        self.url = self.server.start()
        self.port = self.server.port

    def stop(self) -> None:
        """Take the service down (open streams end, new connections are refused)."""
        self.server.stop()

    def restart(self) -> None:
        """Serve again on the same port."""
        self.server = HallServer(create_app(self.queue, SECRET, keepalive_s=0.5), port=self.port)
        self.server.start()


def take(queue: HallQueue, service: str, n: int, **kwargs: object) -> Ticket:
    """Issue a ticket to resident ``n`` (a masked name, an opaque person key)."""
    return queue.take_ticket(service, "k" * 32 + str(n), masked_name="张*明", **kwargs).ticket  # type: ignore[arg-type]


def role_config(examples: Path, role: str, url: str, window: int = 3,
                services: tuple[str, ...] = ("A", "B")) -> TerminalConfig:
    """The example config of ``role`` pointed at ``url`` with the test secret."""
    config = load_config(examples / f"{role}.toml")
    update: dict[str, object] = {"hall_url": url, "lan": Lan(secret=SECRET)}
    if role == "counter":
        update["counter"] = CounterConfig(window=window, services=services)
    return config.model_copy(update=update)


def statuses(hall_up: bool, keys: tuple[str, ...] = ()) -> list[ComponentStatus]:
    """A status strip's answer without probing hardware: the given devices up, the hall up or down."""
    return [*(ComponentStatus(k, True, "ok") for k in keys),
            ComponentStatus("hall", hall_up, "ok" if hall_up else "not reachable"),
            ComponentStatus("central", True, "ok")]
