"""Events that feed the check-in flow and effects it asks for: plain data, no I/O.

The flow (:mod:`kiosk.hall.checkin.flow`) is a state machine ``(state, event) -> effects``;
the runner turns effects into device calls, store writes, screens and speech, and
feeds the answers back as events.  Nothing here holds a raw ID number longer than the
one resident's check-in: :class:`Identity` lives in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kiosk.identity import Identity, Source
from kiosk.runtime.events import Failed, Tick
from kiosk.runtime.screens import Alert, Dismissed, HelpRequested, MoreTime, Say, Show

Colour = Literal["green", "yellow", "red"]


# -- events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identified:
    """A card was read or a code decoded; ``code`` carries a verified token's status when the QR had one."""

    identity: Identity
    at: float  # time.monotonic() when the card or code was presented
    code: CodeResult | None = None


@dataclass(frozen=True)
class IdentificationFailed:
    """A reader failed mid-read (unplugged, card pulled, bad frame) or a code was refused."""

    source: Source
    reason: str  # machine reason: "device", "token_expired", "token_forged", "token_malformed", ...
    words_zh: str
    words_en: str


@dataclass(frozen=True)
class TemperatureMeasured:
    """One thermometer reading."""

    celsius: float


@dataclass(frozen=True)
class TemperatureFailed:
    """The thermometer did not answer or gave an implausible value."""

    reason: str


@dataclass(frozen=True)
class CodeResult:
    """Code colour, from a verified token, the city service, or the configured fallback."""

    colour: Colour | None  # None: unknown (service down) and fallback applied
    source: Literal["token", "lookup", "fallback"]
    fallback: Literal["staff_check", "refuse", "allow"] | None = None


@dataclass(frozen=True)
class PriorityResult:
    """Priority groups that apply: veteran, special_care, disabled, age80."""

    reasons: tuple[str, ...]


@dataclass(frozen=True)
class OpenTicketResult:
    """An open ticket the same person already holds for the chosen service, or None."""

    ticket_number: str | None


@dataclass(frozen=True)
class TicketIssued:
    """The queue committed a ticket (or found the open one for a reprint)."""

    number: str
    service: str
    people_ahead: int
    wait_min: int
    priority: bool
    staff_check: bool
    reprint: bool = False
    visit: int = 0  # the flow's resident number from IssueTicket (0: not matched)


@dataclass(frozen=True)
class TicketRefusedByQueue:
    """The queue would not issue: daily cap reached, outside issuing hours."""

    reason: str
    words_zh: str
    words_en: str
    visit: int = 0  # the flow's resident number from IssueTicket (0: not matched)


@dataclass(frozen=True)
class PrintDone:
    """The printer accepted the ticket (or could not: paper out, offline)."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class ReprintChosen:
    """The resident pressed 'reprint my ticket'."""


@dataclass(frozen=True)
class ServiceChosen:
    """The resident tapped a service tile; the terminal adds its names and whether it issues now."""

    code: str
    name_zh: str = ""
    name_en: str = ""
    open: bool = True  # False: outside its issuing hours; the tile says when it opens
    opens_zh: str = ""  # "今日 13:00 开始取号"
    opens_en: str = ""


Event = (Identified | IdentificationFailed | TemperatureMeasured | TemperatureFailed | CodeResult | PriorityResult
         | OpenTicketResult | TicketIssued | TicketRefusedByQueue | PrintDone | ReprintChosen | Dismissed | ServiceChosen | MoreTime
         | HelpRequested | Tick | Failed)


# -- effects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureTemperature:
    """Ask the thermometer for a reading."""


@dataclass(frozen=True)
class LookupCode:
    """Look the code status up at the city service (card swipes)."""

    identity: Identity


@dataclass(frozen=True)
class LookupPriority:
    """Check the priority register."""

    identity: Identity


@dataclass(frozen=True)
class CheckOpenTicket:
    """Does this person hold an open ticket for the service?"""

    identity: Identity
    service: str


@dataclass(frozen=True)
class IssueTicket:
    """Take a ticket in the queue and log the visit: one store transaction with both rows and their events."""

    identity: Identity
    service: str
    priority_reasons: tuple[str, ...]
    staff_check: bool
    temperature_c: float
    colour: str
    visit: int = 0  # the flow's resident number; the answer carries it back


@dataclass(frozen=True)
class PrintTicket:
    """Print the ticket (status is queried first)."""

    ticket: TicketIssued


@dataclass(frozen=True)
class LogVisit:
    """Record the visit (refusals too): masked identity, temperature, colour, outcome."""

    identity: Identity
    temperature_c: float | None
    colour: str | None
    outcome: str  # "ticket", "reprint", "refused_fever", "refused_code", ...
    ticket_number: str | None = None


@dataclass(frozen=True)
class Measure:
    """Timing mark for the report: ticket committed, on screen and accepted by the printer."""

    name: str
    started_at: float


Effect = (Show | Say | MeasureTemperature | LookupCode | LookupPriority | CheckOpenTicket | IssueTicket | PrintTicket
          | LogVisit | Alert | Measure)
