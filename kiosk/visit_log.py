"""The real-name visit log (DESIGN §5 step 5, §7): who came, when, temperature, code colour, ticket.

Each row keeps what real-name registration needs and nothing more: the masked name
(``张*明``), the masked ID number (``310***********1234``), the person's keyed hash
(:func:`kiosk.priority.person_key`, to find all visits of one person when tracing), the
source (idcard / sscard / qr), temperature, code colour, outcome, ticket number and time.
The raw ID number is never written: a CHECK refuses an unmasked ``masked_id``.

A row is written in one store action with its ``visit.logged`` event; ``VisitLog.record(visit,
action=act)`` writes inside a caller's open action instead, e.g. the one that takes the ticket
(:meth:`kiosk.hall.queue.HallQueue.take_ticket` does that when given ``visit=`` and ``visits=``).
The event carries no name (masked or not), masked ID or person key: the central gets none of them.

Retention (DESIGN §7): one purge pass (:meth:`VisitLog.purge_pass`), in one store action,

* deletes visit rows older than the retention (``privacy.visit_retention_days``, default 28 days);
* runs the ``tickets`` step if given (:meth:`kiosk.hall.queue.HallQueue.purge_tickets`: hall tickets,
  calls and ratings of the days before the cutoff; per-day counts per service are kept);
* prunes outbox rows acknowledged more than ``outbox_keep_days`` ago (``store.outbox_keep_days``,
  default 7); unacknowledged rows are kept whatever their age;
* records a ``visit_log.purged`` event with the counts.

It deletes with SQLite's ``secure_delete`` (freed pages are zeroed) and then checkpoints the WAL,
so purged rows do not linger in the file.  :class:`PurgeScheduler` runs the pass at start and then
daily in a thread; an app with its own timer calls :meth:`VisitLog.purge_pass` instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import sqlite_utils
from sqlite_utils.migrations import Migrations

from kiosk.masking import mask_id, mask_name
from kiosk.priority import person_key
from kiosk.store import Action, Store, StoreError

if TYPE_CHECKING:
    from kiosk.config import TerminalConfig

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 28  # days a visit row is kept
DEFAULT_OUTBOX_KEEP_DAYS = 7  # days an acknowledged outbox row is kept after its acknowledgement
PURGE_INTERVAL_S = 24 * 3600.0  # how often the scheduler purges, in seconds
CHECKPOINT_TIMEOUT_S = 2.0  # how long the post-purge WAL checkpoint waits for readers, in seconds
EVENT_LOGGED = "visit.logged"
EVENT_PURGED = "visit_log.purged"

VisitSource = Literal["idcard", "sscard", "qr"]
_SOURCES: dict[str, VisitSource] = {"idcard": "idcard", "sscard": "sscard", "qr": "qr", "qr_camera": "qr",
                                    "qr_scanner": "qr"}

#: A purge step run inside the purge pass's action: ``step(act, cutoff)`` deletes what is older than
#: ``cutoff`` (an aware datetime) and returns how many rows it deleted.
PurgeStep = Callable[[Action, dt.datetime], int]

VISIT_MIGRATIONS = Migrations("visit_log")


@VISIT_MIGRATIONS()
def visit_m001_visits(db: sqlite_utils.Database) -> None:
    """Create ``visits`` with indexes by time (purge) and by person key (tracing)."""
    db.execute(
        """
        CREATE TABLE visits (
            id            INTEGER PRIMARY KEY,
            visited_at    TEXT    NOT NULL,
            source        TEXT    NOT NULL CHECK (source IN ('idcard', 'sscard', 'qr')),
            masked_name   TEXT    NOT NULL,
            masked_id     TEXT    NOT NULL CHECK (instr(masked_id, '*') > 0),
            person_key    TEXT    NOT NULL CHECK (length(person_key) = 64),
            temperature_c REAL    NULL,
            code_colour   TEXT    NULL CHECK (code_colour IS NULL OR code_colour IN ('green', 'yellow', 'red')),
            outcome       TEXT    NOT NULL,
            ticket_number TEXT    NULL
        )
        """
    )
    db.execute("CREATE INDEX visits_at ON visits (visited_at)")
    db.execute("CREATE INDEX visits_person ON visits (person_key, visited_at)")


@dataclass(frozen=True)
class Visit:
    """One visit as the hall knows it (in memory: the raw ID number is only hashed and masked)."""

    id_number: str = field(repr=False)
    name: str = field(repr=False)
    source: str  # idcard, sscard, qr (qr_camera / qr_scanner count as qr)
    temperature_c: float | None
    code_colour: str | None
    outcome: str = "ticket"  # "ticket", "reprint", "refused_fever", "refused_code_red", ...
    ticket_number: str | None = None


def iso_utc(at: dt.datetime) -> str:
    """An aware datetime as ISO-8601 UTC with milliseconds and ``Z`` (the store's format)."""
    if at.tzinfo is None:
        raise ValueError("visit times must be timezone-aware")
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _row_for(visit: Visit, key: bytes, at: dt.datetime) -> dict[str, Any]:
    source = _SOURCES.get(visit.source)
    if source is None:
        raise ValueError(f"visit source must be one of {', '.join(_SOURCES)}, not {visit.source!r}")
    return {
        "visited_at": iso_utc(at),
        "source": source,
        "masked_name": mask_name(visit.name.strip()),
        "masked_id": mask_id(visit.id_number.strip().upper()),
        "person_key": person_key(visit.id_number, key),
        "temperature_c": None if visit.temperature_c is None else round(float(visit.temperature_c), 2),
        "code_colour": visit.code_colour,
        "outcome": visit.outcome,
        "ticket_number": visit.ticket_number,
    }


def write_visit(act: Action, visit: Visit, key: bytes, at: dt.datetime) -> int:
    """Write one visit row and its ``visit.logged`` event inside the caller's store action; the row id."""
    row = _row_for(visit, key, at)
    cursor = act.db.execute(
        f"INSERT INTO visits ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
    )
    visit_id = int(cursor.lastrowid or 0)
    act.emit(EVENT_LOGGED, {
        "visit_id": visit_id, "visited_at": row["visited_at"], "source": row["source"],
        "outcome": row["outcome"], "code_colour": row["code_colour"],
        "temperature_c": row["temperature_c"], "ticket_number": row["ticket_number"],
    })
    return visit_id


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class PurgeReport:
    """What one purge pass deleted (the ``visit_log.purged`` event carries the same counts)."""

    cutoff: str  # visits (and tickets, by hall day) older than this were deleted
    visits: int
    tickets: int  # 0 when no tickets step was given
    outbox: int  # acknowledged outbox rows pruned
    outbox_cutoff: str | None  # rows acknowledged before this were pruned; None: outbox not pruned


class VisitLog:
    """The visit log of one terminal's store."""

    def __init__(self, store: Store, key: bytes, retention_days: int = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], dt.datetime] = _utc_now) -> None:
        """``store`` must have been opened with :data:`VISIT_MIGRATIONS`; ``key`` is the person key."""
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if not store.db["visits"].exists():
            raise StoreError("the store has no visits table: open it with extra_migrations=[VISIT_MIGRATIONS]")
        person_key("0" * 18, key)  # refuse an unusable key now
        self.store = store
        self.retention_days = retention_days
        self._key = key
        self._clock = clock

    def record(self, visit: Visit, at: dt.datetime | None = None, *, action: Action | None = None) -> int:
        """Write one visit (row + ``visit.logged`` event); returns the row id.

        Without ``action`` the row and event are one store action of their own.  With ``action``
        (an open ``store.action()`` of this log's store) they are written inside it and commit or
        roll back with the rest of that action::

            with store.action() as act:
                ...  # the ticket
                visits.record(visit, action=act)
        """
        if action is None:
            with self.store.action() as act:
                return write_visit(act, visit, self._key, at or self._clock())
        return write_visit(action, visit, self._key, at or self._clock())

    def cutoff(self, now: dt.datetime | None = None) -> str:
        """The ISO time before which rows are purged."""
        return iso_utc((now or self._clock()) - dt.timedelta(days=self.retention_days))

    def purge(self, now: dt.datetime | None = None) -> int:
        """Delete visit rows older than the retention (recorded as a ``visit_log.purged`` event); the count.

        Only the visits: the full pass (tickets, acknowledged outbox rows) is :meth:`purge_pass`.
        """
        return self.purge_pass(now).visits

    def purge_pass(self, now: dt.datetime | None = None, *, tickets: PurgeStep | None = None,
                   outbox_keep_days: int | None = None) -> PurgeReport:
        """One purge pass in one store action: visits, then ``tickets(act, cutoff)``, then acknowledged
        outbox rows older than ``outbox_keep_days`` (not pruned when None), then the event.

        The cutoff for visits and tickets is ``now`` minus the retention; for the outbox it is
        ``now`` minus ``outbox_keep_days``, compared with each row's acknowledgement time.
        Unacknowledged outbox rows are never deleted.  Raises :class:`StoreError` (nothing deleted)
        when the store refuses.
        """
        if outbox_keep_days is not None and (isinstance(outbox_keep_days, bool) or outbox_keep_days < 0):
            raise ValueError("outbox_keep_days must be a number of days >= 0")
        at = now or self._clock()
        cutoff_at = at - dt.timedelta(days=self.retention_days)
        cutoff = iso_utc(cutoff_at)
        outbox_cutoff = None if outbox_keep_days is None else iso_utc(at - dt.timedelta(days=outbox_keep_days))
        with self.store.action() as act:
            secure = act.db.execute("PRAGMA secure_delete").fetchone()[0]
            act.db.execute("PRAGMA secure_delete=ON")
            try:
                visits = act.db.execute("DELETE FROM visits WHERE visited_at < ?", (cutoff,)).rowcount
                ticket_rows = tickets(act, cutoff_at) if tickets is not None else 0
                outbox = act.prune_acked(outbox_cutoff) if outbox_cutoff is not None else 0
            finally:
                act.db.execute(f"PRAGMA secure_delete={int(secure)}")
            act.emit(EVENT_PURGED, {"cutoff": cutoff, "rows": visits, "retention_days": self.retention_days,
                                    "tickets": ticket_rows, "outbox_rows": outbox, "outbox_cutoff": outbox_cutoff})
        self._checkpoint()
        log.info("purge: %d visit rows and %d ticket rows older than %s, %d outbox rows acknowledged before %s",
                 visits, ticket_rows, cutoff, outbox, outbox_cutoff or "(not pruned)")
        return PurgeReport(cutoff, visits, ticket_rows, outbox, outbox_cutoff)

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first (masked forms and keys only)."""
        cursor = self.store.db.execute("SELECT * FROM visits ORDER BY visited_at, id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def visits_of(self, id_number: str) -> list[dict[str, Any]]:
        """One person's rows, found by keyed hash (for tracing), oldest first."""
        key = person_key(id_number, self._key)
        return [row for row in self.rows() if row["person_key"] == key]

    def _checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it (best effort; another connection, no lock)."""
        path = next((f for _s, name, f in self.store.db.execute("PRAGMA database_list").fetchall()
                     if name == "main"), "")
        if not path:
            return
        try:
            conn = sqlite3.connect(path, timeout=CHECKPOINT_TIMEOUT_S, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.warning("visit log purge: WAL checkpoint not done (%s)", exc)


class PurgeScheduler:
    """Runs :meth:`VisitLog.purge_pass` at start and then every ``interval_s`` in a background thread.

    The one place that purges: visits, tickets (when ``tickets`` is given) and acknowledged outbox
    rows, in one pass.  Wiring in a hall::

        purge = PurgeScheduler.from_config(visits, config, tickets=queue.purge_tickets)
        purge.start()
    """

    def __init__(self, visit_log: VisitLog, interval_s: float = PURGE_INTERVAL_S,
                 on_purge: Callable[[PurgeReport], None] | None = None, *, tickets: PurgeStep | None = None,
                 outbox_keep_days: int | None = DEFAULT_OUTBOX_KEEP_DAYS) -> None:
        """``on_purge`` is called with each run's report (tests, the maintenance screen); ``tickets`` is
        the hall's purge step; ``outbox_keep_days`` None leaves the outbox alone."""
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        if outbox_keep_days is not None and (isinstance(outbox_keep_days, bool) or outbox_keep_days < 0):
            raise ValueError("outbox_keep_days must be a number of days >= 0")
        self.visit_log = visit_log
        self.interval_s = interval_s
        self.on_purge = on_purge
        self.tickets = tickets
        self.outbox_keep_days = outbox_keep_days
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, visit_log: VisitLog, config: TerminalConfig, *, tickets: PurgeStep | None = None,
                    on_purge: Callable[[PurgeReport], None] | None = None) -> PurgeScheduler:
        """A daily scheduler keeping acknowledged outbox rows ``config.store.outbox_keep_days`` days.

        The visit retention is the ``VisitLog``'s own (built from ``config.privacy.visit_retention_days``).
        """
        return cls(visit_log, on_purge=on_purge, tickets=tickets, outbox_keep_days=config.store.outbox_keep_days)

    def run_once(self) -> PurgeReport | None:
        """One purge pass; a store error is logged and counted (the next run tries again), giving None."""
        try:
            report = self.visit_log.purge_pass(tickets=self.tickets, outbox_keep_days=self.outbox_keep_days)
        except StoreError as exc:
            self.failures += 1
            log.error("purge failed: %s", exc)
            return None
        except Exception:  # a broken purge step must not end the thread: the next run tries again
            self.failures += 1
            log.exception("purge failed")
            return None
        self.runs += 1
        if self.on_purge is not None:
            self.on_purge(report)
        return report

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="visit-log-purge", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread and wait up to ``timeout_s`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_s)
