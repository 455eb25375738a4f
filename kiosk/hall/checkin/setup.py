"""Put the hall ticket machine together from its config: store, queue, code checks, register, devices.

Everything that can be wrong at start (a missing key file, an unreadable register) stops
with one line naming the setting, like a config error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.codes.city_service import CityCodeService
from kiosk.codes.tokens import TokenVerifier, TrustList
from kiosk.config import ConfigError, TerminalConfig
from kiosk.devices import close_driver, open_driver
from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.alerts import AlertBoard
from kiosk.hall.checkin.flow import FlowSettings
from kiosk.hall.checkin.terminal import HallDevices, HallServices, HallTerminal
from kiosk.hall.service_server import serve_hall
from kiosk.hall.staff import StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.priority import PriorityRegister, load_key, person_key
from kiosk.runtime.health import DeviceSupervisor
from kiosk.store import Store
from kiosk.visit_log import VISIT_MIGRATIONS, PurgeScheduler, VisitLog
from kiosk.voice import Speaker
from sync.apply import MIGRATIONS as SYNC_MIGRATIONS
from sync.client import SyncClient
from sync.protocol import DeviceState

HALL_DEVICE_NAMES = ("idcard", "sscard", "qr_camera", "qr_scanner", "thermometer", "printer")


def _startup_error(setting: str, exc: Exception) -> ConfigError:
    return ConfigError(f"{setting}: {exc}")


def hall_queue_parts(config: TerminalConfig) -> tuple[ServiceCatalog, CallingRule]:
    """The service catalogue and calling rule of a hall config."""
    hall = config.hall
    if hall is None:
        from kiosk.config import Hall

        hall = Hall()
    catalog = ServiceCatalog.from_data([s.model_dump() for s in hall.services])
    rule = CallingRule(mode=hall.rule, priority_n=hall.ratio_priority, normal_m=hall.ratio_normal,
                       max_wait_min=hall.max_wait_min)
    return catalog, rule


WARNING_BEFORE_S = 10.0  # a screen that waits for the resident warns this long before it resets, in seconds


def flow_settings(config: TerminalConfig, default_service: str) -> FlowSettings:
    """The check-in flow's thresholds from the config (``thresholds.idle_timeout_s``: the reprint offer's wait)."""
    idle = config.thresholds.idle_timeout_s
    return FlowSettings(fever_c=config.thresholds.fever_c, default_service=default_service,
                        offer_screen_s=idle, offer_warning_s=max(0.0, idle - WARNING_BEFORE_S))


def read_person_key(config: TerminalConfig) -> bytes:
    """The deployment's person key, or a clear error naming the setting."""
    path = config.privacy.person_key_file
    if not path:
        raise ConfigError("privacy.person_key_file: missing; the hall matches people on a keyed hash and needs it")
    try:
        return load_key(path)
    except Exception as exc:
        raise _startup_error("privacy.person_key_file", exc) from None


