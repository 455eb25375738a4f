"""The hall queue's exception tree: one root, each refusal with a machine reason and words for people.

    HallError                   root of everything the hall package refuses
    ├── HallConfigError         bad service definitions, calling rule or secret (caught at start)
    ├── QueueRefusal            a resident-facing refusal: daily cap reached, outside issuing hours,
    │                           unknown service (``reason``, ``words_zh``, ``words_en``)
    ├── TicketStateError        an action the ticket or the window's state does not allow
    │                           (finish a waiting ticket, next with a ticket still open, rate twice)
    ├── NotFound                no such ticket, number, or logged-in window
    ├── AuthError               a request to the hall service without a valid signature
    └── HallClientError         raised by :mod:`kiosk.hall.client` (see there for its children)

``reason`` is a short snake_case word a program can switch on; ``str(error)`` is the English
sentence; ``words_zh`` is what a resident or clerk reads on the screen.
"""

from __future__ import annotations

from kiosk.errors import KioskError


class HallError(KioskError):
    """Root of the hall package's errors; carries a machine ``reason`` and words in zh and en."""

    #: HTTP status the hall service answers with for this kind of error.
    status = 400

    def __init__(self, reason: str, words_en: str, words_zh: str = "") -> None:
        super().__init__(words_en)
        self.reason = reason
        self.words_en = words_en
        self.words_zh = words_zh or words_en

    def to_dict(self) -> dict[str, str]:
        """The error as the JSON body of an HTTP answer."""
        return {"error": self.reason, "words_en": self.words_en, "words_zh": self.words_zh}


class HallConfigError(HallError):
    """Service definitions, calling rule or secret that cannot be used."""

    status = 500

    def __init__(self, words_en: str) -> None:
        super().__init__("config", words_en, words_en)


class QueueRefusal(HallError):
    """The queue will not issue a ticket (cap, hours, unknown service, already queued elsewhere)."""

    status = 409


class TicketStateError(HallError):
    """The action does not fit the ticket's or the window's current state."""

    status = 409


class NotFound(HallError):
    """No such ticket, ticket number or logged-in window."""

    status = 404


class AuthError(HallError):
    """A hall-service request that is not signed with the hall's secret, is stale, or is replayed."""

    status = 401
