"""Put the hall ticket machine together from its config: store, queue, code checks, register, devices.

Everything that can be wrong at start (a missing key file, an unreadable register) stops
with one line naming the setting, like a config error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.canteen.card_data import card_facts, online_check
from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.canteen.payments import CardPayments
from kiosk.canteen.wallet import CardLimits
from kiosk.codes.city_service import CityCodeService
from kiosk.codes.tokens import TokenVerifier, TrustList
from kiosk.config import ConfigError, TerminalConfig
from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.alerts import AlertBoard
from kiosk.hall.checkin.flow import FlowSettings
from kiosk.hall.checkin.terminal import HallDevices, HallServices, HallTerminal
from kiosk.hall.service_server import serve_hall
from kiosk.hall.services import HALL_TZ
from kiosk.hall.staff import StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.hall.topups import TOPUP_MIGRATIONS, HallTopups
from kiosk.hall.volunteer.shifts import VOLUNTEER_MIGRATIONS, VolunteerShifts
from kiosk.priority import PriorityRegister, load_key, person_key
from kiosk.runtime.compose import TerminalBase, open_base
from kiosk.runtime.health import DeviceSupervisor
from kiosk.store import Store
from kiosk.visit_log import VISIT_MIGRATIONS, PurgeScheduler, VisitLog
from kiosk.voice import Speaker
from sync.client import SyncClient


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


def flow_settings(config: TerminalConfig, services: ServiceCatalog) -> FlowSettings:
    """The check-in flow's thresholds from the config: ``thresholds.idle_timeout_s`` is how long a screen
    that waits for the resident's choice stays (service tiles with a card held, "present", reprint offer)."""
    idle = config.thresholds.idle_timeout_s
    only = services.codes[0] if len(services.codes) == 1 else None  # one service: a swipe needs no choice
    return FlowSettings(fever_c=config.thresholds.fever_c, idle_timeout_s=idle, offer_screen_s=idle,
                        only_service=only)


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
    """A running hall ticket machine: the shared terminal base plus the hall's own parts."""

    config: TerminalConfig
    base: TerminalBase  # store, drivers, speaker, device supervisor, sync client, reference data
    queue: HallQueue
    terminal: HallTerminal
    purge: PurgeScheduler
    city: CityCodeService | None
    alerts: AlertBoard  # staff alerts: raised by the terminal, shown on the counters
    topups: HallTopups | None = None  # community-card top-ups the counters take (journal + outbox in this store)
    service_url: str | None = None  # the LAN queue service counters and displays use

    @property
    def store(self) -> Store:
        """The hall's SQLite store."""
        return self.base.store

    @property
    def drivers(self) -> dict[str, Any]:
        """The hall's device drivers by name."""
        return self.base.drivers

    @property
    def speaker(self) -> Speaker:
        """The voice of the ticket machine."""
        return self.base.speaker

    @property
    def sync(self) -> SyncClient | None:
        """The client pushing the outbox to the central service, when enrolled."""
        return self.base.sync

    @property
    def health(self) -> DeviceSupervisor:
        """Every device's health: strip, alerts, heartbeats."""
        return self.base.health

    def close(self) -> None:
        """Stop the check-in and the hall's services, then the shared base (sync, devices, store)."""
        self.base.close()


def open_hall(config: TerminalConfig, *, speaker: Speaker | None = None, language: Callable[[], str] | None = None,
              serve_lan: bool = True, **callbacks: Any) -> HallApp:
    """Open the hall's store, queue, services and devices and start the check-in (``callbacks`` → HallTerminal)."""
    key = read_person_key(config)
    catalog, rule = hall_queue_parts(config)  # a bad service list stops here, before anything is open
    trust_seed = None  # register and issuer keys follow what sync pulled; these files are only the offline seed
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
    base = open_base(config, migrations=(HALL_MIGRATIONS, VISIT_MIGRATIONS, STAFF_ALERT_MIGRATIONS, CANTEEN_MIGRATIONS,
                                         TOPUP_MIGRATIONS, VOLUNTEER_MIGRATIONS), speaker=speaker)
    try:
        queue = HallQueue(base.store, catalog, rule)
        return _compose_hall(config, base, queue, key, trust_seed, register_seed, language, serve_lan, callbacks)
    except BaseException:
        base.close()  # nothing opened is left behind when the hall cannot start
        raise


