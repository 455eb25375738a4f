"""The terminal's store: one business action = one SQLite transaction = its rows + its outbox events.

DESIGN §6: all writes of one business action are committed together with the action's outbox
events; each event gets the next per-terminal ``seq`` from the ``counters`` table inside the same
transaction, so a rolled-back action leaves no gap.  Events are immutable once written (the store
offers no update, and a trigger refuses one); the sync client only reads pending events and marks
them acknowledged.

Retention: acknowledged rows may be pruned (:meth:`Action.prune_acked`, run by the daily purge pass
of :class:`kiosk.visit_log.PurgeScheduler`); unacknowledged rows never are, whatever their age.
The ``seq`` counter lives in ``counters`` and is never derived from the rows, so the next event
after a prune (even of every row, even after a restart) gets the next ``seq``; the highest pruned
``seq`` is kept as ``outbox_pruned_seq`` and the terminal id in ``store_meta``.

    store = Store.open(path, terminal_id="hall-01")
    with store.action() as act:
        act.db["payments"].insert({"id": 7, "amount_fen": 500})
        act.emit("payment.recorded", {"payment_id": 7, "amount_fen": 500})
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .db import open_database
from .errors import StoreError
from .migrations import CORE, migrate

#: Name of the ``counters`` row that holds the last allocated outbox ``seq``.
SEQ_COUNTER = "outbox_seq"

#: Name of the ``counters`` row that holds the highest ``seq`` ever pruned (0 / absent: none).
PRUNED_COUNTER = "outbox_pruned_seq"

#: Longest accepted event ``type`` (characters).
MAX_TYPE_LENGTH = 100

_ENVELOPE = "id, terminal_id, seq, type, occurred_at, payload, schema"

_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def utc_now_iso() -> str:
    """Now as ISO-8601 UTC with milliseconds and a ``Z``, e.g. ``2026-05-09T07:35:25.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_payload(payload: Any) -> str:
    if not isinstance(payload, dict):
        raise StoreError(f"event payload must be a dict, not {type(payload).__name__}")
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"event payload is not JSON-serialisable: {exc}") from exc


@dataclass(frozen=True)
class Event:
    """One outbox event, with exactly the DESIGN §6 envelope fields.

    ``payload`` is the store's own copy, decoded from the JSON that was written, so it is equal
    to what the central service will receive.  Do not mutate it: :meth:`to_dict` hands out a copy.
    """

    id: str
    terminal_id: str
    seq: int
    type: str
    occurred_at: str
    payload: dict[str, Any]
    schema: int

    def __hash__(self) -> int:
        return hash(self.id)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a plain JSON-ready dict (payload deep-copied)."""
        return {
            "id": self.id,
            "terminal_id": self.terminal_id,
            "seq": self.seq,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "payload": copy.deepcopy(self.payload),
            "schema": self.schema,
        }

    @classmethod
    def _from_row(cls, row: tuple[Any, ...]) -> Event:
        id_, terminal_id, seq, type_, occurred_at, payload, schema = row
        return cls(id_, terminal_id, seq, type_, occurred_at, json.loads(payload), schema)


def _iso_cutoff(before: str | datetime) -> str:
    """``before`` as the store's ISO-8601 UTC text (for comparisons with ``acked_at``)."""
    if isinstance(before, datetime):
        if before.tzinfo is None:
            raise StoreError("a prune cutoff must be timezone-aware")
        return before.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if not isinstance(before, str) or not _ISO_UTC.match(before):
        raise StoreError(f"a prune cutoff must be ISO-8601 UTC ending in Z, not {before!r}")
    return before