@dataclass
class HallApp:
    """A running hall ticket machine and everything it owns."""

    config: TerminalConfig
    store: Store
    queue: HallQueue
    terminal: HallTerminal
    drivers: dict[str, Any]
    speaker: Speaker
    purge: PurgeScheduler
    city: CityCodeService | None
    service_url: str | None = None  # the LAN queue service counters and displays use
    alerts: AlertBoard | None = None  # staff alerts: raised by the terminal, shown on the counters
    sync: SyncClient | None = None  # pushes the outbox to the central service when enrolled
    health: DeviceSupervisor | None = None  # every device's health: strip, alerts, heartbeats
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the terminal, then close drivers, clients and the store."""
        if self.health is not None:
            self.health.stop()
        self.terminal.stop()
        self.purge.stop()
        for driver in self.drivers.values():
            try:
                close_driver(driver)
            except Exception:  # closing must reach every driver
                pass
        if self.city is not None:
            self.city.close()
        self.speaker.close()
        for closer in self.closers:
            closer()
        self.store.close()


def open_hall(config: TerminalConfig, *, speaker: Speaker | None = None, language: Callable[[], str] | None = None,
              serve_lan: bool = True, **callbacks: Any) -> HallApp:
    """Open the hall's store, queue, services and devices and start the check-in (``callbacks`` → HallTerminal)."""
    key = read_person_key(config)
    store = Store.open(config.store_path(), config.terminal_id,
                       extra_migrations=(HALL_MIGRATIONS, VISIT_MIGRATIONS, SYNC_MIGRATIONS,
                                         STAFF_ALERT_MIGRATIONS))
    catalog, rule = hall_queue_parts(config)
    queue = HallQueue(store, catalog, rule)
    # Register and issuer keys follow what sync pulled (kiosk.reference); the [reference] files are
    # only the offline seed, used while the pulled data holds none of that kind.
    from kiosk.reference import ReferenceData

    trust_seed = None
    if config.reference.trust_keys:
        try:
            trust_seed = TrustList.load(config.reference.trust_keys)
        except Exception as exc:
            raise _startup_error("reference.trust_keys", exc) from None
    register_seed = None
    if config.reference.priority_register:
        try:
            register_seed = PriorityRegister.load(config.reference.priority_register, key)
        except Exception as exc:
            raise _startup_error("reference.priority_register", exc) from None
    reference = ReferenceData(store)  # its watcher ends when the store is closed
    trust = reference.live_trust(trust_seed)
    register = reference.live_register(key, register_seed)
    city = None
    if config.codes.service_url:
        city = CityCodeService(config.codes.service_url, key, timeout_s=config.thresholds.code_lookup_timeout_s,
                               fallback=config.codes.fallback, freshness_s=config.codes.cache_freshness_s,
                               verify=config.codes.ca_bundle or True)
    visits = VisitLog(store, key, config.privacy.visit_retention_days)
    purge = PurgeScheduler.from_config(visits, config, tickets=queue.purge_tickets)  # visits, tickets, acked outbox
    purge.start()
    speaker = speaker or Speaker(config.voice.enabled, config.voice.volume)
    drivers = {name: open_driver(name, dev) for name, dev in config.devices.configured().items()
               if name in HALL_DEVICE_NAMES}
    services = HallServices(
        queue=queue, person_key=lambda id_number: person_key(id_number, key),
        tokens=TokenVerifier(trust, skew_s=config.codes.token_skew_s), visits=visits, speaker=speaker, city=city,
        fallback=config.codes.fallback, priority=register, terminal_id=config.terminal_id,
        language=language or (lambda: config.language))
    settings = flow_settings(config, catalog.codes[0])
    terminal = HallTerminal(HallDevices(**drivers), services, settings, **callbacks)
    health = DeviceSupervisor(drivers, on_change=terminal.device_changed)  # one alert down, one up, nothing on screen
    services.health = health  # the card loops feed it what they see
    app = HallApp(config, store, queue, terminal, drivers, speaker, purge, city, health=health)
    alerts = AlertBoard(store)  # one board: the terminal raises alerts, the LAN service pushes them to counters
    app.alerts = services.alerts = alerts
    if config.lan is not None and serve_lan:
        host, port = (config.hall.bind if config.hall else "127.0.0.1:8710").rsplit(":", 1)
        try:
            server = serve_hall(queue, config.lan.secret, host, int(port), staff=StaffRegistry(store, key),
                                alerts=alerts)
        except Exception as exc:
            app.close()
            raise _startup_error("hall.bind", exc) from None
        app.service_url = server.url
        app.closers.append(server.stop)
    app.sync = start_sync(config, store, device_status=health.device_states)
    if app.sync is not None:
        app.closers.insert(0, app.sync.stop)
    terminal.start()
    health.start()
    return app


def read_token(config: TerminalConfig) -> str | None:
    """This terminal's bearer token for the central service, or None when it is not enrolled."""
    if not config.sync.token_file:
        return None
    try:
        token = open(config.sync.token_file, encoding="utf-8").read().strip()
    except OSError as exc:
        raise _startup_error("sync.token_file", exc) from None
    if not token:
        raise ConfigError(f"sync.token_file: {config.sync.token_file} is empty")
    return token


def start_sync(config: TerminalConfig, store: Store,
               device_status: Callable[[], Mapping[str, DeviceState]] | None = None) -> SyncClient | None:
    """Start pushing the outbox and pulling reference data, if the terminal is enrolled (heartbeats carry devices)."""
    token = read_token(config)
    if token is None:
        return None
    client = SyncClient(store, config.central_url, token, verify=config.sync.ca_bundle or True,
                        device_status=device_status)
    client.start()
    return client
