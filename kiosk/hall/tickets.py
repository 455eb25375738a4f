"""What the hall queue stores and hands out: its tables (migrations), tickets, calls, windows, snapshots.

Kept apart from :mod:`kiosk.hall.queue` (the actions) so the data shapes and the schema can be
read on one page.  Nothing here holds personal data beyond a masked name: the ``person_key`` (a
keyed hash made by the caller) is stored for the one-open-ticket rule and never leaves the store.

Tables (migration set ``linfen_hall``):

* ``hall_tickets`` — one row per ticket and service; a transfer closes the row (``transferred``)
  and opens a new one in the target service with the same number and original issue time.
  Partial unique indexes enforce, in the database itself: one open ticket per person per service
  per day, one open row per ticket number per day, one called/serving ticket per window.
* ``hall_numbers`` — the last daily number per (day, service): A001, A002, … reset each day.
* ``hall_calls`` — every call (next, recall, specific); its id is the SSE event id of the call.
* ``hall_windows`` — who is logged in at which window and which services they serve.
* ``hall_ratings`` — one 好差评 rating per finished ticket.
* ``hall_day_counts`` — what the retention purge keeps of a purged day: counts per (day, service),
  no person key, no name, no staff id (:func:`purge_tickets`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .errors import HallError, NotFound
from .services import ServiceCatalog

HALL_MIGRATIONS = Migrations("linfen_hall")

STATES = ("waiting", "called", "serving", "finished", "no_show", "transferred")
OPEN_STATES = ("waiting", "called", "serving")
#: Priority groups (DESIGN §5): veterans, special-care recipients, disabled residents, 80 and over.
PRIORITY_REASONS = ("veteran", "special_care", "disabled", "age80")

_OPEN_SQL = "state IN ('waiting', 'called', 'serving')"


@HALL_MIGRATIONS()
def hall_m001_queue(db: sqlite_utils.Database) -> None:
    """Create the ticket, daily-number, call and window tables with their integrity indexes."""
    db.execute("CREATE TABLE hall_numbers (day TEXT NOT NULL, service TEXT NOT NULL, last INTEGER NOT NULL, "
               "PRIMARY KEY (day, service))")
    db.execute(
        f"""
        CREATE TABLE hall_tickets (
            id               INTEGER PRIMARY KEY,
            day              TEXT    NOT NULL,
            number           TEXT    NOT NULL,
            service          TEXT    NOT NULL,
            origin_service   TEXT    NOT NULL,
            person_key       TEXT    NOT NULL,
            masked_name      TEXT    NOT NULL DEFAULT '',
            priority         INTEGER NOT NULL CHECK (priority IN (0, 1)),
            priority_reasons TEXT    NOT NULL DEFAULT '',
            staff_check      INTEGER NOT NULL DEFAULT 0 CHECK (staff_check IN (0, 1)),
            state            TEXT    NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
            issued_at        TEXT    NOT NULL,
            window_no        INTEGER NULL,
            staff_id         TEXT    NULL,
            calls            INTEGER NOT NULL DEFAULT 0,
            called_at        TEXT    NULL,
            serving_at       TEXT    NULL,
            closed_at        TEXT    NULL,
            transferred_from INTEGER NULL REFERENCES hall_tickets (id)
        )
        """
    )
    db.execute(f"CREATE UNIQUE INDEX hall_tickets_open_person ON hall_tickets (day, service, person_key) "
               f"WHERE {_OPEN_SQL}")
    db.execute(f"CREATE UNIQUE INDEX hall_tickets_open_number ON hall_tickets (day, number) WHERE {_OPEN_SQL}")
    db.execute("CREATE UNIQUE INDEX hall_tickets_window_busy ON hall_tickets (window_no) "
               "WHERE state IN ('called', 'serving')")
    db.execute("CREATE INDEX hall_tickets_queue ON hall_tickets (day, state, service, issued_at)")
    db.execute(
        """
        CREATE TABLE hall_calls (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_id INTEGER NOT NULL REFERENCES hall_tickets (id),
            day       TEXT    NOT NULL,
            number    TEXT    NOT NULL,
            service   TEXT    NOT NULL,
            window_no INTEGER NOT NULL,
            staff_id  TEXT    NOT NULL,
            kind      TEXT    NOT NULL CHECK (kind IN ('next', 'recall', 'specific')),
            priority  INTEGER NOT NULL,
            reason    TEXT    NOT NULL,
            at        TEXT    NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX hall_calls_day ON hall_calls (day, kind, id)")
    db.execute("CREATE INDEX hall_calls_ticket ON hall_calls (ticket_id)")
    db.execute("CREATE TABLE hall_windows (window_no INTEGER PRIMARY KEY, staff_id TEXT NOT NULL, "
               "services TEXT NOT NULL CHECK (json_valid(services)), since TEXT NOT NULL)")


@HALL_MIGRATIONS()
def hall_m002_ratings(db: sqlite_utils.Database) -> None:
    """Create ``hall_ratings``: one rating per ticket (the primary key refuses a second)."""
    db.execute(
        """
        CREATE TABLE hall_ratings (
            ticket_id INTEGER PRIMARY KEY REFERENCES hall_tickets (id),
            level     TEXT    NOT NULL,
            score     INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            window_no INTEGER NOT NULL,
            staff_id  TEXT    NOT NULL,
            rated_at  TEXT    NOT NULL
        )
        """
    )


@HALL_MIGRATIONS()
def hall_m003_day_counts(db: sqlite_utils.Database) -> None:
    """Create ``hall_day_counts``: per purged day and service, how many tickets and how they ended."""
    db.execute(
        """
        CREATE TABLE hall_day_counts (
            day         TEXT    NOT NULL,
            service     TEXT    NOT NULL,
            issued      INTEGER NOT NULL DEFAULT 0,
            priority    INTEGER NOT NULL DEFAULT 0,
            staff_check INTEGER NOT NULL DEFAULT 0,
            finished    INTEGER NOT NULL DEFAULT 0,
            no_show     INTEGER NOT NULL DEFAULT 0,
            transferred INTEGER NOT NULL DEFAULT 0,
            unserved    INTEGER NOT NULL DEFAULT 0,
            rated       INTEGER NOT NULL DEFAULT 0,
            score_sum   INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, service)
        )
        """
    )


_COUNT_COLUMNS = ("issued", "priority", "staff_check", "finished", "no_show", "transferred", "unserved", "rated",
                  "score_sum")


def purge_tickets(db: sqlite_utils.Database, before_day: str) -> int:
    """Delete the tickets of hall days before ``before_day`` (``YYYY-MM-DD``) with their calls, ratings and
    daily numbers; returns the number of ticket rows deleted.  Run it inside a store action.

    What is kept, in ``hall_day_counts`` per (day, service), added to any counts already there:
    tickets issued (a transfer is not a new ticket), of them priority and staff-check, and how rows
    ended (finished, no_show, transferred on, unserved = still open at purge time), plus the
    number of ratings and their score sum.  No person key, name, number, time or staff id is kept.
    """
    if not isinstance(before_day, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", before_day):
        raise HallError("bad_day", f"before_day must be YYYY-MM-DD, not {before_day!r}")
    set_sql = ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNT_COLUMNS)
    db.execute(
        f"""
        INSERT INTO hall_day_counts (day, service, {", ".join(_COUNT_COLUMNS)})
        SELECT t.day, t.service,
               SUM(t.transferred_from IS NULL),
               SUM(t.transferred_from IS NULL AND t.priority = 1),
               SUM(t.transferred_from IS NULL AND t.staff_check = 1),
               SUM(t.state = 'finished'), SUM(t.state = 'no_show'), SUM(t.state = 'transferred'),
               SUM(t.state IN ('waiting', 'called', 'serving')),
               COUNT(r.ticket_id), COALESCE(SUM(r.score), 0)
        FROM hall_tickets t LEFT JOIN hall_ratings r ON r.ticket_id = t.id
        WHERE t.day < ?
        GROUP BY t.day, t.service
        ON CONFLICT (day, service) DO UPDATE SET {set_sql}
        """,
        [before_day],
    )
    old = "SELECT id FROM hall_tickets WHERE day < ?"
    db.execute(f"DELETE FROM hall_ratings WHERE ticket_id IN ({old})", [before_day])
    db.execute(f"DELETE FROM hall_calls WHERE day < ? OR ticket_id IN ({old})", [before_day, before_day])
    deleted = db.execute("DELETE FROM hall_tickets WHERE day < ?", [before_day]).rowcount
    db.execute("DELETE FROM hall_numbers WHERE day < ?", [before_day])
    return int(deleted)


def day_counts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The kept counts of purged days, by day then service."""
    cursor = db.execute(f"SELECT day, service, {', '.join(_COUNT_COLUMNS)} FROM hall_day_counts ORDER BY day, service")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- input checks -------------------------------------------------------------------------------------
_PERSON_KEY = re.compile(r"^[A-Za-z0-9_+/=:.\-]{16,128}$")
_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_STAFF_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


def check_person_key(person_key: str) -> str:
    """Refuse anything that is not an opaque key of 16–128 characters, or that is an 18-character ID number."""
    if not isinstance(person_key, str) or not _PERSON_KEY.match(person_key) or _ID_NUMBER.match(person_key):
        raise HallError("bad_person_key", "person_key must be an opaque keyed hash (16-128 characters), "
                        "never an ID number", "内部错误：身份标识无效")
    return person_key


def check_masked_name(masked_name: str) -> str:
    """A display name must already be masked (``张*明``): a name of two or more characters needs a ``*``."""
    if not isinstance(masked_name, str) or len(masked_name) > 32 or (len(masked_name) >= 2 and "*" not in masked_name):
        raise HallError("unmasked_name", "masked_name must be masked (e.g. 张*明), at most 32 characters",
                        "内部错误：姓名未脱敏")
    return masked_name


def check_priority_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    """Known priority reasons, deduplicated, in :data:`PRIORITY_REASONS` order."""
    given = set(reasons)
    unknown = sorted(given - set(PRIORITY_REASONS))
    if unknown:
        raise HallError("bad_priority_reason", f"unknown priority reason {unknown[0]!r} "
                        f"(allowed: {', '.join(PRIORITY_REASONS)})", "内部错误：优先类别无效")
    return tuple(r for r in PRIORITY_REASONS if r in given)


def check_staff(window: int, staff_id: str) -> None:
    """Window numbers are 1–99; staff ids are short plain identifiers."""
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 99:
        raise HallError("bad_window", f"window must be a number from 1 to 99, not {window!r}", "窗口号无效")
    if not isinstance(staff_id, str) or not _STAFF_ID.match(staff_id):
        raise HallError("bad_staff_id", f"staff id {staff_id!r} is not 1-32 letters, digits, '_', '.', '-'",
                        "工号无效")


# -- reads inside an action ---------------------------------------------------------------------------
def read_ticket(db: sqlite_utils.Database, ticket_id: int) -> Ticket:
    """The ticket ``ticket_id``; :class:`NotFound` otherwise."""
    row = db.execute(f"SELECT {TICKET_COLUMNS} FROM hall_tickets WHERE id = ?", [ticket_id]).fetchone()
    if row is None:
        raise NotFound("no_ticket", f"there is no ticket with id {ticket_id}", "没有这张票")
    return Ticket.from_row(row)


def read_counter(db: sqlite_utils.Database, window: int) -> Counter:
    """Who is logged in at ``window``; :class:`NotFound` otherwise."""
    row = db.execute("SELECT window_no, staff_id, services, since FROM hall_windows WHERE window_no = ?",
                     [window]).fetchone()
    if row is None:
        raise NotFound("not_logged_in", f"nobody is logged in at window {window}", f"{window} 号窗口未登录")
    return Counter.from_row(row)


def read_current(db: sqlite_utils.Database, window: int) -> Ticket | None:
    """The ticket called or being served at ``window``, if any (any day)."""
    row = db.execute(f"SELECT {TICKET_COLUMNS} FROM hall_tickets WHERE window_no = ? AND state IN "
                     "('called', 'serving')", [window]).fetchone()
    return Ticket.from_row(row) if row else None


def waiting_counts(db: sqlite_utils.Database, codes: Iterable[str], day: str) -> dict[str, int]:
    """Waiting tickets per service on ``day`` (every code in ``codes`` present, 0 when none)."""
    counts = dict.fromkeys(codes, 0)
    for service, n in db.execute("SELECT service, COUNT(*) FROM hall_tickets WHERE day = ? AND state = 'waiting' "
                                 "GROUP BY service", [day]).fetchall():
        counts[service] = n
    return counts


CALL_COLUMNS = "id, ticket_id, number, service, window_no, staff_id, kind, priority, reason, at"


def read_calls(db: sqlite_utils.Database, services: ServiceCatalog, where: str, params: list[Any]) -> list[Call]:
    """Calls selected by ``WHERE {where}`` (which may end in ORDER BY / LIMIT), with service names."""
    calls = []
    for row in db.execute(f"SELECT {CALL_COLUMNS} FROM hall_calls WHERE {where}", params).fetchall():
        cid, ticket_id, number, service, window, staff_id, kind, priority, reason, at = row
        svc = services.get(service) if service in services else None
        calls.append(Call(cid, ticket_id, number, service, svc.name_zh if svc else service,
                          svc.name_en if svc else service, window, staff_id, kind, bool(priority), reason, at))
    return calls


def read_snapshot(db: sqlite_utils.Database, services: ServiceCatalog, day: str, recent: int) -> Snapshot:
    """What a display shows, read in one transaction: current call per busy window, last calls, counts."""
    current = read_calls(db, services, "id IN (SELECT MAX(c.id) FROM hall_calls c JOIN hall_tickets t ON "
                         "t.id = c.ticket_id AND t.window_no = c.window_no AND t.state IN ('called', 'serving') "
                         "GROUP BY c.ticket_id) ORDER BY window_no", [])
    last = read_calls(db, services, "day = ? ORDER BY id DESC LIMIT ?", [day, recent])
    top = db.execute("SELECT COALESCE(MAX(id), 0) FROM hall_calls").fetchone()[0]
    return Snapshot(day, tuple(current), tuple(last), waiting_counts(db, services.codes, day), int(top),
                    tuple(s.public() for s in services))


# -- data handed out ----------------------------------------------------------------------------------
TICKET_COLUMNS = ("id, day, number, service, origin_service, masked_name, priority, priority_reasons, staff_check, "
                  "state, issued_at, window_no, staff_id, calls, called_at, serving_at, closed_at, transferred_from")


@dataclass(frozen=True)
class Ticket:
    """One ticket row (without its person key)."""

    id: int
    day: str  # hall-time date, YYYY-MM-DD
    number: str  # A001
    service: str  # current service code (after a transfer: the target)
    origin_service: str  # the service whose prefix the number carries
    masked_name: str
    priority: bool
    priority_reasons: tuple[str, ...]
    staff_check: bool
    state: str
    issued_at: str  # ISO-8601 UTC; the original issue time, kept across transfers
    window: int | None
    staff_id: str | None
    calls: int
    called_at: str | None
    serving_at: str | None
    closed_at: str | None
    transferred_from: int | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Ticket:
        """Build from a row selected with :data:`TICKET_COLUMNS`."""
        values = list(row)
        values[6] = bool(values[6])
        values[7] = tuple(r for r in str(values[7]).split(",") if r)
        values[8] = bool(values[8])
        return cls(*values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["priority_reasons"] = list(self.priority_reasons)
        return data


@dataclass(frozen=True)
class IssuedTicket:
    """The answer to "take a ticket": the new ticket, or the open one when ``reprint`` is True."""

    ticket: Ticket
    reprint: bool
    people_ahead: int  # estimate, assuming nobody else arrives
    wait_min: int  # estimated minutes until called
    service_name_zh: str
    service_name_en: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"ticket": self.ticket.to_dict(), "reprint": self.reprint, "people_ahead": self.people_ahead,
                "wait_min": self.wait_min, "service_name_zh": self.service_name_zh,
                "service_name_en": self.service_name_en}


@dataclass(frozen=True)
class Call:
    """One call of a ticket to a window (what the display shows and says)."""

    id: int  # increasing; the SSE event id
    ticket_id: int
    number: str
    service: str
    service_name_zh: str
    service_name_en: str
    window: int
    staff_id: str
    kind: str  # next, recall, specific
    priority: bool
    reason: str  # the calling rule's reason, or "recall" / "specific"
    at: str  # ISO-8601 UTC

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Counter:
    """A logged-in window."""

    window: int
    staff_id: str
    services: tuple[str, ...]
    since: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Counter:
        """Build from ``window_no, staff_id, services, since``."""
        return cls(int(row[0]), row[1], tuple(json.loads(row[2])), row[3])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"window": self.window, "staff_id": self.staff_id, "services": list(self.services), "since": self.since}


@dataclass(frozen=True)
class Snapshot:
    """What a calling display shows: current calls per window, the last calls, waiting counts."""

    day: str
    current: tuple[Call, ...]  # the latest call of each window whose ticket is still called/serving
    recent: tuple[Call, ...]  # the last calls, newest first
    waiting: dict[str, int]  # waiting tickets per service code, today
    last_call_id: int  # 0 when nothing was ever called
    services: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"day": self.day, "current": [c.to_dict() for c in self.current],
                "recent": [c.to_dict() for c in self.recent], "waiting": dict(self.waiting),
                "last_call_id": self.last_call_id, "services": list(self.services)}


@dataclass(frozen=True)
class QueueChange:
    """Told to listeners after a committed action: the call it made (if any) and the new waiting counts."""

    call: Call | None
    waiting: dict[str, int]