class Action:
    """The open transaction of one business action, handed out by :meth:`Store.action`.

    Use :attr:`db` for the business writes and :meth:`emit` for the events; nothing is visible to
    other connections until the ``with`` block ends without an exception.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._events: list[Event] = []
        self._open = True
        self._failure: StoreError | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The store's database; every write made through it belongs to this action."""
        self._check_open()
        return self._store.db

    @property
    def events(self) -> list[Event]:
        """The events emitted by this action so far, in ``seq`` order."""
        return list(self._events)

    def emit(self, type: str, payload: dict[str, Any], schema: int = 1, event_id: str | None = None) -> Event:
        """Append an event to the outbox in this action's transaction and return it.

        ``event_id`` (a UUID string) is the event's id when the caller needs it before emitting (a
        money entry carries its own id in its payload); by default a new UUID is made.

        Raises :class:`StoreError` for an empty ``type``, a ``schema`` that is not a positive int,
        or a payload that is not a JSON-serialisable dict; the whole action is then rolled back
        when the ``with`` block ends, even if the caller catches the error.
        """
        self._check_open()
        try:
            if not isinstance(type, str) or not type or type != type.strip():
                raise StoreError(f"event type must be a non-empty string without padding, not {type!r}")
            if len(type) > MAX_TYPE_LENGTH:
                raise StoreError(f"event type longer than {MAX_TYPE_LENGTH} characters: {type[:40]!r}...")
            if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
                raise StoreError(f"event schema must be a positive int, not {schema!r}")
            text = _encode_payload(payload)
            if event_id is not None:
                event_id = str(uuid.UUID(event_id))
        except (StoreError, ValueError, TypeError, AttributeError) as exc:
            self._failure = StoreError(f"{type!r} event refused, action rolled back: {exc}")
            raise self._failure from exc

        conn = self._store.db.conn
        try:
            seq = conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                (SEQ_COUNTER,),
            ).fetchone()[0]
            event = Event(
                id=event_id or str(uuid.uuid4()),
                terminal_id=self._store.terminal_id,
                seq=seq,
                type=type,
                occurred_at=utc_now_iso(),
                payload=json.loads(text),
                schema=schema,
            )
            conn.execute(
                f"INSERT INTO outbox ({_ENVELOPE}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.id, event.terminal_id, event.seq, event.type, event.occurred_at, text, event.schema),
            )
        except sqlite3.Error as exc:
            # The counter may already have moved: the action must not commit, or seq would gap.
            self._failure = StoreError(f"{type!r} event could not be written, action rolled back: {exc}")
            raise self._failure from exc
        self._events.append(event)
        return event

    def prune_acked(self, before: str | datetime) -> int:
        """Delete, in this action, the events acknowledged before ``before``; the number deleted.

        ``before`` is an aware datetime or an ISO-8601 UTC string such as ``2026-05-02T00:00:00.000Z``.
        Rows without ``acked_at`` are never deleted.  The highest deleted ``seq`` is kept in
        ``counters`` (``outbox_pruned_seq``) and the terminal id in ``store_meta``, so ``seq`` goes
        on gap-free and the store still knows whose database it is when the outbox is empty.
        Raises :class:`StoreError` for a bad ``before`` (and the action is then rolled back).
        """
        self._check_open()
        try:
            cutoff = _iso_cutoff(before)
        except StoreError as exc:
            self._failure = exc
            raise
        conn = self._store.db.conn
        try:
            top, count = conn.execute(
                "SELECT MAX(seq), COUNT(*) FROM outbox WHERE acked_at IS NOT NULL AND acked_at < ?", (cutoff,)
            ).fetchone()
            if not count:
                return 0
            conn.execute(
                "INSERT INTO store_meta (name, value) VALUES ('terminal_id', ?) ON CONFLICT (name) DO NOTHING",
                (self._store.terminal_id,),
            )
            conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (PRUNED_COUNTER, int(top)),
            )
            deleted = conn.execute(
                "DELETE FROM outbox WHERE acked_at IS NOT NULL AND acked_at < ?", (cutoff,)
            ).rowcount
        except sqlite3.Error as exc:
            self._failure = StoreError(f"acknowledged events could not be pruned, action rolled back: {exc}")
            raise self._failure from exc
        return int(deleted)

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("this action has ended; start a new one with store.action()")


