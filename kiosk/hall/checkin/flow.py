"""The check-in state machine: ``handle(event) -> effects``, no I/O, no clock of its own.

Service first, as a real 取号机: the idle screen is the service tiles ("请选择您要办理的业务");
a tap on an open service leads to the "present" screen that shows and says where to put the
card or code.  A resident who swipes before choosing is asked which service (the identity is
held in memory while they choose), never given the first service by default.

One resident at a time.  The first identification wins; the others are ignored until
the resident's screen is done.  Temperature, code status, priority and the open-ticket
check are asked for together and the decision is taken as soon as it is certain:
a yellow/red code refuses at once, a fever only after the one retest, a ticket once
every answer is in.  Time enters only through :class:`~kiosk.runtime.events.Tick`.

Every state but idle has a deadline (:meth:`CheckInFlow.deadline`).  A screen the resident
reads says how long it stays (``stays_s`` in its data), warns aloud ``warning_s`` before it
goes, and "继续" (:class:`MoreTime`) or "再听一遍" give the full time again; then it goes back
to idle, where the UI resets language and volume (``reset`` in the data).  A step that waits
on a device or the store and never answers — or fails (:meth:`CheckInFlow.fail`) — ends on
a spoken, worded "please ask staff" screen with an alert.  A ticket number that exists is
never lost from the screen: a printer that fails or stays silent still ends on the ticket
screen, and when the number was not printed that screen stays until the resident presses
"我记下了" (or ``paper_out_screen_s`` passes), while staff get an alert.
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
    HelpRequested,
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
from kiosk.runtime.screens import ScreenClock

# States in which a card or code is taken: idle (then asked which service), the "present" screen,
# the service tiles with a held card, or a finished resident's result still on screen.
READY_STATES = frozenset({"idle", "choosing", "present", "ticket", "refused", "error"})
# States that wait on devices or the store; silence or failure there ends on the "ask staff" screen.
WAITING_STATES = frozenset({"checking", "issuing", "printing"})
# Screens the resident reads: each says how long it stays, warns before it goes, and can be extended.
RESIDENT_SCREENS = frozenset({"choosing", "present", "ticket", "refused", "error", "offer"})
STATES = ("idle", "choosing", "present", "checking", "issuing", "printing", "ticket", "refused", "offer", "error")


@dataclass(frozen=True)
class FlowSettings:
    """Thresholds and timeouts of the flow, each with its unit."""

    fever_c: float = 37.3  # °C; at or above is a fever
    temperature_retests: int = 1  # extra measurements after a first fever reading
    thermometer_retries: int = 1  # extra attempts after a failed reading
    checking_timeout_s: float = 10.0  # seconds before an unanswered check-in is given up
    issuing_timeout_s: float = 8.0  # seconds the queue may take to commit a ticket
    printing_timeout_s: float = 15.0  # seconds the printer may take to accept a ticket
    idle_timeout_s: float = 60.0  # seconds the service tiles with a held card, or the "present" screen, wait
    ticket_screen_s: float = 20.0  # seconds the ticket stays on screen (its words take ~8 s to say)
    refused_screen_s: float = 30.0  # seconds a refusal or an error stays on screen
    offer_screen_s: float = 30.0  # seconds the reprint offer waits
    paper_out_screen_s: float = 600.0  # seconds an unprinted number stays unless "我记下了" is pressed
    warning_s: float = 10.0  # a resident's screen warns aloud this many seconds before it goes
    only_service: str | None = None  # a hall with one service: a swipe needs no choice first


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
        self.service: str | None = None  # chosen on the service tiles; none until the resident taps one
        self.held: Identified | None = None  # a card swiped before a service was chosen (state "choosing")
        self.clock = ScreenClock(self._limit, self.settings.warning_s)  # the resident screen's time (shared rules)
        self._issue_abandoned = False  # the issuing step timed out; a late ticket is still shown
        self._visits = 0  # residents started, so a late answer is matched to its own resident

    @property
    def now(self) -> float:
        """The flow's time: the last Tick's."""
        return self.clock.now

    def deadline(self) -> float | None:
        """When the current state ends on its own (monotonic seconds); None only when idle."""
        return self.clock.deadline()

    def _limit(self) -> float | None:
        s = self.settings
        if self.state == "ticket" and self._paper_out():
            return s.paper_out_screen_s
        return {"choosing": s.idle_timeout_s, "present": s.idle_timeout_s, "checking": s.checking_timeout_s,
                "issuing": s.issuing_timeout_s, "printing": s.printing_timeout_s, "ticket": s.ticket_screen_s,
                "refused": s.refused_screen_s, "error": s.refused_screen_s, "offer": s.offer_screen_s}.get(self.state)

    def _paper_out(self) -> bool:
        """The ticket on screen exists only there: the printer did not print it."""
        return self.visit is not None and self.visit.steps.get("printed") == "failed"

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
        self._enter("error")
        if visit is not None:
            visit.steps["ask_staff"] = "done"
        return [self._show("error", {"reason": "ask_staff"}), Say("ask_staff"),
                Alert(kind, detail, visit.identity if visit else None)]

    def _enter(self, state: str) -> None:
        """Move to ``state``; its clock starts now."""
        self.state = state
        self.clock.restart()

    def _show(self, screen: str, data: dict[str, object]) -> Show:
        """A Show effect; on a resident's screen it carries how long it stays and is kept to show again."""
        return self.clock.show(screen, data, timed=self.state in RESIDENT_SCREENS)

    # -- entry point ----------------------------------------------------------------------
    def choose_service(self, choice: ServiceChosen) -> list[Effect]:
        """The resident tapped a service tile: a closed one says when it opens; an open one goes on."""
        if self.state not in ("idle", "choosing", "present"):
            return []
        names = {"service_zh": choice.name_zh or choice.code, "service_en": choice.name_en or choice.code}
        if not choice.open:
            data = {**names, "opens_zh": choice.opens_zh, "opens_en": choice.opens_en}
            tiles = {"closed": choice.code, **data}
            if self.state == "choosing":
                tiles["asked"] = True
            screen = self._show("idle", tiles) if self.state == "choosing" else Show("idle", tiles)
            return [screen, Say("service_closed", data)]
        self.service = choice.code
        if self.state == "choosing" and self.held is not None:
            held, self.held = self.held, None
            return [Say("service_chosen", names), *self._start_visit(held)]
        self._enter("present")
        return [self._show("present", {"service": choice.code, **names}), Say("present_card", names)]

    def ask_help(self) -> list[Effect]:
        """"呼叫工作人员": staff get an alert naming this screen; the resident hears it and keeps the screen."""
        if not self.clock.help_is_new():
            return [Say("help_called")]
        detail: dict[str, object] = {"screen": self.state}
        if self.service:
            detail["service"] = self.service
        effects: list[Effect] = self.extend()  # the screen's full time again (shown first: the words stay)
        return [*effects, Say("help_called"), Alert("help", detail, self.visit.identity if self.visit else None)]

    def handle(self, event: Event) -> list[Effect]:
        """Feed one event; get the effects to carry out, in order."""
        if isinstance(event, Tick):
            self.clock.now = event.now
            return self._tick()
        if isinstance(event, Failed):
            return self.fail(event.where, event.error)
        if isinstance(event, ServiceChosen):
            return self.choose_service(event)
        if isinstance(event, MoreTime):
            return self.extend()
        if isinstance(event, HelpRequested):
            return self.ask_help()
        if isinstance(event, Identified):
            return self._identified(event)
        if isinstance(event, IdentificationFailed):
            return self._identification_failed(event)
        if isinstance(event, Dismissed):
            return self._to_idle() if self.state not in WAITING_STATES else []
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
        if self.state not in READY_STATES or self.state == "ticket" and self._paper_out():
            return []  # another source answered first, or an unprinted number waits for "我记下了"
        if self.state == "present" and self.service is not None:
            return self._start_visit(event)
        if self.settings.only_service is not None:  # nothing to choose: this swipe is for the one service
            self.service = self.settings.only_service
            return self._start_visit(event)
        # no service chosen for this resident: hold the card and ask which service (never a default one)
        self.visit = None
        self.held = event  # the identity, when it was shown and a verified code's status, kept in memory
        self.service = None
        if self.state != "choosing":
            self._enter("choosing")
        return [self._show("idle", {"asked": True}), Say("choose_first")]

    def _start_visit(self, event: Identified) -> list[Effect]:
        assert self.service is not None
        self._visits += 1
        self._issue_abandoned = False
        code = event.code
        visit = _Visit(event.identity, event.at, self.service, number=self._visits)
        visit.steps = {"identity": "done", "temperature": "pending", "code": "pending", "priority": "pending"}
        self.visit = visit
        self._enter("checking")
        effects: list[Effect] = [Show("reading", self._reading_data()), MeasureTemperature()]
        if code is not None:
            visit.code = code
            visit.steps["code"] = "done"
        else:
            effects.append(LookupCode(event.identity))
        effects += [LookupPriority(event.identity), CheckOpenTicket(event.identity, visit.service),
                    Say("measuring")]
        return effects + self._maybe_decide()

    def _identification_failed(self, event: IdentificationFailed) -> list[Effect]:
        if self.state not in READY_STATES:
            return []
        self.held = None
        self._enter("error")
        effects: list[Effect] = [
            self._show("error", {"reason": event.reason, "words_zh": event.words_zh, "words_en": event.words_en,
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
            return [Say("thermometer_failed"), Alert("device_fault", {"device": "thermometer", "words": event.reason}),
                    *self._maybe_decide()]
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
            self._enter("offer")
            return [self._show("reprint_offer", {"number": visit.open_ticket.ticket_number, "service": visit.service}),
                    Say("reprint_offer", {"number": visit.open_ticket.ticket_number})]
        return self._issue()

    def _issue(self) -> list[Effect]:
        visit = self.visit
        assert visit is not None and visit.code is not None and visit.priority is not None
        self._enter("issuing")
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
        self._enter("printing")
        data = {"number": ticket.number, "service": ticket.service, "people_ahead": ticket.people_ahead,
                "wait_min": ticket.wait_min, "priority": ticket.priority, "staff_check": ticket.staff_check,
                "reprint": ticket.reprint, "printing": True}
        return [Show("ticket", data), Say("printing"), PrintTicket(ticket)]  # the visit row was written with it

    def _printed(self, done: PrintDone) -> list[Effect]:
        visit = self.visit
        if self.state != "printing" or visit is None or visit.ticket is None:
            return []
        t = visit.ticket
        visit.steps["printed"] = "done" if done.ok else "failed"
        self._enter("ticket")
        data = {"number": t.number, "service": t.service, "people_ahead": t.people_ahead, "wait_min": t.wait_min,
                "priority": t.priority, "staff_check": t.staff_check, "reprint": t.reprint, "printing": False,
                "printed": done.ok, "print_problem": done.reason}
        effects: list[Effect] = [self._show("ticket", data), Measure("swipe_to_ticket", visit.started_at)]
        if done.ok:
            effects.append(Say("ticket", {"number": t.number, "people_ahead": t.people_ahead}))
        else:
            effects += [Say("ticket_not_printed", {"number": t.number}),
                        Alert("printer", {"reason": done.reason, "ticket": t.number}, visit.identity)]
        if t.priority:
            effects.append(Say("ticket_priority"))
        if t.staff_check:
            effects.append(Say("ticket_staff_check"))
        return effects

    def _reprint_chosen(self) -> list[Effect]:
        if self.state != "offer" or self.visit is None:
            return []
        return self._issue()  # the queue hands back the open ticket, marked as a reprint

    def _refuse(self, reason: str, data: dict[str, object], log: bool, alert: bool) -> list[Effect]:
        visit = self.visit
        assert visit is not None
        self._enter("refused")
        spoken = Say("queue_refused", data) if "words_zh" in data else Say("refused_" + reason, data)
        effects: list[Effect] = [self._show("refused", {"reason": reason, **data}), spoken]
        if log:
            effects.append(LogVisit(visit.identity, visit.temperature,
                                    visit.code.colour if visit.code else None, "refused_" + reason))
        if alert:
            effects.append(Alert(reason, {k: v for k, v in data.items() if k in ("celsius", "colour")},
                                 visit.identity))
        return effects

    def _tick(self) -> list[Effect]:
        limit = self._limit()
        if limit is None:
            return []
        age = self.clock.age()
        if self.state == "checking" and age > limit:
            steps = {k: v for k, v in (self.visit.steps if self.visit else {}).items() if v == "pending"}
            return self._ask_staff("checkin_timeout", {"waiting_for": ",".join(sorted(steps))})
        if self.state == "issuing" and age > limit:
            return self._ask_staff("flow_stuck", {"state": "issuing", "where": "IssueTicket",
                                                  "error": "the queue did not answer in time"})
        if self.state == "printing" and age > limit:
            return self._printed(PrintDone(False, "printer did not answer"))
        if self.state not in RESIDENT_SCREENS:
            return []
        if age > limit:
            return self._to_idle()
        return self.clock.warning()

    def extend(self) -> list[Effect]:
        """The resident asked for more time (or to hear it again): the screen's full time, shown afresh."""
        if self.state not in RESIDENT_SCREENS:
            return []
        return self.clock.extend()

    def _to_idle(self) -> list[Effect]:
        """Back to the service tiles; the UI resets language and volume for the next resident."""
        self.state = "idle"
        self.visit = None
        self.held = None
        self._issue_abandoned = False
        self.service = None
        self.clock.warned = False
        return [Show("idle", {"reset": True})]

    def _reading_data(self) -> dict[str, object]:
        visit = self.visit
        assert visit is not None
        return {"steps": dict(visit.steps), "source": visit.identity.source,
                "celsius": visit.temperature}
