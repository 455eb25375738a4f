"""The hall ticket machine at work: devices and services feed the check-in flow, its effects are carried out.

One event-loop thread owns the :class:`~kiosk.hall.checkin.flow.CheckInFlow`; reader threads
(ID card, social-security card) and the QR drivers' callbacks turn readings into events;
slow effects (thermometer, city code lookup, printing) run on a small pool and answer
with events.  Screens and speech leave through two callbacks, so the UI (or a headless
demo) decides what to do with them; nothing here imports Qt.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from drivers.errors import DriverError
from drivers.pcsc_common import NoCardError
from kiosk.codes.city_service import CityCodeService
from kiosk.hall.checkin import events as ev
from kiosk.hall.checkin.flow import CheckInFlow, FlowSettings
from kiosk.hall.errors import HallError
from kiosk.hall.queue import HallQueue
from kiosk.identity.readings import identity_from_card, identity_from_qr
from kiosk.masking import mask_name
from kiosk.priority import PriorityRegister, age_on, birth_from_id, parse_birth
from kiosk.prompts import prompt_text
from kiosk.visit_log import Visit, VisitLog
from kiosk.voice import Speaker, spell_ticket

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often time is fed to the flow, in seconds
CARD_POLL_S = 0.02  # how often the card readers look for a card, in seconds
THERMOMETER_TIMEOUT_S = 2.0  # longest wait for one temperature reading, in seconds
ERROR_REPORT_GAP_S = 30.0  # a device's repeated failures are reported at most this often, in seconds


@dataclass
class HallDevices:
    """The hall's drivers; any may be missing (None) on a given machine."""

    idcard: Any = None
    sscard: Any = None
    qr_camera: Any = None
    qr_scanner: Any = None
    thermometer: Any = None
    printer: Any = None


@dataclass
class HallServices:
    """Everything the flow's effects need besides devices."""

    queue: HallQueue
    person_key: Callable[[str], str]
    tokens: Any  # kiosk.codes.tokens.TokenVerifier
    visits: VisitLog
    speaker: Speaker
    city: CityCodeService | None = None
    fallback: str = "staff_check"
    priority: PriorityRegister | None = None
    hall_title: str = "临汾路街道社区事务受理服务中心"
    terminal_id: str = "hall"
    language: Callable[[], str] = lambda: "zh"


@dataclass
class VisitTiming:
    """How long one resident took, and how much of it was waiting on devices."""

    identified_at: float  # time.monotonic() the identification was complete
    finished_at: float  # ticket committed, on screen and accepted by the printer
    device_s: float  # thermometer and printer time on the way
    number: str
    printed: bool


