"""The real-name visit log (DESIGN §5 step 5, §7): who came, when, temperature, code colour, ticket.

Each row keeps what real-name registration needs and nothing more: the masked name
(``张*明``), the masked ID number (``310***********1234``), the person's keyed hash
(:func:`kiosk.priority.person_key`, to find all visits of one person when tracing), the
source (idcard / sscard / qr), temperature, code colour, outcome, ticket number and time.
The raw ID number is never written: a CHECK refuses an unmasked ``masked_id``.

A row is written in one store action with its ``visit.logged`` event (:func:`write_visit`
writes inside a caller's action, e.g. the one that takes the ticket).  The event carries
no name, masked ID or person key: outbox rows outlive the retention window, visit rows do not.

Rows older than the retention (default 28 days) are deleted by :meth:`VisitLog.purge`, which
records a ``visit_log.purged`` event in the same action, deletes with SQLite's
``secure_delete`` (freed pages are zeroed) and then checkpoints the WAL, so purged rows do
not linger in the file.  :class:`PurgeScheduler` runs it daily in a thread; an app with its
own timer calls :meth:`VisitLog.purge` instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlite_utils
from sqlite_utils.migrations import Migrations

from kiosk.masking import mask_id, mask_name
from kiosk.priority import person_key
from kiosk.store import Action, Store, StoreError

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 28  # days a visit row is kept
PURGE_INTERVAL_S = 24 * 3600.0  # how often the scheduler purges, in seconds
CHECKPOINT_TIMEOUT_S = 2.0  # how long the post-purge WAL checkpoint waits for readers, in seconds
EVENT_LOGGED = "visit.logged"
EVENT_PURGED = "visit_log.purged"

VisitSource = Literal["idcard", "sscard", "qr"]
_SOURCES: dict[str, VisitSource] = {"idcard": "idcard", "sscard": "sscard", "qr": "qr", "qr_camera": "qr",
                                    "qr_scanner": "qr"}

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

    def record(self, visit: Visit, at: dt.datetime | None = None) -> int:
        """Write one visit (row + event, one action); returns the row id."""
        with self.store.action() as act:
            return write_visit(act, visit, self._key, at or self._clock())

    def cutoff(self, now: dt.datetime | None = None) -> str:
        """The ISO time before which rows are purged."""
        return iso_utc((now or self._clock()) - dt.timedelta(days=self.retention_days))

    def purge(self, now: dt.datetime | None = None) -> int:
        """Delete rows older than the retention (recorded as a ``visit_log.purged`` event); the count."""
        cutoff = self.cutoff(now)
        with self.store.action() as act:
            secure = act.db.execute("PRAGMA secure_delete").fetchone()[0]
            act.db.execute("PRAGMA secure_delete=ON")
            try:
                deleted = act.db.execute("DELETE FROM visits WHERE visited_at < ?", (cutoff,)).rowcount
            finally:
                act.db.execute(f"PRAGMA secure_delete={int(secure)}")
            act.emit(EVENT_PURGED, {"cutoff": cutoff, "rows": deleted, "retention_days": self.retention_days})
        self._checkpoint()
        log.info("visit log purge: %d rows older than %s deleted", deleted, cutoff)
        return deleted

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
    """Runs :meth:`VisitLog.purge` at start and then every ``interval_s`` in a background thread."""

    def __init__(self, visit_log: VisitLog, interval_s: float = PURGE_INTERVAL_S,
                 on_purge: Callable[[int], None] | None = None) -> None:
        """``on_purge`` is called with each run's count (tests, the maintenance screen)."""
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.visit_log = visit_log
        self.interval_s = interval_s
        self.on_purge = on_purge
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int | None:
        """One purge; a store error is logged and counted (the next run tries again), giving None."""
        try:
            deleted = self.visit_log.purge()
        except StoreError as exc:
            self.failures += 1
            log.error("visit log purge failed: %s", exc)
            return None
        self.runs += 1
        if self.on_purge is not None:
            self.on_purge(deleted)
        return deleted

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
