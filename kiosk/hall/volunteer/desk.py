"""The hall ticket machine's two desks on one runtime: the check-in (tickets) and the volunteer desk (hours).

:class:`HallDesk` is the flow the hall's runtime drives.  It hands every event to the check-in flow,
until "志愿者签到签退" is pressed on the idle screen: then the volunteer flow has the screen, the readers
and the buttons until it goes back to idle.  Card readings are turned into the volunteer flow's events
here (an ID card's number becomes its person key at once; a community card is looked up for its
holder), so the volunteer flow never holds a raw ID number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.hall.checkin.events import IdentificationFailed, Identified
from kiosk.hall.checkin.flow import CheckInFlow
from kiosk.hall.volunteer.events import CardTapped, PersonTapped, ReaderState, TapFailed, VolunteerStart
from kiosk.hall.volunteer.flow import VolunteerFlow
from kiosk.masking import mask_name
from kiosk.runtime.events import CardFailed, CardPresented, Failed, Tick

#: The readers whose card names a person: the ID card and the social-security card.
PERSON_CARDS = ("idcard", "sscard")


class HallDesk:
    """Routes events to the check-in or, while a volunteer is served, to the volunteer flow."""

    def __init__(self, checkin: CheckInFlow, volunteer: VolunteerFlow, person_key: Callable[[str], str],
                 card_holder: Callable[[str], str | None] = lambda card_no: None) -> None:
        """``person_key(id_number)``: the deployment's keyed hash; ``card_holder(card_no)``: a community card's holder key."""
        self.checkin = checkin
        self.volunteer = volunteer
        self.person_key = person_key
        self.card_holder = card_holder

    @property
    def serving_volunteer(self) -> bool:
        """True while the volunteer flow has the screen."""
        return self.volunteer.state != "idle"

    @property
    def state(self) -> str:
        """The check-in's state, or ``volunteer:<state>`` while a volunteer is served."""
        return f"volunteer:{self.volunteer.state}" if self.serving_volunteer else self.checkin.state

    def deadline(self) -> float | None:
        """When the screen on show ends on its own."""
        return self.volunteer.deadline() if self.serving_volunteer else self.checkin.deadline()

    def fail(self, where: str, error: str) -> list[Any]:
        """A broken effect: the flow that has the screen answers it."""
        return self.volunteer.fail(where, error) if self.serving_volunteer else self.checkin.fail(where, error)

    def handle(self, event: Any) -> list[Any]:
        """Feed one event to the flow that has the screen (time to both)."""
        if isinstance(event, Tick):
            return [*self.checkin.handle(event), *self.volunteer.handle(event)]
        if isinstance(event, VolunteerStart):
            if self.checkin.state != "idle" or self.serving_volunteer:
                return []  # a resident is taking a ticket, or a volunteer is already served
            self.volunteer.clock.now = self.checkin.now
            return self.volunteer.handle(event)
        if not self.serving_volunteer:
            if isinstance(event, CardPresented | CardFailed | ReaderState):
                return []  # the check-in takes no community card; its reader faults go to the supervisor
            return self.checkin.handle(event)
        if isinstance(event, Failed):
            return self.volunteer.fail(event.where, event.error)
        return self.volunteer.handle(self._for_volunteer(event))

    def _for_volunteer(self, event: Any) -> Any:
        """A reader's event in the volunteer flow's terms (a QR code names no volunteer: ignored)."""
        if isinstance(event, Identified):
            identity = event.identity
            if identity.source not in PERSON_CARDS:
                return None
            name = mask_name(identity.name) if identity.name else ""
            return PersonTapped(self.person_key(identity.id_number), name, identity.source)
        if isinstance(event, IdentificationFailed):
            return TapFailed("read_failed") if event.source in PERSON_CARDS else None
        if isinstance(event, CardPresented):
            return CardTapped(event.card_no, self.card_holder(event.card_no))
        if isinstance(event, CardFailed):
            return TapFailed(event.reason)
        return event
