"""What every terminal with its own store is made of, opened the same way for each role.

    base = open_base(config, migrations=(HALL_MIGRATIONS, ...))   # store, drivers, speaker, supervisor, sync, reference
    ... the role builds its queue / flow / services on base.store and base.drivers ...
    base.on_device_change = terminal.device_changed               # one alert down, one up
    base.start()                                                  # supervisor and sync client
    ...
    base.close()                                                  # in reverse: sync, supervisor, drivers, speaker, store

A role's composition (``kiosk.hall.checkin.setup``; the canteen's, cinema's and self-service's
next) adds only what is its own.  The role's devices come from the role registry
(:mod:`common.roles`), so a role never opens a device it does not use.  Everything that can be
wrong at start stops with one line naming the setting (:class:`~kiosk.config.ConfigError`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from common.roles import ROLES
from kiosk.config import ConfigError, TerminalConfig
from kiosk.devices import close_driver, driver_options, open_driver
from kiosk.reference import ReferenceData
from kiosk.runtime.health import DeviceHealth, DeviceSupervisor
from kiosk.store import Store
from kiosk.voice import Speaker
from sync.apply import MIGRATIONS as SYNC_MIGRATIONS
from sync.client import SyncClient

log = logging.getLogger(__name__)


def read_token(config: TerminalConfig) -> str | None:
    """This terminal's bearer token for the central service, or None when it is not enrolled."""
    if not config.sync.token_file:
        return None
    try:
        token = open(config.sync.token_file, encoding="utf-8").read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sync.token_file: {exc}") from None
    if not token:
        raise ConfigError(f"sync.token_file: {config.sync.token_file} is empty")
    return token


@dataclass
class TerminalBase:
    """A terminal's store, drivers, speaker, device supervisor, sync client and pulled reference data."""

    config: TerminalConfig
    store: Store
    drivers: dict[str, Any]
    speaker: Speaker
    health: DeviceSupervisor
    reference: ReferenceData
    sync: SyncClient | None = None
    on_device_change: Callable[[DeviceHealth], None] | None = None  # the role's: usually one staff alert
    closers: list[Callable[[], None]] = field(default_factory=list)  # the role's own, run first on close
    _started: bool = False
    _closed: bool = False

    def _device_changed(self, health: DeviceHealth) -> None:
        if self.on_device_change is not None:
            self.on_device_change(health)

    def start(self) -> None:
        """Start watching devices and syncing with the central service (once)."""
        if self._started:
            return
        self._started = True
        self.health.start()
        if self.sync is not None:
            self.sync.start()

    def close(self) -> None:
        """Close the role's parts, then sync, supervisor, drivers, speaker and the store; every step is tried (once)."""
        if self._closed:
            return
        self._closed = True
        steps: list[Callable[[], None]] = [*self.closers]
        if self.sync is not None:
            steps.append(self.sync.stop)
        steps += [self.health.stop, self.reference.close]
        steps += [lambda d=driver: close_driver(d) for driver in self.drivers.values()]
        steps += [self.speaker.close, self.store.close]
        for step in steps:
            try:
                step()
            except Exception:  # closing must reach everything
                log.exception("closing %s", getattr(step, "__qualname__", step))


def load_seed(setting: str, path: str | None, load: Callable[[str], Any], empty: Any = None) -> Any:
    """A role's offline seed file (used while sync has pulled none of its kind): ``empty`` without a path,
    else what ``load(path)`` reads; anything wrong is one :class:`ConfigError` line naming ``setting``."""
    if not path:
        return empty
    try:
        return load(path)
    except Exception as exc:
        raise ConfigError(f"{setting}: {exc}") from None


def open_drivers(config: TerminalConfig) -> dict[str, Any]:
    """The drivers of the configured devices the role uses (not started); all closed again if one fails."""
    spec = ROLES[config.role]
    drivers: dict[str, Any] = {}
    try:
        for name, device in config.devices.configured().items():
            if name in spec.devices:
                drivers[name] = open_driver(name, device, **driver_options(config, name))
    except Exception:
        for driver in drivers.values():
            close_driver(driver)
        raise
    return drivers


def open_base(config: TerminalConfig, *, migrations: Iterable[Any] = (), speaker: Speaker | None = None) -> TerminalBase:
    """Open the store (with the role's migrations and sync's), the role's drivers, speaker, supervisor and sync client.

    Nothing runs yet: call :meth:`TerminalBase.start` once the role has wired ``on_device_change``.
    """
    token = read_token(config)  # a bad token file stops here, before anything is open
    store = Store.open(config.store_path(), config.terminal_id, extra_migrations=(*migrations, SYNC_MIGRATIONS))
    try:
        drivers = open_drivers(config)
    except Exception:
        store.close()
        raise
    speaker = speaker or Speaker(config.voice.enabled, config.voice.volume)
    base = TerminalBase(config, store, drivers, speaker, health=None, reference=ReferenceData(store))  # type: ignore[arg-type]
    base.health = DeviceSupervisor(drivers, on_change=base._device_changed)
    if token is not None:
        base.sync = SyncClient(store, config.central_url, token, verify=config.sync.ca_bundle or True,
                               device_status=base.health.device_states)
    return base