class Store:
    """The terminal's local store: business tables + outbox in one WAL-mode SQLite file.

    One instance may be shared between threads (it serialises its use of the connection); several
    processes may open the same file (writers take the write lock with ``BEGIN IMMEDIATE`` and wait
    for each other).  Use :meth:`open` rather than the constructor.
    """

    def __init__(self, db: sqlite_utils.Database, terminal_id: str) -> None:
        """Wrap an already opened and migrated database (see :meth:`open`)."""
        if not isinstance(terminal_id, str) or not terminal_id.strip():
            raise StoreError(f"terminal_id must be a non-empty string, not {terminal_id!r}")
        if CORE.pending(db):
            raise StoreError("the database schema is not current: open it with Store.open()")
        conn = db.conn
        row = conn.execute("SELECT value FROM store_meta WHERE name = 'terminal_id'").fetchone()
        if row is None:
            row = conn.execute("SELECT terminal_id FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None and row[0] != terminal_id:
            raise StoreError(f"this database holds the events of terminal {row[0]!r}, not {terminal_id!r}")
        counter, pruned, top = conn.execute(
            "SELECT (SELECT value FROM counters WHERE name = ?), (SELECT value FROM counters WHERE name = ?), "
            "(SELECT MAX(seq) FROM outbox)", (SEQ_COUNTER, PRUNED_COUNTER)
        ).fetchone()
        if max(pruned or 0, top or 0) > (counter or 0):
            raise StoreError(
                f"the seq counter ({counter or 0}) is behind the outbox (last seq {top or 0}, "
                f"pruned through {pruned or 0}): the next event would reuse a seq"
            )
        self._db = db
        self._terminal_id = terminal_id
        self._lock = threading.RLock()
        self._action: Action | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        terminal_id: str,
        extra_migrations: Iterable[Migrations] = (),
    ) -> Store:
        """Open the file at ``path`` (created if missing), apply the core then the extra migration
        sets, and return the store of terminal ``terminal_id``."""
        db = open_database(path)
        try:
            migrate(db, extra_migrations)
            return cls(db, terminal_id)
        except BaseException:
            db.close()
            raise

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils Database (for reads; write through :meth:`action`)."""
        self._check_usable()
        return self._db

    @property
    def terminal_id(self) -> str:
        """The terminal whose events this store holds."""
        return self._terminal_id

    @contextlib.contextmanager
    def action(self) -> Iterator[Action]:
        """Run one business action in one ``BEGIN IMMEDIATE`` transaction.

        Commits when the block ends, rolls back (and re-raises) on any exception.  Actions do not
        nest.  Raises :class:`StoreError` if the write lock cannot be had within the busy timeout
        or the commit fails.
        """
        with self._lock:
            self._check_usable()
            if self._action is not None:
                raise StoreError("store actions cannot be nested")
            conn = self._db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a store action: {exc}") from exc
            act = Action(self)
            self._action = act
            try:
                try:
                    yield act
                except BaseException:
                    self._rollback()
                    raise
                if act._failure is not None:
                    self._rollback()
                    raise act._failure
                if not conn.in_transaction:
                    raise StoreError(
                        "the action's transaction was ended inside the block (commit/rollback on act.db)"
                    )
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    raise StoreError(f"cannot commit the store action: {exc}") from exc
            finally:
                act._open = False
                self._action = None

    def pending_events(self, limit: int = 100) -> list[Event]:
        """Up to ``limit`` events not yet acknowledged by the central service, by ``seq``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise StoreError(f"limit must be a positive int, not {limit!r}")
        with self._lock:
            self._check_usable()
            rows = self._db.conn.execute(
                f"SELECT {_ENVELOPE} FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [Event._from_row(row) for row in rows]

    def mark_acked(self, ids: Iterable[str]) -> int:
        """Record, in one transaction, that the central service stored the events ``ids``.

        Returns how many events were newly acknowledged; ids already acknowledged or unknown are
        ignored (a repeated ack is harmless).
        """
        now = utc_now_iso()
        return self._write_many(
            "UPDATE outbox SET acked_at = ? WHERE id = ? AND acked_at IS NULL",
            [(now, event_id) for event_id in ids],
        )

    def mark_failed(self, ids: Iterable[str], error: str) -> int:
        """Record a failed delivery attempt of the pending events ``ids`` (``attempts`` + 1,
        ``last_error``); returns how many rows were updated."""
        return self._write_many(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? AND acked_at IS NULL",
            [(str(error), event_id) for event_id in ids],
        )

    def prune_acked(self, before: str | datetime) -> int:
        """Delete the events acknowledged before ``before`` in one transaction (see :meth:`Action.prune_acked`)."""
        with self.action() as act:
            return act.prune_acked(before)

    def pruned_seq(self) -> int:
        """The highest ``seq`` ever pruned from the outbox (0 when nothing was)."""
        with self._lock:
            self._check_usable()
            row = self._db.conn.execute(
                "SELECT value FROM counters WHERE name = ?", (PRUNED_COUNTER,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def last_seq(self) -> int:
        """The ``seq`` of the last committed event (0 when the outbox has never had one)."""
        with self._lock:
            self._check_usable()
            row = self._db.conn.execute(
                "SELECT value FROM counters WHERE name = ?", (SEQ_COUNTER,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        with self._lock:
            if self._action is not None:
                raise StoreError("cannot close the store inside an action")
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _write_many(self, sql: str, params: list[tuple[Any, ...]]) -> int:
        with self._lock:
            self._check_usable()
            if self._action is not None:
                raise StoreError("outbox bookkeeping cannot run inside a store action")
            if not params:
                return 0
            conn = self._db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                changed = conn.executemany(sql, params).rowcount
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"cannot update the outbox: {exc}") from exc
            return changed

    def _rollback(self) -> None:
        if self._db.conn.in_transaction:
            self._db.conn.execute("ROLLBACK")

    def _check_usable(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")
