"""The card module's push hook: newly stored money events in, postings or problem rows out.

:func:`post_card_events` is registered in :mod:`sync.central.modules` and called by
:meth:`sync.central.storage.CentralStore.push` inside the push's write transaction with the
events acknowledged ``stored`` (never a duplicate or a conflict, so an event is posted at most
once).  Each money event is posted inside a savepoint: a payload the ledger refuses
(:class:`~.payloads.Refused`) or a posting that fails with a non-database error rolls back that
event's writes alone and leaves a ``card_problems`` row naming the event, its reason and the
detail; the push still succeeds and the terminal's other events are posted.  Database errors are
not swallowed: they fail the whole push (nothing stored), and the terminal sends it again.
Events of other types pass untouched.  Finally the touched cards' balances go to the feed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, insert
from sqlalchemy.exc import SQLAlchemyError

from ...protocol import EventEnvelope
from ..db import now_text
from .feed import publish_balances
from .payloads import Refused, card_no_of
from .posting import POSTERS, Poster
from .schema import card_problems

log = logging.getLogger("linfen.central.card")


def record_problem(conn: Connection, event: EventEnvelope, terminal_id: str, reason: str, detail: str,
                   card_no: str | None, recorded_at: str) -> None:
    """Keep a refused money event visible to operators (``GET /v1/card/problems``)."""
    conn.execute(insert(card_problems).values(
        event_id=str(event.id), terminal_id=terminal_id, type=event.type, card_no=card_no, reason=reason[:40],
        detail=detail[:2000], recorded_at=recorded_at))
    log.warning("card event refused", extra={"event": "card_problem", "terminal_id": terminal_id,
                                             "event_id": str(event.id), "reason": reason})


def post_card_events(conn: Connection, terminal_id: str, site: str, role: str,
                     events: Sequence[EventEnvelope]) -> None:
    """Post the money events among ``events`` (just stored for ``terminal_id``) in the caller's transaction."""
    poster = Poster(terminal_id, site, role, now_text())
    touched: set[str] = set()
    for event in events:
        post = POSTERS.get(event.type)
        if post is None:
            continue
        try:
            with conn.begin_nested():
                touched.add(post(conn, poster, event))
        except Refused as refused:
            record_problem(conn, event, terminal_id, refused.reason, refused.detail, refused.card_no,
                           poster.posted_at)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a bug must not lose the event or block the terminal: keep it visible
            log.exception("card posting failed", extra={"event": "card_posting_failed", "event_id": str(event.id)})
            record_problem(conn, event, terminal_id, "internal_error", f"{type(exc).__name__}: {exc}",
                           card_no_of(event.payload), poster.posted_at)
    if touched:
        publish_balances(conn, touched, poster.posted_at)
