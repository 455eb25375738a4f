"""The check-in state machine: ``handle(event) -> effects``, no I/O, no clock of its own.

One resident at a time.  The first identification wins; the others are ignored until
the resident's screen is done.  Temperature, code status, priority and the open-ticket
check are asked for together and the decision is taken as soon as it is certain:
a yellow/red code refuses at once, a fever only after the one retest, a ticket once
every answer is in.  Time enters only through :class:`~kiosk.hall.checkin.events.Tick`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.hall.checkin.events import (
    Alert,
    CheckOpenTicket,
    CodeResult,
    Dismissed,
    Effect,
    Event,
    IdentificationFailed,
    Identified,
    Identity,
    IssueTicket,
    LogVisit,
    LookupCode,
    LookupPriority,
    Measure,
    MeasureTemperature,
    OpenTicketResult,
    PrintDone,
    PrintTicket,
    PriorityResult,
    ReprintChosen,
    Say,
    Show,
    TemperatureFailed,
    TemperatureMeasured,
    Tick,
    TicketIssued,
    TicketRefusedByQueue,
)

# States in which a new resident may start: idle, or a finished resident's result still on screen.
READY_STATES = frozenset({"idle", "ticket", "refused", "error"})


@dataclass(frozen=True)
class FlowSettings:
    """Thresholds and timeouts of the flow, each with its unit."""

    fever_c: float = 37.3  # °C; at or above is a fever
    temperature_retests: int = 1  # extra measurements after a first fever reading
    thermometer_retries: int = 1  # extra attempts after a failed reading
    checking_timeout_s: float = 10.0  # seconds before an unanswered check-in is given up
    ticket_screen_s: float = 10.0  # seconds the ticket stays on screen
    refused_screen_s: float = 15.0  # seconds a refusal stays on screen
    offer_screen_s: float = 30.0  # seconds the reprint offer waits …
    offer_warning_s: float = 20.0  # … with a spoken warning after this many seconds
    default_service: str = "A"


@dataclass
class _Visit:
    identity: Identity
    started_at: float
    service: str
    temperature: float | None = None
    temp_readings: int = 0
    temp_failures: int = 0
    temp_unavailable: bool = False
    code: CodeResult | None = None
    priority: PriorityResult | None = None
    open_ticket: OpenTicketResult | None = None
    ticket: TicketIssued | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step -> "pending" | "done" | "failed"


class CheckInFlow:
    """The hall ticket machine's flow for one resident at a time."""

    def __init__(self, settings: FlowSettings | None = None):
        self.settings = settings or FlowSettings()
        self.state = "idle"  # idle, checking, issuing, printing, ticket, refused, offer, error
        self.visit: _Visit | None = None
        self.service = self.settings.default_service  # chosen on the idle screen before swiping
        self._screen_since = 0.0
        self._warned = False
        self.now = 0.0

    # -- entry point ----------------------------------------------------------------------
    def choose_service(self, code: str) -> list[Effect]:
        """The resident tapped a service on the idle screen."""
        if self.state != "idle":
            return []
        self.service = code
        return [Show("idle", {"service": code})]

    def handle(self, event: Event) -> list[Effect]:
        """Feed one event; get the effects to carry out, in order."""
        if isinstance(event, Tick):
            self.now = event.now
            return self._tick()
        if isinstance(event, Identified):
            return self._identified(event)
        if isinstance(event, IdentificationFailed):
            return self._identification_failed(event)
        if isinstance(event, Dismissed):
            return self._to_idle() if self.state not in ("checking", "issuing", "printing") else []
        if isinstance(event, ReprintChosen):
            return self._reprint_chosen()
        if self.visit is None:
            return []  # a late answer for a resident already gone
        if isinstance(event, TemperatureMeasured | TemperatureFailed):
            return self._temperature(event)
        if isinstance(event, CodeResult):
            self.visit.code = event
            self.visit.steps["code"] = "done"
            return self._maybe_decide()
        if isinstance(event, PriorityResult):
            self.visit.priority = event
            self.visit.steps["priority"] = "done"
            return self._maybe_decide()
        if isinstance(event, OpenTicketResult):
            self.visit.open_ticket = event
            return self._maybe_decide()
        if isinstance(event, TicketIssued):
            return self._ticket_issued(event)
        if isinstance(event, TicketRefusedByQueue):
            return self._refuse(event.reason, {"words_zh": event.words_zh, "words_en": event.words_en},
                                log=True, alert=False)
        if isinstance(event, PrintDone):
            return self._printed(event)
        return []

    # -- steps ----------------------------------------------------------------------------
    def _identified(self, event: Identified) -> list[Effect]:
        if self.state not in READY_STATES:
            return []  # another source answered first; this resident is already being served
        visit = _Visit(event.identity, event.at, self.service)
        visit.steps = {"identity": "done", "temperature": "pending", "code": "pending", "priority": "pending"}
        self.visit = visit
        self.state = "checking"
        self._screen_since = self.now
        effects: list[Effect] = [Show("reading", self._reading_data()), MeasureTemperature()]
        if event.code is not None:
            visit.code = event.code
            visit.steps["code"] = "done"
        else:
            effects.append(LookupCode(event.identity))
        effects += [LookupPriority(event.identity), CheckOpenTicket(event.identity, visit.service),
                    Say("measuring")]
        return effects + self._maybe_decide()

    def _identification_failed(self, event: IdentificationFailed) -> list[Effect]:
        if self.state not in READY_STATES:
            return []
        self.state = "error"
        self._screen_since = self.now
        effects: list[Effect] = [
            Show("error", {"reason": event.reason, "words_zh": event.words_zh, "words_en": event.words_en,
                           "source": event.source}),
            Say("error_" + event.reason if event.reason.startswith("token") else "read_failed"),
        ]
        if event.reason == "device":
            effects.append(Alert("device_fault", {"device": event.source, "words": event.words_en}))
        return effects

    def _temperature(self, event: TemperatureMeasured | TemperatureFailed) -> list[Effect]:
        visit = self.visit
        assert visit is not None
        if self.state != "checking" or visit.temperature is not None and visit.steps["temperature"] == "done":
            return []
        s = self.settings
        if isinstance(event, TemperatureFailed):
            visit.temp_failures += 1
            if visit.temp_failures <= s.thermometer_retries:
                return [MeasureTemperature()]
            visit.temp_unavailable = True
            visit.steps["temperature"] = "failed"
            return [Alert("device_fault", {"device": "thermometer", "words": event.reason}), *self._maybe_decide()]
        visit.temp_readings += 1
        visit.temperature = event.celsius
        if event.celsius >= s.fever_c and visit.temp_readings <= s.temperature_retests:
            visit.temperature = None  # measure again before deciding
            return [Show("reading", {**self._reading_data(), "retest": True}), Say("retest"), MeasureTemperature()]
        visit.steps["temperature"] = "done"
        return self._maybe_decide() or [Show("reading", self._reading_data())]

    def _maybe_decide(self) -> list[Effect]:
        visit = self.visit
        if self.state != "checking" or visit is None:
            return []
        code = visit.code
        if code is not None and code.colour in ("yellow", "red"):
            return self._refuse(f"code_{code.colour}", {"colour": code.colour}, log=True, alert=True)
        if code is not None and code.colour is None and code.fallback == "refuse":
            return self._refuse("code_unknown", {}, log=True, alert=True)
        fever = visit.temperature is not None and visit.temperature >= self.settings.fever_c
        if fever and visit.steps["temperature"] == "done":
            return self._refuse("fever", {"celsius": visit.temperature}, log=True, alert=True)
        temperature_known = visit.steps["temperature"] in ("done", "failed")
        if not (temperature_known and code is not None and visit.priority is not None
                and visit.open_ticket is not None):
            return []
        if visit.open_ticket.ticket_number is not None:
            self.state = "offer"
            self._screen_since = self.now
            self._warned = False
            return [Show("reprint_offer", {"number": visit.open_ticket.ticket_number, "service": visit.service}),
                    Say("reprint_offer", {"number": visit.open_ticket.ticket_number})]
        return self._issue()

    def _issue(self) -> list[Effect]:
        visit = self.visit
        assert visit is not None and visit.code is not None and visit.priority is not None
        self.state = "issuing"
        staff_check = visit.code.colour is None or visit.temp_unavailable
        return [IssueTicket(visit.identity, visit.service, visit.priority.reasons, staff_check,
                            visit.temperature if visit.temperature is not None else float("nan"),
                            visit.code.colour or "unknown")]

    def _ticket_issued(self, ticket: TicketIssued) -> list[Effect]:
        visit = self.visit
        assert visit is not None
        if self.state != "issuing":
            return []
        visit.ticket = ticket
        self.state = "printing"
        data = {"number": ticket.number, "service": ticket.service, "people_ahead": ticket.people_ahead,
                "wait_min": ticket.wait_min, "priority": ticket.priority, "staff_check": ticket.staff_check,
                "reprint": ticket.reprint, "printing": True}
        return [
            Show("ticket", data),
            PrintTicket(ticket),
            LogVisit(visit.identity, visit.temperature, visit.code.colour if visit.code else None,
                     "reprint" if ticket.reprint else "ticket", ticket.number),
        ]

    def _printed(self, done: PrintDone) -> list[Effect]:
        visit = self.visit
        if self.state != "printing" or visit is None or visit.ticket is None:
            return []
        t = visit.ticket
        self.state = "ticket"
        self._screen_since = self.now
        data = {"number": t.number, "service": t.service, "people_ahead": t.people_ahead, "wait_min": t.wait_min,
                "priority": t.priority, "staff_check": t.staff_check, "reprint": t.reprint, "printing": False,
                "printed": done.ok, "print_problem": done.reason}
        effects: list[Effect] = [Show("ticket", data), Measure("swipe_to_ticket", visit.started_at)]
        if done.ok:
            effects.append(Say("ticket", {"number": t.number, "people_ahead": t.people_ahead}))
        else:
            effects += [Say("ticket_not_printed", {"number": t.number}),
                        Alert("printer", {"reason": done.reason, "ticket": t.number})]
        return effects

    def _reprint_chosen(self) -> list[Effect]:
        if self.state != "offer" or self.visit is None:
            return []
        return self._issue()  # the queue hands back the open ticket, marked as a reprint

    def _refuse(self, reason: str, data: dict[str, object], log: bool, alert: bool) -> list[Effect]:
        visit = self.visit
        assert visit is not None
        self.state = "refused"
        self._screen_since = self.now
        effects: list[Effect] = [Show("refused", {"reason": reason, **data}), Say("refused_" + reason, data)]
        if log:
            effects.append(LogVisit(visit.identity, visit.temperature,
                                    visit.code.colour if visit.code else None, "refused_" + reason))
        if alert:
            effects.append(Alert(reason, {k: v for k, v in data.items() if k in ("celsius", "colour")}))
        return effects

    def _tick(self) -> list[Effect]:
        s = self.settings
        age = self.now - self._screen_since
        if self.state == "checking" and age > s.checking_timeout_s:
            self.state = "error"
            self._screen_since = self.now
            return [Show("error", {"reason": "timeout"}), Say("read_failed"),
                    Alert("checkin_timeout", {"steps": dict(self.visit.steps) if self.visit else {}})]
        if self.state == "offer":
            if age > s.offer_screen_s:
                return self._to_idle()
            if age > s.offer_warning_s and not self._warned:
                self._warned = True
                return [Say("timeout_warning"), Show("reprint_offer", {
                    "number": self.visit.open_ticket.ticket_number if self.visit and self.visit.open_ticket else "",
                    "service": self.visit.service if self.visit else "", "warning": True})]
        if self.state == "ticket" and age > s.ticket_screen_s:
            return self._to_idle()
        if self.state in ("refused", "error") and age > s.refused_screen_s:
            return self._to_idle()
        return []

    def extend(self) -> list[Effect]:
        """The resident asked for more time on the current screen."""
        self._screen_since = self.now
        self._warned = False
        return []

    def _to_idle(self) -> list[Effect]:
        self.state = "idle"
        self.visit = None
        self.service = self.settings.default_service
        return [Show("idle", {"service": self.service})]

    def _reading_data(self) -> dict[str, object]:
        visit = self.visit
        assert visit is not None
        return {"steps": dict(visit.steps), "source": visit.identity.source,
                "celsius": visit.temperature}
