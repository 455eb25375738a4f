"""The hall ticket machine at work: devices and services feed the check-in flow, its effects are carried out.

The hall is one role on the shared terminal runtime (:mod:`kiosk.runtime`): the runtime's
loop owns the :class:`~kiosk.hall.checkin.flow.CheckInFlow`; card-reader loops and the QR
drivers' callbacks turn readings into events; slow effects (thermometer, city code lookup,
the ticket's store transaction, printing) run on the runtime's checked worker pool.  Each
effect type has one handler, registered in :meth:`HallTerminal._register`.  Screens and
speech leave through callbacks, so the UI (or a headless demo) decides what to do with them;
nothing here imports Qt.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.errors import DriverError
from kiosk.codes.city_service import CityCodeService
from kiosk.hall.alerts import clean_detail
from kiosk.hall.checkin import events as ev
from kiosk.hall.checkin.flow import READY_STATES, CheckInFlow, FlowSettings
from kiosk.hall.errors import HallError
from kiosk.hall.printing import hall_ticket, print_hall_ticket
from kiosk.hall.queue import HallQueue
from kiosk.hall.volunteer.desk import HallDesk
from kiosk.hall.volunteer.events import ReaderState, SkipCosign, VolunteerStart
from kiosk.hall.volunteer.flow import VolunteerFlow, VolunteerSettings
from kiosk.hall.volunteer.wiring import register_volunteer_effects
from kiosk.identity import CARD_SOURCES, QR_SOURCES
from kiosk.identity.readings import Refusal, identity_from_card, identity_from_qr
from kiosk.masking import mask_id, mask_name
from kiosk.priority import PriorityRegister, age_on, birth_from_id, parse_birth
from kiosk.runtime.resident_terminal import ResidentTerminal
from kiosk.visit_log import Visit, VisitLog
from kiosk.voice import Speaker

log = logging.getLogger(__name__)

THERMOMETER_TIMEOUT_S = 2.0  # longest wait for one temperature reading, in seconds


@dataclass
class HallDevices:
    """The hall's drivers; any may be missing (None) on a given machine."""

    idcard: Any = None
    sscard: Any = None
    qr_camera: Any = None
    qr_scanner: Any = None
    thermometer: Any = None
    printer: Any = None
    ccard: Any = None  # a community-card reader: a served resident may co-sign a volunteer's hours with it


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
    alerts: Any = None  # kiosk.hall.alerts.AlertBoard: staff alerts shown on the counters
    health: Any = None  # kiosk.runtime.health.DeviceSupervisor: what the card loops see goes there
    volunteers: Any = None  # kiosk.hall.volunteer.shifts.VolunteerShifts: the volunteer desk's store (None: no desk)
    card_holder: Callable[[str], str | None] = lambda card_no: None  # a community card's holder person key


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


def resident_words(identity: ev.Identity | None) -> str:
    """How a clerk is told which resident needs help: the masked name, else the masked ID number."""
    if identity is None:
        return ""
    return mask_name(identity.name) if identity.name else mask_id(identity.id_number)


