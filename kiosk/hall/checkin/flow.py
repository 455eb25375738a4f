"""The check-in state machine: ``handle(event) -> effects``, no I/O, no clock of its own.

One resident at a time.  The first identification wins; the others are ignored until
the resident's screen is done.  Temperature, code status, priority and the open-ticket
check are asked for together and the decision is taken as soon as it is certain:
a yellow/red code refuses at once, a fever only after the one retest, a ticket once
every answer is in.  Time enters only through :class:`~kiosk.runtime.events.Tick`.

Every state but idle has a deadline (:meth:`CheckInFlow.deadline`): a screen the resident
reads goes back to idle; a step that waits on a device or the store and never answers —
or fails (:meth:`CheckInFlow.fail`) — ends on a spoken, worded "please ask staff" screen
with an alert, and then back to idle.  A ticket number that exists is never lost from the
screen: a printer that fails or stays silent still ends on the ticket screen.
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
    Failed,
    IdentificationFailed,
    Identified,
    Identity,
    IssueTicket,
    LogVisit,
    LookupCode,
    LookupPriority,
    Measure,
    MeasureTemperature,
    MoreTime,
    OpenTicketResult,
    PrintDone,
    PrintTicket,
    PriorityResult,
    ReprintChosen,
    Say,
    ServiceChosen,
    Show,
    TemperatureFailed,
    TemperatureMeasured,
    Tick,
    TicketIssued,
    TicketRefusedByQueue,
)

# States in which a new resident may start: idle, or a finished resident's result still on screen.
READY_STATES = frozenset({"idle", "ticket", "refused", "error"})
# States that wait on devices or the store; silence or failure there ends on the "ask staff" screen.
WAITING_STATES = frozenset({"checking", "issuing", "printing"})
STATES = ("idle", "checking", "issuing", "printing", "ticket", "refused", "offer", "error")


@dataclass(frozen=True)
class FlowSettings:
    """Thresholds and timeouts of the flow, each with its unit."""

    fever_c: float = 37.3  # °C; at or above is a fever
    temperature_retests: int = 1  # extra measurements after a first fever reading
    thermometer_retries: int = 1  # extra attempts after a failed reading
    checking_timeout_s: float = 10.0  # seconds before an unanswered check-in is given up
    issuing_timeout_s: float = 8.0  # seconds the queue may take to commit a ticket
    printing_timeout_s: float = 15.0  # seconds the printer may take to accept a ticket
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
    number: int = 0  # which resident since start: the queue's answer names it


class CheckInFlow:
    """The hall ticket machine's flow for one resident at a time."""

    def __init__(self, settings: FlowSettings | None = None):
        self.settings = settings or FlowSettings()
        self.state = "idle"  # idle, checking, issuing, printing, ticket, refused, offer, error
        self.visit: _Visit | None = None
        self.service = self.settings.default_service  # chosen on the idle screen before swiping
        self._screen_since = 0.0
        self._warned = False
        self._issue_abandoned = False  # the issuing step timed out; a late ticket is still shown
        self._visits = 0  # residents started, so a late answer is matched to its own resident
        self.now = 0.0

    def deadline(self) -> float | None:
        """When the current state ends on its own (monotonic seconds); None only when idle."""
        s = self.settings
        limit = {"checking": s.checking_timeout_s, "issuing": s.issuing_timeout_s,
                 "printing": s.printing_timeout_s, "ticket": s.ticket_screen_s, "refused": s.refused_screen_s,
                 "error": s.refused_screen_s, "offer": s.offer_screen_s}.get(self.state)
        return None if limit is None else self._screen_since + limit

    def fail(self, where: str, error: str) -> list[Effect]:
        """Something the flow relied on broke (``where``: effect or step; ``error``: one line for staff).

        While waiting on a step the resident sees the "ask staff" screen, hears it, and staff get an
        alert; a failed printer still ends on the ticket screen; a failure behind a result already on
        screen (or when idle) only alerts staff.
        """
        detail: dict[str, object] = {"state": self.state, "where": where, "error": error[:200]}
        if self.state == "printing":
            return self._printed(PrintDone(False, f"printer failed: {error}"[:200]))
        if self.state in ("checking", "issuing"):
            return self._ask_staff("flow_stuck", detail)
        if self.state == "error" and self.visit is not None and self.visit.steps.get("ask_staff"):
            return []  # already asking for staff about this resident: one alert is enough
        return [Alert("flow_stuck", detail, self.visit.identity if self.visit else None)]

    def _ask_staff(self, kind: str, detail: dict[str, object]) -> list[Effect]:
        """The worded, spoken "please ask staff" screen, with an alert; back to idle after its deadline."""
        visit = self.visit
        self._issue_abandoned = self.state == "issuing"
        self.state = "error"
        self._screen_since = self.now
        if visit is not None:
            visit.steps["ask_staff"] = "done"
        return [Show("error", {"reason": "ask_staff"}), Say("ask_staff"),
                Alert(kind, detail, visit.identity if visit else None)]

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
        if isinstance(event, Failed):
            return self.fail(event.where, event.error)
        if isinstance(event, ServiceChosen):
            return self.choose_service(event.code)
        if isinstance(event, MoreTime):
            return self.extend()
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
        if isinstance(event, TicketIssued | TicketRefusedByQueue) and event.visit not in (0, self.visit.number):
            return []  # the queue answered for a resident who has gone
        if isinstance(event, TicketIssued):
            return self._ticket_issued(event)
        if isinstance(event, TicketRefusedByQueue) and self.state == "issuing":
            return self._refuse(event.reason, {"words_zh": event.words_zh, "words_en": event.words_en},
                                log=True, alert=False)
        if isinstance(event, PrintDone):
            return self._printed(event)
        return []

    # -- steps ----------------------------------------------------------------------------
    def _identified(self, event: Identified) -> list[Effect]:
        if self.state not in READY_STATES:
            return []  # another source answered first; this resident is already being served
        self._visits += 1
        self._issue_abandoned = False
        visit = _Visit(event.identity, event.at, self.service, number=self._visits)
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
        return effects  # a reader's own faults go to the device supervisor, not to a resident's screen

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
        self._screen_since = self.now
        staff_check = visit.code.colour is None or visit.temp_unavailable
        return [IssueTicket(visit.identity, visit.service, visit.priority.reasons, staff_check,
                            visit.temperature if visit.temperature is not None else float("nan"),
                            visit.code.colour or "unknown", visit.number)]

    def _ticket_issued(self, ticket: TicketIssued) -> list[Effect]:
        visit = self.visit
        assert visit is not None
        late = self.state == "error" and self._issue_abandoned and visit.ticket is None
        if self.state != "issuing" and not late:
            return []
        self._issue_abandoned = False
        visit.ticket = ticket
        self.state = "printing"
        self._screen_since = self.now
        data = {"number": ticket.number, "service": ticket.service, "people_ahead": ticket.people_ahead,
                "wait_min": ticket.wait_min, "priority": ticket.priority, "staff_check": ticket.staff_check,
                "reprint": ticket.reprint, "printing": True}
        return [Show("ticket", data), PrintTicket(ticket)]  # the visit row was written with the ticket

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
                        Alert("printer", {"reason": done.reason, "ticket": t.number}, visit.identity)]
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
            effects.append(Alert(reason, {k: v for k, v in data.items() if k in ("celsius", "colour")},
                                 visit.identity))
        return effects

    def _tick(self) -> list[Effect]:
        s = self.settings
        age = self.now - self._screen_since
        if self.state == "checking" and age > s.checking_timeout_s:
            steps = {k: v for k, v in (self.visit.steps if self.visit else {}).items() if v == "pending"}
            return self._ask_staff("checkin_timeout", {"waiting_for": ",".join(sorted(steps))})
        if self.state == "issuing" and age > s.issuing_timeout_s:
            return self._ask_staff("flow_stuck", {"state": "issuing", "where": "IssueTicket",
                                                  "error": "the queue did not answer in time"})
        if self.state == "printing" and age > s.printing_timeout_s:
            return self._printed(PrintDone(False, "printer did not answer"))
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
        self._issue_abandoned = False
        self.service = self.settings.default_service
        return [Show("idle", {"service": self.service})]

    def _reading_data(self) -> dict[str, object]:
        visit = self.visit
        assert visit is not None
        return {"steps": dict(visit.steps), "source": visit.identity.source,
                "celsius": visit.temperature}
