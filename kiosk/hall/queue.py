"""The hall queue over the local store: take a ticket, call, recall, no-show, transfer, finish, rate.

Every business action is one ``store.action()`` — one ``BEGIN IMMEDIATE`` transaction holding its
rows and its outbox event — so two clerks pressing "next" at once (two threads, or two processes
on the same file) are serialised by SQLite's write lock and never get the same ticket; the partial
unique indexes of :mod:`kiosk.hall.tickets` back this up inside the database.  Reads also go
through an action so a reader never sees another thread's uncommitted write.

Events (payloads carry no personal data: no name, masked or not, no person key):

    ticket.issued       ticket fields but masked_name, people_ahead, wait_min  (take_ticket, new ticket)
    ticket.reprinted    ticket_id, number, service                     (take_ticket, open ticket)
    ticket.called       the Call (id, number, service, window, staff, kind next|specific, reason, wait_s)
    ticket.recalled     the Call (kind recall)
    ticket.serving      ticket_id, number, service, window, staff_id
    ticket.no_show      ticket_id, number, service, window, staff_id, calls
    ticket.transferred  ticket_id, new_ticket_id, number, from_service, to_service, window, staff_id
    ticket.finished     ticket_id, number, service, window, staff_id, wait_s, handle_s
    ticket.rated        see :mod:`kiosk.hall.ratings`
    counter.login       window, staff_id, services
    counter.logout      window, staff_id
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kiosk.store import Action, Store

from .calling import CallingRule, Waiting, people_ahead, pick_next
from .errors import HallError, NotFound, QueueRefusal, TicketStateError
from .ratings import Level, Rating, rate_ticket
from .services import HALL_TZ, ServiceCatalog, iso_utc
from .tickets import (
    CALL_COLUMNS,
    HALL_MIGRATIONS,
    TICKET_COLUMNS,
    Call,
    Counter,
    IssuedTicket,
    QueueChange,
    Snapshot,
    Ticket,
    check_masked_name,
    check_person_key,
    check_priority_reasons,
    check_staff,
    purge_tickets,
    read_calls,
    read_counter,
    read_current,
    read_snapshot,
    read_ticket,
    waiting_counts,
)

if TYPE_CHECKING:  # kiosk.visit_log is only needed by callers that pass a visit (it loads the ID-card masking)
    from kiosk.visit_log import Visit, VisitLog

log = logging.getLogger(__name__)

Listener = Callable[[QueueChange], None]


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


class HallQueue:
    """The hall's queue: one instance per hall process, shared by its threads."""

    migrations = HALL_MIGRATIONS

    def __init__(self, store: Store, services: ServiceCatalog, rule: CallingRule | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        """Use ``store`` (opened with ``extra_migrations=(HALL_MIGRATIONS,)``); ``clock`` returns an aware now."""
        self.store = store
        self.services = services
        self.rule = rule or CallingRule()
        self._clock = clock or (lambda: datetime.now(HALL_TZ))
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The queue's clock (aware)."""
        now = self._clock()
        if now.tzinfo is None:
            raise HallError("naive_clock", "the hall clock must return an aware datetime")
        return now

    def today(self, now: datetime | None = None) -> str:
        """Hall-time date ``YYYY-MM-DD`` of ``now``."""
        return (now or self.now()).astimezone(HALL_TZ).date().isoformat()

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(QueueChange)`` after each committed action that changes calls or counts."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop telling ``listener``."""
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self, change: QueueChange) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # a broken display feed must not undo a committed call
                log.exception("hall queue listener failed")

    def _require_current(self, act: Action, window: int, states: Sequence[str], action: str) -> tuple[Counter, Ticket]:
        counter = read_counter(act.db, window)
        ticket = read_current(act.db, window)
        if ticket is None:
            raise TicketStateError("no_current_ticket", f"window {window} has no called ticket to {action}",
                                   f"{window} 号窗口当前没有叫号")
        if ticket.state not in states:
            raise TicketStateError(f"ticket_{ticket.state}", f"ticket {ticket.number} is {ticket.state}, "
                                   f"cannot {action} it", f"{ticket.number} 号当前状态不能执行此操作")
        return counter, ticket

    def _set(self, act: Action, ticket: Ticket, from_states: Sequence[str], **fields: Any) -> None:
        cols = ", ".join(f"{name} = ?" for name in fields)
        marks = ", ".join("?" for _ in from_states)
        cur = act.db.execute(f"UPDATE hall_tickets SET {cols} WHERE id = ? AND state IN ({marks})",
                             [*fields.values(), ticket.id, *from_states])
        if cur.rowcount != 1:  # cannot happen inside BEGIN IMMEDIATE; refuse rather than double-assign
            raise TicketStateError("lost_race", f"ticket {ticket.number} changed under this action", "请重试")

    # -- resident side --------------------------------------------------------------------------------
    def take_ticket(self, service: str, person_key: str, *, priority_reasons: Iterable[str] = (),
                    masked_name: str = "", staff_check: bool = False, visit: Visit | None = None,
                    visits: VisitLog | None = None) -> IssuedTicket:
        """Issue the next number of ``service`` to ``person_key``, or hand back their open ticket.

        Same person, same service, open ticket today → that ticket with ``reprint=True`` (and a
        ``ticket.reprinted`` event) whatever the hours or cap.  Otherwise refuses with
        :class:`QueueRefusal` reason ``unknown_service``, ``closed`` (outside issuing hours) or
        ``cap_reached``; else commits the ticket and ``ticket.issued`` together.

        With ``visit`` and ``visits`` (the :class:`~kiosk.visit_log.VisitLog` of this queue's store)
        the real-name visit row is written in the same transaction (DESIGN §6), with the ticket's
        number and outcome ``"ticket"`` (new ticket) or ``"reprint"`` (open ticket handed back),
        and the queue's time: the ticket or reprint, its event, the visit row and ``visit.logged``
        commit together or not at all.  If the visit cannot be written, nothing is (no ticket, no
        event, no daily number used) and the visit log's error is raised.  A refusal writes
        nothing either; log a refused visit with ``visits.record(...)``::

            visit = Visit(id_number, name, "idcard", 36.6, "green")  # outcome/ticket_number are filled in
            issued = queue.take_ticket("A", person_key(id_number, key), priority_reasons=reasons,
                                       masked_name=mask_name(name), staff_check=False,
                                       visit=visit, visits=visit_log)
        """
        check_person_key(person_key)
        check_masked_name(masked_name)
        reasons = check_priority_reasons(priority_reasons)
        if (visit is None) != (visits is None):
            raise HallError("visit_without_log", "take_ticket needs both visit= and visits=, or neither",
                            "内部错误：来访登记参数不全")
        if visits is not None and visits.store is not self.store:
            raise HallError("visit_log_store", "the visit log must use the queue's store (one transaction)",
                            "内部错误：来访登记存储不一致")
        svc = self.services.get(service)
        now = self.now()
        day = self.today(now)
        with self.store.action() as act:
            row = act.db.execute(f"SELECT {TICKET_COLUMNS} FROM hall_tickets WHERE day = ? AND service = ? AND "
                                 "person_key = ? AND state IN ('waiting', 'called', 'serving')",
                                 [day, service, person_key]).fetchone()
            if row is not None:
                ticket = Ticket.from_row(row)
                ahead, wait = self._estimate(act, ticket)
                act.emit("ticket.reprinted", {"ticket_id": ticket.id, "number": ticket.number, "service": service})
                if visit is not None and visits is not None:
                    visits.record(replace(visit, outcome="reprint", ticket_number=ticket.number), now, action=act)
                return IssuedTicket(ticket, True, ahead, wait, svc.name_zh, svc.name_en)
            if not svc.is_issuing(now):
                raise QueueRefusal("closed", f"{svc.name_en} issues tickets only {svc.hours_text()}",
                                   f"{svc.name_zh}取号时间为 {svc.hours_text('zh')}")
            last = act.db.execute("SELECT last FROM hall_numbers WHERE day = ? AND service = ?",
                                  [day, service]).fetchone()
            seq = (last[0] if last else 0) + 1
            if seq > svc.daily_cap:
                raise QueueRefusal("cap_reached", f"today's {svc.daily_cap} tickets for {svc.name_en} are all taken",
                                   f"{svc.name_zh}今日号源（{svc.daily_cap} 个）已发完")
            act.db.execute("INSERT INTO hall_numbers (day, service, last) VALUES (?, ?, ?) "
                           "ON CONFLICT (day, service) DO UPDATE SET last = excluded.last", [day, service, seq])
            number = f"{service}{seq:03d}"
            cur = act.db.execute(
                "INSERT INTO hall_tickets (day, number, service, origin_service, person_key, masked_name, priority, "
                "priority_reasons, staff_check, state, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?)",
                [day, number, service, service, person_key, masked_name, int(bool(reasons)), ",".join(reasons),
                 int(staff_check), iso_utc(now)])
            ticket = read_ticket(act.db, int(cur.lastrowid or 0))
            ahead, wait = self._estimate(act, ticket)
            payload = {k: v for k, v in ticket.to_dict().items() if k != "masked_name"}  # the central gets no names
            act.emit("ticket.issued", {**payload, "people_ahead": ahead, "wait_min": wait})
            if visit is not None and visits is not None:
                visits.record(replace(visit, outcome="ticket", ticket_number=number), now, action=act)
            counts = waiting_counts(act.db, self.services.codes, day)
        self._notify(QueueChange(None, counts))
        return IssuedTicket(ticket, False, ahead, wait, svc.name_zh, svc.name_en)

    def _estimate(self, act: Action, ticket: Ticket) -> tuple[int, int]:
        """People ahead of a waiting ticket (if nobody else came) and minutes until it is called."""
        if ticket.state != "waiting":
            return 0, 0
        p_older, n_older = act.db.execute(
            "SELECT COALESCE(SUM(priority), 0), COALESCE(SUM(1 - priority), 0) FROM hall_tickets "
            "WHERE day = ? AND service = ? AND state = 'waiting' AND (issued_at < ? OR (issued_at = ? AND id < ?))",
            [ticket.day, ticket.service, ticket.issued_at, ticket.issued_at, ticket.id]).fetchone()
        ahead = people_ahead(ticket.priority, p_older, n_older, self.rule)
        counters = sum(ticket.service in json.loads(s) for (s,) in
                       act.db.execute("SELECT services FROM hall_windows").fetchall())
        wait = math.ceil(ahead * self.services.get(ticket.service).avg_handle_min / max(1, counters))
        return int(ahead), int(wait)

    def open_ticket(self, service: str, person_key: str) -> Ticket | None:
        """The open ticket ``person_key`` holds for ``service`` today, if any (the check-in's reprint check)."""
        check_person_key(person_key)
        with self.store.action() as act:
            row = act.db.execute(f"SELECT {TICKET_COLUMNS} FROM hall_tickets WHERE day = ? AND service = ? AND "
                                 "person_key = ? AND state IN ('waiting', 'called', 'serving')",
                                 [self.today(), service, person_key]).fetchone()
        return Ticket.from_row(row) if row else None

    def purge_tickets(self, act: Action, cutoff: datetime) -> int:
        """Purge step for :class:`kiosk.visit_log.PurgeScheduler`: inside ``act``, delete the tickets (with
        their calls, ratings, daily numbers) of hall days before ``cutoff``'s hall day, keeping per-day
        counts (:func:`kiosk.hall.tickets.purge_tickets`); the number of ticket rows deleted."""
        return purge_tickets(act.db, self.today(cutoff))

    # -- counter side -----------------------------------------------------------------------------------
    def login(self, window: int, staff_id: str, services: Sequence[str]) -> Counter:
        """Log ``staff_id`` in at ``window`` serving ``services`` (replaces whoever was there)."""
        check_staff(window, staff_id)
        codes = tuple(dict.fromkeys(services))
        if not codes:
            raise HallError("no_services", "a counter must serve at least one service", "请选择办理的业务")
        for code in codes:
            self.services.get(code)
        counter = Counter(window, staff_id, codes, iso_utc(self.now()))
        with self.store.action() as act:
            act.db.execute("INSERT OR REPLACE INTO hall_windows (window_no, staff_id, services, since) "
                           "VALUES (?, ?, ?, ?)", [window, staff_id, json.dumps(list(codes)), counter.since])
            act.emit("counter.login", {"window": window, "staff_id": staff_id, "services": list(codes)})
        return counter

    def logout(self, window: int) -> None:
        """Log the window out (its open ticket, if any, stays open for the next clerk)."""
        with self.store.action() as act:
            counter = read_counter(act.db, window)
            act.db.execute("DELETE FROM hall_windows WHERE window_no = ?", [window])
            act.emit("counter.logout", {"window": window, "staff_id": counter.staff_id})

    def counter(self, window: int) -> Counter:
        """Who is logged in at ``window`` (NotFound otherwise)."""
        with self.store.action() as act:
            return read_counter(act.db, window)

    def current(self, window: int) -> Ticket | None:
        """The ticket called or being served at ``window``."""
        with self.store.action() as act:
            return read_current(act.db, window)

    def ticket(self, ticket_id: int) -> Ticket:
        """A ticket by id (NotFound otherwise)."""
        with self.store.action() as act:
            return read_ticket(act.db, ticket_id)

    def _record_call(self, act: Action, ticket: Ticket, counter: Counter, kind: str, reason: str,
                     now: datetime) -> Call:
        cur = act.db.execute(f"INSERT INTO hall_calls (day, {CALL_COLUMNS.removeprefix('id, ')}) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [self.today(now), ticket.id, ticket.number, ticket.service, counter.window,
                              counter.staff_id, kind, int(ticket.priority), reason, iso_utc(now)])
        [call] = read_calls(act.db, self.services, "id = ?", [cur.lastrowid])
        wait_s = round((now - _parse(ticket.issued_at)).total_seconds(), 3)
        act.emit("ticket.recalled" if kind == "recall" else "ticket.called", {**call.to_dict(), "wait_s": wait_s})
        return call

    def _free_counter(self, act: Action, window: int) -> Counter:
        counter = read_counter(act.db, window)
        busy = read_current(act.db, window)
        if busy is not None:
            raise TicketStateError("window_busy", f"window {window} still has {busy.number} ({busy.state}): finish, "
                                   "mark no-show or transfer it first", f"请先处理当前的 {busy.number} 号")
        return counter

    def call_next(self, window: int) -> Call | None:
        """Pick the next ticket by the calling rule and mark it called at ``window``, atomically.

        None when nobody waits for the window's services.  The pick and the mark happen inside one
        ``BEGIN IMMEDIATE`` transaction, so concurrent callers each get a different ticket.
        """
        now = self.now()
        day = self.today(now)
        with self.store.action() as act:
            counter = self._free_counter(act, window)
            marks = ", ".join("?" for _ in counter.services)
            # The rules only ever pick the oldest ticket of a kind, and "anyone overdue" is "the oldest
            # overdue": the head of each kind is all pick_next needs, however long the queue.
            head = (f"SELECT * FROM (SELECT id, priority, issued_at FROM hall_tickets WHERE day = ? AND state = "
                    f"'waiting' AND service IN ({marks}) AND priority = ? ORDER BY issued_at, id LIMIT 1)")
            rows = act.db.execute(f"{head} UNION ALL {head}", [day, *counter.services, 1, day, *counter.services,
                                                               0]).fetchall()
            waiting = [Waiting(tid, bool(p), _parse(at)) for tid, p, at in rows]
            recent = act.db.execute(f"SELECT priority FROM hall_calls WHERE day = ? AND kind = 'next' AND service IN "
                                    f"({marks}) ORDER BY id DESC LIMIT ?",
                                    [day, *counter.services, self.rule.history_length]).fetchall()
            choice = pick_next(waiting, [bool(p) for (p,) in reversed(recent)], self.rule, now)
            if choice is None:
                return None
            ticket = read_ticket(act.db, choice.ticket.ticket_id)
            self._set(act, ticket, ("waiting",), state="called", window_no=window, staff_id=counter.staff_id,
                      calls=ticket.calls + 1, called_at=iso_utc(now))
            call = self._record_call(act, ticket, counter, "next", choice.reason, now)
            counts = waiting_counts(act.db, self.services.codes, day)
        self._notify(QueueChange(call, counts))
        return call

    def call_specific(self, window: int, number: str) -> Call:
        """Call ticket ``number`` of today (waiting, or marked no-show and back) to ``window``."""
        now = self.now()
        day = self.today(now)
        number = str(number).strip().upper()
        with self.store.action() as act:
            counter = self._free_counter(act, window)
            rows = act.db.execute(f"SELECT {TICKET_COLUMNS} FROM hall_tickets WHERE day = ? AND number = ? "
                                  "ORDER BY id DESC", [day, number]).fetchall()
            if not rows:
                raise NotFound("no_number", f"no ticket {number} today", f"今天没有 {number} 号")
            tickets = [Ticket.from_row(r) for r in rows]
            ticket = next((t for t in tickets if t.state in ("waiting", "no_show")), tickets[0])
            if ticket.state not in ("waiting", "no_show"):
                raise TicketStateError(f"ticket_{ticket.state}", f"ticket {number} is {ticket.state}",
                                       f"{number} 号当前不能叫")
            if ticket.service not in counter.services:
                raise TicketStateError("not_your_service", f"ticket {number} is for service {ticket.service}, "
                                       f"window {window} serves {', '.join(counter.services)}", f"本窗口不办理 {number} 号的业务")
            try:
                self._set(act, ticket, ("waiting", "no_show"), state="called", window_no=window,
                          staff_id=counter.staff_id, calls=ticket.calls + 1, called_at=iso_utc(now), closed_at=None)
            except sqlite3.IntegrityError:
                raise TicketStateError("reopen_conflict", f"ticket {number} cannot be reopened: the resident "
                                       "already holds another open ticket", f"{number} 号已有新票，不能重叫") from None
            call = self._record_call(act, ticket, counter, "specific", "specific", now)
            counts = waiting_counts(act.db, self.services.codes, day)
        self._notify(QueueChange(call, counts))
        return call

    def recall(self, window: int) -> Call:
        """Call the window's current (called, not yet arrived) ticket again."""
        now = self.now()
        with self.store.action() as act:
            counter, ticket = self._require_current(act, window, ("called",), "recall")
            self._set(act, ticket, ("called",), calls=ticket.calls + 1)
            call = self._record_call(act, ticket, counter, "recall", "recall", now)
            counts = waiting_counts(act.db, self.services.codes, ticket.day)
        self._notify(QueueChange(call, counts))
        return call

    def start(self, window: int) -> Ticket:
        """The resident arrived at the window: called → serving."""
        now = self.now()
        with self.store.action() as act:
            counter, ticket = self._require_current(act, window, ("called",), "start serving")
            self._set(act, ticket, ("called",), state="serving", serving_at=iso_utc(now))
            act.emit("ticket.serving", {"ticket_id": ticket.id, "number": ticket.number, "service": ticket.service,
                                        "window": window, "staff_id": counter.staff_id})
            return read_ticket(act.db, ticket.id)

    def no_show(self, window: int) -> Ticket:
        """The called resident did not come: called → no_show (call_specific can bring them back)."""
        now = self.now()
        with self.store.action() as act:
            counter, ticket = self._require_current(act, window, ("called",), "mark no-show")
            self._set(act, ticket, ("called",), state="no_show", closed_at=iso_utc(now))
            act.emit("ticket.no_show", {"ticket_id": ticket.id, "number": ticket.number, "service": ticket.service,
                                        "window": window, "staff_id": counter.staff_id, "calls": ticket.calls})
            done = read_ticket(act.db, ticket.id)
            counts = waiting_counts(act.db, self.services.codes, ticket.day)
        self._notify(QueueChange(None, counts))
        return done

    def transfer(self, window: int, to_service: str) -> Ticket:
        """Move the window's ticket to ``to_service``; it waits there by its original issue time.

        The old row becomes ``transferred``; the returned new row keeps the number, priority and
        issue time.  Refused when the target is the same service or the resident already queues there.
        """
        self.services.get(to_service)
        now = self.now()
        with self.store.action() as act:
            counter, ticket = self._require_current(act, window, ("called", "serving"), "transfer")
            if to_service == ticket.service:
                raise TicketStateError("same_service", f"ticket {ticket.number} is already in {to_service}",
                                       "已在该业务队列中")
            self._set(act, ticket, ("called", "serving"), state="transferred", closed_at=iso_utc(now))
            try:
                cur = act.db.execute(
                    "INSERT INTO hall_tickets (day, number, service, origin_service, person_key, masked_name, "
                    "priority, priority_reasons, staff_check, state, issued_at, transferred_from) SELECT day, number, "
                    "?, origin_service, person_key, masked_name, priority, priority_reasons, staff_check, 'waiting', "
                    "issued_at, id FROM hall_tickets WHERE id = ?", [to_service, ticket.id])
            except sqlite3.IntegrityError:
                raise TicketStateError("already_queued", f"the resident of {ticket.number} already holds a ticket "
                                       f"for {to_service}", "该居民已有此业务的排队号") from None
            moved = read_ticket(act.db, int(cur.lastrowid or 0))
            act.emit("ticket.transferred", {"ticket_id": ticket.id, "new_ticket_id": moved.id, "number": ticket.number,
                                            "from_service": ticket.service, "to_service": to_service,
                                            "window": window, "staff_id": counter.staff_id})
            counts = waiting_counts(act.db, self.services.codes, ticket.day)
        self._notify(QueueChange(None, counts))
        return moved

    def finish(self, window: int) -> Ticket:
        """The business is done: called/serving → finished; the ticket can then be rated."""
        now = self.now()
        with self.store.action() as act:
            counter, ticket = self._require_current(act, window, ("called", "serving"), "finish")
            self._set(act, ticket, ("called", "serving"), state="finished", closed_at=iso_utc(now))
            called = _parse(ticket.called_at or ticket.issued_at)
            began = _parse(ticket.serving_at) if ticket.serving_at else called
            act.emit("ticket.finished", {
                "ticket_id": ticket.id, "number": ticket.number, "service": ticket.service, "window": window,
                "staff_id": counter.staff_id, "wait_s": round((called - _parse(ticket.issued_at)).total_seconds(), 3),
                "handle_s": round((now - began).total_seconds(), 3)})
            return read_ticket(act.db, ticket.id)

    def rate(self, ticket_id: int, level: str | int | Level, window: int | None = None) -> Rating:
        """Record the resident's 好差评 for a finished ticket (once); see :func:`kiosk.hall.ratings.rate_ticket`."""
        return rate_ticket(self.store, ticket_id, level, self.now(), window)

    # -- display side -----------------------------------------------------------------------------------
    def waiting_counts(self) -> dict[str, int]:
        """Waiting tickets per service today."""
        with self.store.action() as act:
            return waiting_counts(act.db, self.services.codes, self.today())

    def calls_after(self, call_id: int, limit: int = 100) -> list[Call]:
        """Calls with an id above ``call_id``, oldest first (an SSE client catching up)."""
        with self.store.action() as act:
            return read_calls(act.db, self.services, "id > ? ORDER BY id LIMIT ?", [call_id, limit])

    def snapshot(self, recent: int = 5) -> Snapshot:
        """Current calls per window, the last ``recent`` calls and the waiting counts, in one read."""
        with self.store.action() as act:
            return read_snapshot(act.db, self.services, self.today(), recent)