class HallTerminal(ResidentTerminal):
    """Runs the check-in for the hall ticket machine (screens, voice and readers as every resident terminal)."""

    def __init__(self, devices: HallDevices, services: HallServices, settings: FlowSettings | None = None,
                 on_show: Callable[[ev.Show], None] = lambda s: None,
                 on_say: Callable[[str, dict[str, Any]], None] = lambda k, p: None,
                 on_visit_done: Callable[[VisitTiming], None] = lambda t: None,
                 on_alert: Callable[[ev.Alert], None] = lambda a: None,
                 volunteer_settings: VolunteerSettings | None = None):
        self.devices = devices
        self.services = services
        if volunteer_settings is None:  # say the community card on the co-sign screen only where it can be read
            volunteer_settings = VolunteerSettings(community_card=devices.ccard is not None)
        desk = HallDesk(CheckInFlow(settings), VolunteerFlow(volunteer_settings),
                        lambda id_number: self.services.person_key(id_number),
                        lambda card_no: getattr(self.services, "card_holder", lambda no: None)(card_no))
        super().__init__("hall", desk, getattr(services, "speaker", None),
                         lambda: self.services.language(), getattr(services, "health", None), on_show, on_say, on_alert)
        self.desk = desk  # the check-in and the volunteer desk; the runtime drives it
        self.flow: CheckInFlow = desk.checkin
        self.on_visit_done = on_visit_done
        self.runtime.observe(self._observe)
        self._pending = _Pending()
        self.visits_done = 0
        self._register()

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> HallTerminal:
        """Start the runtime, the card-reader loops and the QR drivers."""
        self.runtime.start([ev.Show("idle")])
        self.start_card_loops({name: getattr(self.devices, name) for name in CARD_SOURCES}, self._card_read,
                              self._card_failed)
        if getattr(self.devices, "ccard", None) is not None:
            self.start_community_card_loop(self.devices.ccard)  # co-signs of volunteers' hours
        for name in QR_SOURCES:
            driver = getattr(self.devices, name)
            if driver is not None:
                driver.sink.callback = lambda result, n=name: self._qr_result(n, result)
                driver.start()
        return self

    def stop(self) -> None:
        """Stop every thread (the drivers are closed by their owner)."""
        for name in QR_SOURCES:
            driver = getattr(self.devices, name)
            if driver is not None:
                driver.sink.callback = None
        self.runtime.stop()

    # -- inputs from the UI and from outside the flow ---------------------------------------
    def ui(self, command: str) -> None:
        """A button on the screen: ``service:X``, ``reprint``, ``dismiss``, ``extend``, ``help``, ``repeat``
        ("再听一遍": the last prompt again, with the screen's full time), ``volunteer`` ("志愿者签到签退"),
        ``skip_cosign`` ("没有服务对象 / 跳过"); unknown ones are ignored."""
        if command == "repeat":
            self.repeat()
            return
        event = self._service_event(command) if command.startswith("service:") else self._ui_event(command)
        if isinstance(event, VolunteerStart):
            event = VolunteerStart(reader_up=self._idcard_up())
        if event is not None:
            self.submit(event)

    def _idcard_up(self) -> bool:
        """The ID card reader is configured and not known to be down (the volunteer desk's reader)."""
        if self.devices.idcard is None:
            return False
        state = self.health.snapshot().get("idcard") if self.health is not None else None
        return state is None or state.up or state.reason == "checking"

    def device_changed(self, health: Any) -> None:
        """One alert down, one up; a volunteer at the screen is told when the ID card reader goes or comes back."""
        super().device_changed(health)
        if health.name == "idcard":
            self.submit(ReaderState(bool(health.up)))

    def _service_event(self, command: str) -> ev.ServiceChosen | None:
        """The tapped tile with its names and whether it issues now (an unknown code is ignored)."""
        code = command.split(":", 1)[1]
        catalog = self.services.queue.services
        if code not in catalog:
            return None
        svc = catalog.get(code)
        state = svc.availability(dt.datetime.now(dt.UTC))
        return ev.ServiceChosen(code, svc.name_zh, svc.name_en, state.open, state.words_zh, state.words_en)

    @staticmethod
    def _ui_event(command: str) -> ev.Event | None:
        return {"reprint": ev.ReprintChosen(), "dismiss": ev.Dismissed(), "extend": ev.MoreTime(),
                "help": ev.HelpRequested(), "volunteer": VolunteerStart(), "skip_cosign": SkipCosign()}.get(command)

    def _observe(self, event: Any) -> None:
        if isinstance(event, ev.Identified) and self.flow.state in READY_STATES:
            self._pending = _Pending(identified_at=event.at)

    # -- the effect registry ----------------------------------------------------------------
    def _register(self) -> None:
        rt = self.runtime
        rt.on(ev.Measure, self._measured)
        rt.on(ev.LookupPriority, lambda e: ev.PriorityResult(self._priority(e.identity)))
        rt.on(ev.LogVisit, self._log_visit)
        rt.on_io(ev.CheckOpenTicket, self._check_open_ticket)
        rt.on_io(ev.IssueTicket, self._issue)
        rt.on_io(ev.MeasureTemperature, lambda e: self._measure_temperature())
        rt.on_io(ev.LookupCode, lambda e: self._lookup_code(e.identity))
        rt.on_io(ev.PrintTicket, lambda e: self._print(e.ticket))
        register_volunteer_effects(rt, getattr(self.services, "volunteers", None))

    def raise_alert(self, e: ev.Alert) -> None:
        """An alert for staff: on the counters' banner (with the resident, masked) and, without names, to the central."""
        s = self.services
        detail = clean_detail({k: v for k, v in e.detail.items() if k != "words"})  # plain fields, never a person
        source = str(e.detail.get("device") or s.terminal_id)
        self.on_alert(e)
        if s.alerts is not None:
            s.alerts.raise_alert(e.kind, source, resident=resident_words(e.identity), detail=detail)
            return
        with s.queue.store.action() as act:  # no board (tests of the flow alone): the event still reaches the central
            act.emit("alert.raised", {"kind": e.kind, "terminal": s.terminal_id, "source": source, **detail})

    def _measured(self, e: ev.Measure) -> None:
        p = self._pending
        self.visits_done += 1
        number = self.flow.visit.ticket.number if self.flow.visit and self.flow.visit.ticket else ""
        self.on_visit_done(VisitTiming(p.identified_at, time.monotonic(), p.device_s, number,
                                       bool(p.extra.get("printed"))))

    def _log_visit(self, e: ev.LogVisit) -> None:
        temp = e.temperature_c if e.temperature_c is not None and not math.isnan(e.temperature_c) else None
        self.services.visits.record(Visit(e.identity.id_number, e.identity.name, e.identity.source, temp, e.colour,
                                          e.outcome, e.ticket_number))

    # -- effects that talk to services ----------------------------------------------------
    def _priority(self, identity: ev.Identity) -> tuple[str, ...]:
        register = self.services.priority
        today = dt.date.today()
        if register is None:  # no register loaded: only the age rule, from the card or the ID number
            birth = parse_birth(identity.birth or None) or birth_from_id(identity.id_number)
            return ("age80",) if birth and age_on(birth, today) >= 80 else ()
        return register.lookup(identity.id_number, identity.birth or None, today).reasons

    def _check_open_ticket(self, e: ev.CheckOpenTicket) -> ev.OpenTicketResult:
        s = self.services
        ticket = s.queue.open_ticket(e.service, s.person_key(e.identity.id_number))
        return ev.OpenTicketResult(ticket.number if ticket else None)

    def _lookup_code(self, identity: ev.Identity) -> ev.CodeResult:
        s = self.services
        if s.city is None:
            return ev.CodeResult(None, "fallback", s.fallback)  # type: ignore[arg-type]
        try:
            status = s.city.lookup(identity.id_number)
        except Exception as exc:  # the client promises a fallback; anything else still must not strand the flow
            log.exception("code lookup failed")
            self.errors.append(f"lookup: {exc}")
            return ev.CodeResult(None, "fallback", s.fallback)  # type: ignore[arg-type]
        return ev.CodeResult(status.colour, status.source, status.fallback)  # type: ignore[arg-type]

    def _issue(self, e: ev.IssueTicket) -> ev.TicketIssued | ev.TicketRefusedByQueue:
        """Take the ticket and write the real-name visit row in one store transaction (a store error → Failed)."""
        s = self.services
        temp = e.temperature_c if not math.isnan(e.temperature_c) else None
        colour = e.colour if e.colour in ("green", "yellow", "red") else None  # "unknown": the service was down
        visit = Visit(e.identity.id_number, e.identity.name, e.identity.source, temp, colour, "ticket", None)
        try:
            issued = s.queue.take_ticket(e.service, s.person_key(e.identity.id_number),
                                         priority_reasons=e.priority_reasons,
                                         masked_name=mask_name(e.identity.name) if e.identity.name else "",
                                         staff_check=e.staff_check, visit=visit, visits=s.visits)
        except HallError as exc:
            key = {"cap_reached": "cap", "closed": "hours"}.get(exc.reason, exc.reason)
            return ev.TicketRefusedByQueue(key, exc.words_zh, exc.words_en, e.visit)
        t = issued.ticket
        self._pending.extra["service_name"] = issued.service_name_zh
        self._pending.extra["masked_name"] = t.masked_name
        return ev.TicketIssued(t.number, t.service, issued.people_ahead, issued.wait_min, t.priority,
                               t.staff_check, issued.reprint, e.visit)

    def _measure_temperature(self) -> ev.TemperatureMeasured | ev.TemperatureFailed:
        thermometer = self.devices.thermometer
        if thermometer is None:
            return ev.TemperatureFailed("no thermometer configured")
        t0 = time.monotonic()
        try:
            reading = thermometer.read_once(THERMOMETER_TIMEOUT_S)
        except DriverError as exc:
            return ev.TemperatureFailed(str(exc))
        finally:
            self._pending.device_s += time.monotonic() - t0
        return ev.TemperatureMeasured(reading.celsius)

    def _print(self, ticket: ev.TicketIssued) -> ev.PrintDone:
        printer = self.devices.printer
        if printer is None:
            return ev.PrintDone(False, "no printer")
        extra = self._pending.extra
        job = hall_ticket(self.services.hall_title, self.services.terminal_id, ticket,
                          str(extra.get("service_name", "")), str(extra.get("masked_name") or ""))
        t0 = time.monotonic()
        try:
            print_hall_ticket(printer, job)
        except DriverError as exc:
            return ev.PrintDone(False, "paper out" if "paper" in str(exc).lower() else str(exc))
        finally:
            self._pending.device_s += time.monotonic() - t0
        extra["printed"] = True
        return ev.PrintDone(True)

    # -- readers --------------------------------------------------------------------------
    def _card_read(self, name: str, reading: Any) -> None:
        self.submit(ev.Identified(identity_from_card(name, reading), at=time.monotonic()))

    def _card_failed(self, name: str, exc: DriverError) -> None:
        """A card was on the reader and could not be read: the resident is asked to try again."""
        self.submit(ev.IdentificationFailed(name, "card", "读卡没有成功，请重新刷卡", str(exc)))  # type: ignore[arg-type]

    def _qr_result(self, source: str, result: Any) -> None:
        """A QR driver's result (reading or error) → Identified (with the token's colour) or IdentificationFailed."""
        outcome = identity_from_qr(source, result, self.services.tokens)
        if isinstance(outcome, Refusal):
            self.submit(ev.IdentificationFailed(outcome.source, outcome.reason, outcome.words_zh,  # type: ignore[arg-type]
                                                outcome.words_en))
            return
        self.submit(ev.Identified(outcome.identity, time.monotonic(),
                                  ev.CodeResult(outcome.colour, "token")))  # type: ignore[arg-type]