def hall_topups(base: TerminalBase) -> HallTopups:
    """The hall's community-card top-ups: its card journal, card facts from its pulled reference data.

    A top-up never needs a balance, so the payment limits are only the defaults (they are not used).
    """
    now = lambda: datetime.now(HALL_TZ)  # noqa: E731  # the hall's local day, as its tickets
    limits = CardLimits()
    payments = CardPayments(base.store, card_facts(base.reference, base.store), limits, now,
                            online_check(base.store, limits.fresh_s, now))
    return HallTopups(payments)


def card_holder(base: TerminalBase) -> Callable[[str], str | None]:
    """A community card's holder person key from the pulled card list (None: not listed, or no holder named)."""
    def holder(card_no: str) -> str | None:
        entry = (base.reference.cards() or {}).get(card_no)
        return entry.h if entry is not None else None

    return holder


def _compose_hall(config: TerminalConfig, base: TerminalBase, queue: HallQueue, key: bytes, trust_seed: TrustList | None,
                  register_seed: PriorityRegister | None, language: Callable[[], str] | None, serve_lan: bool,
                  callbacks: dict[str, Any]) -> HallApp:
    """The hall's own parts on an open base around its queue; started and returned."""
    store = base.store
    city = None
    if config.codes.service_url:
        city = CityCodeService(config.codes.service_url, key, timeout_s=config.thresholds.code_lookup_timeout_s,
                               fallback=config.codes.fallback, freshness_s=config.codes.cache_freshness_s,
                               verify=config.codes.ca_bundle or True)
        base.closers.append(city.close)
    visits = VisitLog(store, key, config.privacy.visit_retention_days)
    alerts = AlertBoard(store)  # one board: the terminal raises alerts, the LAN service pushes them to counters
    purge = PurgeScheduler.from_config(  # visits, tickets, alerts (masked names) and acknowledged outbox rows
        visits, config, tickets=lambda act, cutoff: queue.purge_tickets(act, cutoff) + alerts.purge(act, cutoff))
    services = HallServices(
        queue=queue, person_key=lambda id_number: person_key(id_number, key),
        tokens=TokenVerifier(base.reference.live_trust(trust_seed), skew_s=config.codes.token_skew_s), visits=visits,
        speaker=base.speaker, city=city, fallback=config.codes.fallback,
        priority=base.reference.live_register(key, register_seed), terminal_id=config.terminal_id,
        language=language or (lambda: config.language), alerts=alerts, health=base.health,
        volunteers=VolunteerShifts(store, base.reference.volunteer_roster), card_holder=card_holder(base))
    terminal = HallTerminal(HallDevices(**base.drivers), services, flow_settings(config, queue.services), **callbacks)
    base.on_device_change = terminal.device_changed  # one alert down, one up, nothing on screen
    base.closers[:0] = [terminal.stop, purge.stop]  # the check-in stops before the devices close
    app = HallApp(config, base, queue, terminal, purge, city, alerts, hall_topups(base))
    if config.lan is not None and serve_lan:
        host, port = (config.hall.bind if config.hall else "127.0.0.1:8710").rsplit(":", 1)
        try:
            server = serve_hall(queue, config.lan.secret, host, int(port), staff=StaffRegistry(store, key),
                                alerts=alerts, topups=app.topups)
        except Exception as exc:
            raise _startup_error("hall.bind", exc) from None  # open_hall closes what is open
        app.service_url = server.url
        base.closers.insert(1, server.stop)
    purge.start()
    terminal.start()
    base.start()
    return app
