"""The service hall's queue (DESIGN §5 items 4 and 6): services, tickets, calling rules, ratings, LAN service.

    from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
    store = Store.open(path, "hall-01", extra_migrations=(HALL_MIGRATIONS,))
    queue = HallQueue(store, ServiceCatalog.from_data(DEFAULT_SERVICES), CallingRule("ratio", 2, 1, 30))
    issued = queue.take_ticket("A", person_key, priority_reasons=("age80",), masked_name="张*明")

The LAN service (:mod:`kiosk.hall.service_api`, :mod:`kiosk.hall.service_server`) and its client
(:mod:`kiosk.hall.client`) are imported from their modules: importing this package does not load
FastAPI, uvicorn or httpx.  Nothing here imports Qt, ``ui``, ``drivers`` or ``hardware_sim``.
"""

from .calling import CallingRule, Choice, Waiting, pick_next
from .errors import AuthError, HallConfigError, HallError, NotFound, QueueRefusal, TicketStateError
from .queue import HallQueue
from .ratings import LEVELS, Level, Rating, parse_level
from .services import DEFAULT_SERVICES, HALL_TZ, Service, ServiceCatalog
from .tickets import (
    HALL_MIGRATIONS,
    PRIORITY_REASONS,
    Call,
    Counter,
    IssuedTicket,
    QueueChange,
    Snapshot,
    Ticket,
)

__all__ = [
    "DEFAULT_SERVICES",
    "HALL_MIGRATIONS",
    "HALL_TZ",
    "LEVELS",
    "PRIORITY_REASONS",
    "AuthError",
    "Call",
    "CallingRule",
    "Choice",
    "Counter",
    "HallConfigError",
    "HallError",
    "HallQueue",
    "IssuedTicket",
    "Level",
    "NotFound",
    "QueueChange",
    "QueueRefusal",
    "Rating",
    "Service",
    "ServiceCatalog",
    "Snapshot",
    "Ticket",
    "TicketStateError",
    "Waiting",
    "parse_level",
    "pick_next",
]
