"""The five 好差评 levels a resident gives after a counter finishes, stored and emitted once per ticket.

The levels are the national government-service evaluation scale ("好差评"): 非常满意, 满意,
基本满意, 不满意, 非常不满意.  A rating belongs to a finished ticket, is given once (a second
rating is refused, never overwritten: a correction would be a new event), and is written in one
store action with its ``ticket.rated`` event.  The table ``hall_ratings`` is created by the hall
migrations in :mod:`kiosk.hall.queue`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from kiosk.store import Store

from .errors import NotFound, TicketStateError
from .services import iso_utc


@dataclass(frozen=True)
class Level:
    """One rating level: a stable key, its words, and a score (5 best)."""

    key: str
    zh: str
    en: str
    score: int


#: Best first, as the rating pad shows them.
LEVELS: tuple[Level, ...] = (
    Level("very_satisfied", "非常满意", "Very satisfied", 5),
    Level("satisfied", "满意", "Satisfied", 4),
    Level("basically_satisfied", "基本满意", "Basically satisfied", 3),
    Level("dissatisfied", "不满意", "Dissatisfied", 2),
    Level("very_dissatisfied", "非常不满意", "Very dissatisfied", 1),
)
_BY_NAME: dict[str, Level] = {name: lv for lv in LEVELS for name in (lv.key, lv.zh, lv.en.lower())}


def parse_level(value: str | int) -> Level:
    """The level named by its key, Chinese or English words, or score 1–5; TicketStateError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        for lv in LEVELS:
            if lv.score == value:
                return lv
    elif isinstance(value, str) and value.strip().isdigit():
        return parse_level(int(value.strip()))
    elif isinstance(value, str) and value.strip().lower() in _BY_NAME:
        return _BY_NAME[value.strip().lower()]
    keys = ", ".join(lv.key for lv in LEVELS)
    raise TicketStateError("bad_rating", f"{value!r} is not a rating level ({keys}, or 1-5)", "无效的评价等级")


@dataclass(frozen=True)
class Rating:
    """A stored rating."""

    ticket_id: int
    number: str
    service: str
    window: int
    staff_id: str
    level: str
    level_zh: str
    level_en: str
    score: int
    rated_at: str  # ISO-8601 UTC

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (also the ``ticket.rated`` event payload)."""
        return asdict(self)


def rate_ticket(store: Store, ticket_id: int, level: str | int | Level, now: datetime,
                window: int | None = None) -> Rating:
    """Record the rating of finished ticket ``ticket_id`` and emit ``ticket.rated``, in one action.

    ``window``, when given, must be the window that finished the ticket (a rating pad rates only
    its own counter's tickets).  Refusals: :class:`NotFound` (no such ticket),
    :class:`TicketStateError` with reason ``not_finished``, ``other_window``, ``already_rated`` or
    ``bad_rating``.
    """
    lv = level if isinstance(level, Level) else parse_level(level)
    with store.action() as act:
        row = act.db.execute(
            "SELECT number, service, state, window_no, staff_id FROM hall_tickets WHERE id = ?", [ticket_id]
        ).fetchone()
        if row is None:
            raise NotFound("no_ticket", f"there is no ticket with id {ticket_id}", "没有这张票")
        number, service, state, tk_window, staff_id = row
        if state != "finished":
            raise TicketStateError("not_finished", f"ticket {number} is {state}, only a finished ticket is rated",
                                   f"{number} 号尚未办结，不能评价")
        if window is not None and tk_window != window:
            raise TicketStateError("other_window", f"ticket {number} was served at window {tk_window}, not {window}",
                                   f"{number} 号不是本窗口办理的")
        rating = Rating(ticket_id, number, service, int(tk_window), staff_id or "", lv.key, lv.zh, lv.en, lv.score,
                        iso_utc(now))
        try:
            act.db.execute(
                "INSERT INTO hall_ratings (ticket_id, level, score, window_no, staff_id, rated_at) VALUES (?, ?, ?, ?, ?, ?)",
                [ticket_id, lv.key, lv.score, rating.window, rating.staff_id, rating.rated_at],
            )
        except sqlite3.IntegrityError:
            raise TicketStateError("already_rated", f"ticket {number} has already been rated",
                                   f"{number} 号已评价过") from None
        act.emit("ticket.rated", rating.to_dict())
    return rating


def rating_of(store: Store, ticket_id: int) -> Rating | None:
    """The stored rating of a ticket, or None."""
    with store.action() as act:  # reads go through an action too: never see another thread's open write
        row = act.db.execute(
            "SELECT t.number, t.service, r.window_no, r.staff_id, r.level, r.rated_at FROM hall_ratings r "
            "JOIN hall_tickets t ON t.id = r.ticket_id WHERE r.ticket_id = ?", [ticket_id]
        ).fetchone()
    if row is None:
        return None
    number, service, window, staff_id, key, rated_at = row
    lv = parse_level(key)
    return Rating(ticket_id, number, service, window, staff_id, lv.key, lv.zh, lv.en, lv.score, rated_at)