@dataclass
class _Pending:
    device_s: float = 0.0
    identified_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class HallTerminal:
    """Runs the check-in for the hall ticket machine."""

    def __init__(self, devices: HallDevices, services: HallServices, settings: FlowSettings | None = None,
                 on_show: Callable[[ev.Show], None] = lambda s: None,
                 on_say: Callable[[str, dict[str, Any]], None] = lambda k, p: None,
                 on_visit_done: Callable[[VisitTiming], None] = lambda t: None,
                 on_alert: Callable[[ev.Alert], None] = lambda a: None):
        self.devices = devices
        self.services = services
        self.flow = CheckInFlow(settings)
        self.on_show = on_show
        self.on_say = on_say
        self.on_visit_done = on_visit_done
        self.on_alert = on_alert
        self._events: queue.Queue[ev.Event | tuple[str, Any] | None] = queue.Queue()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hall-io")
        self._threads: list[threading.Thread] = []
        self._pending = _Pending()
        self._last_error_report: dict[str, float] = {}
        self.visits_done = 0
        self.errors: list[str] = []  # effect failures, for diagnostics

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> HallTerminal:
        """Start the event loop, the clock, the card readers and the QR drivers."""
        self._spawn(self._event_loop, "hall-flow")
        self._spawn(self._ticker, "hall-tick")
        for name in ("idcard", "sscard"):
            if getattr(self.devices, name) is not None:
                self._spawn(lambda n=name: self._card_loop(n), f"hall-{name}")
        for name in ("qr_camera", "qr_scanner"):
            driver = getattr(self.devices, name)
            if driver is not None:
                driver.sink.callback = lambda result, n=name: self._qr_result(n, result)
                driver.start()
        return self

    def stop(self) -> None:
        """Stop every thread (the drivers are closed by their owner)."""
        self._stop.set()
        self._events.put(None)
        for name in ("qr_camera", "qr_scanner"):
            driver = getattr(self.devices, name)
            if driver is not None:
                driver.sink.callback = None
        for t in self._threads:
            t.join(timeout=3)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    # -- inputs from the UI ---------------------------------------------------------------
    def submit(self, event: ev.Event) -> None:
        """Feed an event to the flow (any thread)."""
        self._events.put(event)

    def ui(self, command: str) -> None:
        """A button on the screen: ``service:X``, ``reprint``, ``dismiss``, ``extend``."""
        self._events.put(("ui", command))

    # -- the event loop -------------------------------------------------------------------
    def _event_loop(self) -> None:
        self._run_effects(self.flow.handle(ev.Tick(time.monotonic())) + [ev.Show("idle", {
            "service": self.flow.service})])
        while not self._stop.is_set():
            item = self._events.get()
            if item is None:
                return
            try:
                if isinstance(item, tuple):
                    effects = self._ui_command(item[1])
                else:
                    if isinstance(item, ev.Identified):
                        self._pending = _Pending(identified_at=item.at)
                    effects = self.flow.handle(item)
                self._run_effects(effects)
            except Exception as exc:  # one bad event must not stop the hall
                log.exception("hall: event %r failed", item)
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _ui_command(self, command: str) -> list[ev.Effect]:
        if command.startswith("service:"):
            return self.flow.choose_service(command.split(":", 1)[1])
        if command == "reprint":
            return self.flow.handle(ev.ReprintChosen())
        if command == "dismiss":
            return self.flow.handle(ev.Dismissed())
        if command == "extend":
            return self.flow.extend()
        return []

    def _ticker(self) -> None:
        while not self._stop.wait(TICK_S):
            self._events.put(ev.Tick(time.monotonic()))

    def _run_effects(self, effects: list[ev.Effect]) -> None:
        for effect in effects:
            try:
                self._run_effect(effect)
            except Exception as exc:
                log.exception("hall: effect %r failed", effect)
                self.errors.append(f"{type(effect).__name__}: {exc}")

    def _run_effect(self, e: ev.Effect) -> None:
        s = self.services
        if isinstance(e, ev.Show):
            self.on_show(e)
        elif isinstance(e, ev.Say):
            lang = s.language()
            spoken = {**e.params, "number": spell_ticket(str(e.params["number"]), lang)} if "number" in e.params \
                else e.params  # numbers are called digit by digit, as halls do
            s.speaker.say(prompt_text(e.key, lang, spoken), lang, e.repeat)
            self.on_say(e.key, e.params)
        elif isinstance(e, ev.MeasureTemperature):
            self._pool.submit(self._measure_temperature)
        elif isinstance(e, ev.LookupCode):
            self._pool.submit(self._lookup_code, e.identity)
        elif isinstance(e, ev.LookupPriority):
            self.submit(ev.PriorityResult(self._priority(e.identity)))
        elif isinstance(e, ev.CheckOpenTicket):
            ticket = s.queue.open_ticket(e.service, s.person_key(e.identity.id_number))
            self.submit(ev.OpenTicketResult(ticket.number if ticket else None))
        elif isinstance(e, ev.IssueTicket):
            self.submit(self._issue(e))
        elif isinstance(e, ev.PrintTicket):
            self._pool.submit(self._print, e.ticket)
        elif isinstance(e, ev.LogVisit):
            temp = e.temperature_c if e.temperature_c is not None and not math.isnan(e.temperature_c) else None
            s.visits.record(Visit(e.identity.id_number, e.identity.name, e.identity.source, temp, e.colour,
                                  e.outcome, e.ticket_number))
        elif isinstance(e, ev.Alert):
            with s.queue.store.action() as act:
                act.emit("alert.raised", {"kind": e.kind, "terminal": s.terminal_id,
                                          **{k: v for k, v in e.detail.items() if isinstance(v, str | int | float)}})
            self.on_alert(e)
        elif isinstance(e, ev.Measure):
            p = self._pending
            self.visits_done += 1
            number = self.flow.visit.ticket.number if self.flow.visit and self.flow.visit.ticket else ""
            self.on_visit_done(VisitTiming(p.identified_at, time.monotonic(), p.device_s, number,
                                           bool(p.extra.get("printed"))))

    # -- effects that talk to services ----------------------------------------------------
    def _priority(self, identity: ev.Identity) -> tuple[str, ...]:
        register = self.services.priority
        today = dt.date.today()
        if register is None:  # no register loaded: only the age rule, from the card or the ID number
            birth = parse_birth(identity.birth or None) or birth_from_id(identity.id_number)
            return ("age80",) if birth and age_on(birth, today) >= 80 else ()
        return register.lookup(identity.id_number, identity.birth or None, today).reasons

    def _lookup_code(self, identity: ev.Identity) -> None:
        s = self.services
        if s.city is None:
            self.submit(ev.CodeResult(None, "fallback", s.fallback))  # type: ignore[arg-type]
            return
        try:
            status = s.city.lookup(identity.id_number)
        except Exception as exc:  # the client promises a fallback; anything else still must not strand the flow
            log.exception("code lookup failed")
            self.submit(ev.CodeResult(None, "fallback", s.fallback))  # type: ignore[arg-type]
            self.errors.append(f"lookup: {exc}")
            return
        self.submit(ev.CodeResult(status.colour, status.source, status.fallback))  # type: ignore[arg-type]

    def _issue(self, e: ev.IssueTicket) -> ev.TicketIssued | ev.TicketRefusedByQueue:
        s = self.services
        try:
            issued = s.queue.take_ticket(e.service, s.person_key(e.identity.id_number),
                                         priority_reasons=e.priority_reasons,
                                         masked_name=mask_name(e.identity.name) if e.identity.name else "",
                                         staff_check=e.staff_check)
        except HallError as exc:
            key = {"cap_reached": "cap", "closed": "hours"}.get(exc.reason, exc.reason)
            return ev.TicketRefusedByQueue(key, exc.words_zh, exc.words_en)
        t = issued.ticket
        self._pending.extra["service_name"] = issued.service_name_zh
        self._pending.extra["masked_name"] = t.masked_name
        return ev.TicketIssued(t.number, t.service, issued.people_ahead, issued.wait_min, t.priority,
                               t.staff_check, issued.reprint)

    def _measure_temperature(self) -> None:
        thermometer = self.devices.thermometer
        if thermometer is None:
            self.submit(ev.TemperatureFailed("no thermometer configured"))
            return
        t0 = time.monotonic()
        try:
            reading = thermometer.read_once(THERMOMETER_TIMEOUT_S)
        except DriverError as exc:
            self.submit(ev.TemperatureFailed(str(exc)))
            return
        finally:
            self._pending.device_s += time.monotonic() - t0
        self.submit(ev.TemperatureMeasured(reading.celsius))

    def _print(self, ticket: ev.TicketIssued) -> None:
        printer = self.devices.printer
        if printer is None:
            self.submit(ev.PrintDone(False, "no printer"))
            return
        from drivers.printer import Ticket as PrintedTicket  # the printer driver's ticket layout

        extra = self._pending.extra
        job = PrintedTicket(
            title=self.services.hall_title, number=ticket.number, service=str(extra.get("service_name", "")),
            people_ahead=ticket.people_ahead, wait_minutes=ticket.wait_min,
            issued_at=dt.datetime.now().astimezone(),
            qr_payload=f"LFQ1:{self.services.terminal_id}:{dt.date.today().isoformat()}:{ticket.number}",
            footer=("请留意叫号，过号请到服务台", "优先号" if ticket.priority else ""),
            masked_name=str(extra.get("masked_name") or "") or None)
        t0 = time.monotonic()
        try:
            printer.print_ticket(job)
        except DriverError as exc:
            reason = "paper out" if "paper" in str(exc).lower() else str(exc)
            self.submit(ev.PrintDone(False, reason))
            return
        finally:
            self._pending.device_s += time.monotonic() - t0
        extra["printed"] = True
        self.submit(ev.PrintDone(True))

    # -- readers --------------------------------------------------------------------------
    def _report_device_error(self, source: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_report.get(source, -1e9) < ERROR_REPORT_GAP_S:
            return
        self._last_error_report[source] = now
        self.submit(ev.IdentificationFailed(source, "device", "读卡没有成功，请重新刷卡", str(exc)))  # type: ignore[arg-type]

    def _card_loop(self, name: str) -> None:
        """Look for a card; read it once; wait until it is taken away before reading again."""
        reader = getattr(self.devices, name)
        while not self._stop.is_set():
            try:
                reading = reader.read_once(0.5) if name == "sscard" else self._read_idcard(reader)
            except NoCardError:  # social-security reader: no card yet, keep looking
                continue
            except DriverError as exc:
                self._report_device_error(name, exc)
                self._stop.wait(0.5)
                continue
            if reading is None:
                continue
            self._last_error_report.pop(name, None)
            self.submit(ev.Identified(identity_from_card(name, reading), at=time.monotonic()))
            self._wait_removed(name, reader)

    def _read_idcard(self, reader: Any) -> Any:
        if not reader.find_card():
            self._stop.wait(CARD_POLL_S)
            return None
        return reader.read_card()

    def _wait_removed(self, name: str, reader: Any) -> None:
        while not self._stop.is_set():
            try:
                present = reader.find_card() if name == "idcard" else reader.card_present()
            except DriverError:
                return
            if not present:
                return
            self._stop.wait(0.1)

    def _qr_result(self, source: str, result: Any) -> None:
        """A QR driver's result (reading or error) → Identified or IdentificationFailed."""
        event = identity_from_qr(source, result, self.services.tokens)  # type: ignore[arg-type]
        if event is not None:
            if isinstance(event, ev.Identified):
                event = ev.Identified(event.identity, time.monotonic(), event.code)
            self.submit(event)
