"""The terminal's copy of the central's reference data, and the one place pages of the feed land.

DESIGN §6: reference data (priority register, cards and blacklist, balances, menus, ...) reaches a
terminal as a change feed with a cursor.  Each page is applied in ONE local transaction together
with the new cursor, so a crash mid-page leaves the old rows and the old cursor (the page is simply
fetched again), never half a page, and a restart resumes from the cursor instead of reprocessing
the whole feed (the lost-checkpoint failure seen in Couchbase Lite).

The tables live in the terminal's own store, added by the migration set :data:`MIGRATIONS`
(``Migrations("sync")``)::

    store = Store.open(path, terminal_id, extra_migrations=[..., sync.apply.MIGRATIONS])

* ``reference_data(kind, key, data, cursor)``: the current row of every reference item;
* ``sync_state(name, value)``: the feed cursor and other small sync facts;
* ``sync_quarantine(event_id, seq, reason, detail, at)``: outbox events the central refused for
  good (a ``conflict``, or an event protocol v1 cannot carry); they stay in the outbox, reported,
  and are no longer pushed.
* ``reference_quarantine(cursor, kind, key, reason, at)``: changes of the feed this terminal
  could not apply (data that is not strict JSON, so ``CHECK (json_valid(data))`` would fail, or
  a row SQLite refuses): each is recorded here and skipped, the rest of its page is applied and
  the cursor moves on, so one poisoned row never stops a pull (issue 10).
* ``reference_versions(kind, cursor, changed_at)``: per kind, the feed cursor of the last change
  applied to it (upsert or delete), written in the same transaction as the page: a reader
  (:mod:`kiosk.reference`) tells that a kind changed by this one small row, without scanning it.

Everything here writes through :meth:`kiosk.store.Store.action`, so it is serialised with the
terminal's own business actions and never sees one of them half done.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from kiosk.store import Store, StoreError, utc_now_iso
from sync.protocol import Change, ChangesResponse
from sync.strict_json import find_problem

MIGRATIONS = Migrations("sync")

#: ``sync_state`` row holding the position reached in the site's change feed.
CURSOR_KEY = "reference_cursor"

#: Rows between two calls of an ``apply_page`` progress callback.
PROGRESS_EVERY = 1000


@MIGRATIONS()
def sync_m001_reference_data(db: sqlite_utils.Database) -> None:
    """Create ``reference_data`` (one row per kind and key) and ``sync_state`` (cursor and facts)."""
    db.execute(
        """
        CREATE TABLE reference_data (
            kind   TEXT    NOT NULL,
            key    TEXT    NOT NULL,
            data   TEXT    NOT NULL CHECK (json_valid(data)),
            cursor INTEGER NOT NULL CHECK (cursor >= 1),
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE sync_state (
            name  TEXT NOT NULL PRIMARY KEY,
            value TEXT NOT NULL
        )
        """
    )


@MIGRATIONS()
def sync_m002_quarantine(db: sqlite_utils.Database) -> None:
    """Create ``sync_quarantine``: outbox events the central refused for good, kept and reported."""
    db.execute(
        """
        CREATE TABLE sync_quarantine (
            event_id TEXT    NOT NULL PRIMARY KEY,
            seq      INTEGER NOT NULL,
            reason   TEXT    NOT NULL CHECK (reason IN ('conflict', 'rejected')),
            detail   TEXT    NOT NULL,
            at       TEXT    NOT NULL
        )
        """
    )


@MIGRATIONS()
def sync_m003_reference_versions(db: sqlite_utils.Database) -> None:
    """Create ``reference_versions`` (per kind: cursor of its last applied change), filled from what is held."""
    db.execute(
        """
        CREATE TABLE reference_versions (
            kind       TEXT    NOT NULL PRIMARY KEY,
            cursor     INTEGER NOT NULL CHECK (cursor >= 1),
            changed_at TEXT    NOT NULL
        )
        """
    )
    db.execute(
        "INSERT INTO reference_versions (kind, cursor, changed_at) "
        "SELECT kind, max(cursor), ? FROM reference_data GROUP BY kind",
        [utc_now_iso()],
    )


@MIGRATIONS()
def sync_m004_reference_quarantine(db: sqlite_utils.Database) -> None:
    """Create ``reference_quarantine``: feed changes this terminal could not apply, skipped and reported."""
    db.execute(
        """
        CREATE TABLE reference_quarantine (
            cursor INTEGER NOT NULL PRIMARY KEY,
            kind   TEXT    NOT NULL,
            key    TEXT    NOT NULL,
            reason TEXT    NOT NULL,
            at     TEXT    NOT NULL
        )
        """
    )


class StaleCursor(StoreError):
    """A page was fetched from a cursor the store has moved past (another client applied it)."""


@dataclass(frozen=True)
class Quarantined:
    """An outbox event the central will never accept as it is; it needs a person to look at it."""

    event_id: str
    seq: int
    reason: str  # "conflict" (same id, different body) or "rejected" (not valid under protocol v1)
    detail: str
    at: str


@dataclass(frozen=True)
class RejectedChange:
    """A change of the reference feed the terminal could not apply: skipped, recorded, reported."""

    cursor: int
    kind: str
    key: str
    reason: str


def check_schema(store: Store) -> None:
    """Raise :class:`StoreError` unless the store was opened with :data:`MIGRATIONS`."""
    if MIGRATIONS.pending(store.db):
        raise StoreError(
            "the store lacks the sync tables: open it with "
            "Store.open(path, terminal_id, extra_migrations=[..., sync.apply.MIGRATIONS])"
        )


def read_cursor(store: Store) -> int:
    """The position reached in the change feed (0 before the first page)."""
    with store.action() as act:
        row = act.db.execute("SELECT value FROM sync_state WHERE name = ?", [CURSOR_KEY]).fetchone()
    return 0 if row is None else int(row[0])


def apply_page(
    store: Store,
    page: ChangesResponse,
    from_cursor: int,
    progress: Callable[[int], None] | None = None,
    rejected: list[RejectedChange] | None = None,
    unreadable: Iterable[RejectedChange] = (),
) -> int:
    """Apply one page of the feed and move the cursor to ``page.cursor``, all in one transaction.

    ``from_cursor`` is the cursor the page was fetched with: if the store's cursor is no longer
    that (another client got there first), nothing is written and :class:`StaleCursor` is raised.
    A page whose cursor goes backwards, or whose changes lie outside ``(from_cursor, page.cursor]``,
    is refused with :class:`StoreError` before anything is written.  ``progress`` is called with the
    number of rows written so far every :data:`PROGRESS_EVERY` rows (inside the transaction).
    A change the terminal cannot store (data that is not strict JSON, or a row SQLite refuses) is
    skipped and recorded in ``reference_quarantine`` in the same transaction; ``rejected``, if
    given, is extended with those.  ``unreadable`` are changes of this page the caller could not
    even read (:func:`sync.wire.parse_page`): recorded with the others.  Returns the number of changes applied.
    """
    _check_page(page, from_cursor)
    bad = list(unreadable) + [RejectedChange(c.cursor, c.kind, c.key, f"{p.reason} at {p.path or 'data'}")
           for c in page.changes if c.op == "upsert" and (p := find_problem(c.data or {})) is not None]
    skip = {b.cursor for b in bad}
    runs = _runs([c for c in page.changes if c.cursor not in skip])
    with store.action() as act:
        conn = act.db.conn
        row = conn.execute("SELECT value FROM sync_state WHERE name = ?", [CURSOR_KEY]).fetchone()
        current = 0 if row is None else int(row[0])
        if current != from_cursor:
            raise StaleCursor(f"the feed cursor is {current}, this page starts at {from_cursor}")
        done = 0
        # Runs keep feed order: a key changed twice in one page ends as its last change.
        for op, rows in runs:
            for start in range(0, len(rows), PROGRESS_EVERY):
                chunk = rows[start : start + PROGRESS_EVERY]
                bad += _write_chunk(conn, _UPSERT if op == "upsert" else _DELETE, chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done)
        skip = {b.cursor for b in bad}
        _bump_versions(conn, [c for c in page.changes if c.cursor not in skip])
        _record_rejected(conn, bad)
        _set_state(conn, CURSOR_KEY, str(page.cursor))
    if rejected is not None:
        rejected.extend(bad)
    return sum(1 for c in page.changes if c.cursor not in skip)


#: What SQLite (or the driver) raises for one row it refuses, as opposed to the store failing.
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, UnicodeEncodeError, OverflowError)
_Row = tuple[Change, tuple[Any, ...]]


def _write_chunk(conn: Any, sql: str, chunk: list[_Row]) -> list[RejectedChange]:
    """Write ``chunk`` at once; if SQLite refuses a row, write it row by row and return those refused."""
    conn.execute("SAVEPOINT sync_chunk")
    try:
        conn.executemany(sql, [row for _, row in chunk])
    except _ROW_ERRORS:
        conn.execute("ROLLBACK TO sync_chunk")
    else:
        conn.execute("RELEASE sync_chunk")
        return []
    refused: list[RejectedChange] = []
    for change, row in chunk:
        conn.execute("SAVEPOINT sync_row")
        try:
            conn.execute(sql, row)
        except _ROW_ERRORS as exc:
            conn.execute("ROLLBACK TO sync_row")
            refused.append(RejectedChange(change.cursor, change.kind, change.key,
                                          f"the store refused it: {type(exc).__name__}: {exc}"[:300]))
        conn.execute("RELEASE sync_row")
    conn.execute("RELEASE sync_chunk")
    return refused


def _record_rejected(conn: Any, bad: list[RejectedChange]) -> None:
    if bad:
        now = utc_now_iso()
        conn.executemany(
            "INSERT INTO reference_quarantine (cursor, kind, key, reason, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (cursor) DO NOTHING",
            [(b.cursor, _text(b.kind), _text(b.key), _text(b.reason), now) for b in bad],
        )


def _text(value: str) -> str:
    """``value`` with any lone surrogate escaped, so it can be stored as UTF-8."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def rejected_changes(store: Store) -> list[RejectedChange]:
    """Every feed change this terminal skipped because it could not apply it, by cursor."""
    with store.action() as act:
        rows = act.db.execute("SELECT cursor, kind, key, reason FROM reference_quarantine ORDER BY cursor").fetchall()
    return [RejectedChange(int(c), k, key, r) for c, k, key, r in rows]


_UPSERT = (
    "INSERT INTO reference_data (kind, key, data, cursor) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, cursor = excluded.cursor"
)
_DELETE = "DELETE FROM reference_data WHERE kind = ? AND key = ?"


def _bump_versions(conn: Any, changes: list[Change]) -> None:
    """Record, per kind the page touched, the cursor of its last change (in the page's transaction)."""
    last: dict[str, int] = {}
    for change in changes:
        last[change.kind] = change.cursor
    if last:
        now = utc_now_iso()
        conn.executemany(
            "INSERT INTO reference_versions (kind, cursor, changed_at) VALUES (?, ?, ?) "
            "ON CONFLICT (kind) DO UPDATE SET cursor = excluded.cursor, changed_at = excluded.changed_at",
            [(kind, cursor, now) for kind, cursor in last.items()],
        )


def reference_versions(store: Store) -> dict[str, int]:
    """Per kind, the feed cursor of its last applied change (a kind never pulled is absent)."""
    with store.action() as act:
        return {kind: int(cursor) for kind, cursor in act.db.execute(
            "SELECT kind, cursor FROM reference_versions").fetchall()}


def _runs(changes: list[Change]) -> list[tuple[str, list[_Row]]]:
    """The changes as runs of consecutive upserts or deletes, each with its row for ``executemany``."""
    runs: list[tuple[str, list[_Row]]] = []
    for change in changes:
        if change.op == "upsert":
            row: tuple[Any, ...] = (change.kind, change.key, _json(change.data or {}), change.cursor)
        else:
            row = (change.kind, change.key)
        if runs and runs[-1][0] == change.op:
            runs[-1][1].append((change, row))
        else:
            runs.append((change.op, [(change, row)]))
    return runs


def _check_page(page: ChangesResponse, from_cursor: int) -> None:
    if page.cursor < from_cursor:
        raise StoreError(f"the central sent a page whose cursor {page.cursor} is behind {from_cursor}")
    last = from_cursor
    for change in page.changes:
        if not last < change.cursor <= page.cursor:
            raise StoreError(
                f"the central sent change {change.kind}/{change.key} at cursor {change.cursor}, "
                f"outside ({from_cursor}, {page.cursor}] or out of order"
            )
        last = change.cursor


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _set_state(conn: Any, name: str, value: str) -> None:
    conn.execute(
        "INSERT INTO sync_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def write_state(store: Store, values: dict[str, str]) -> None:
    """Record small sync facts (e.g. the last successful push time) in ``sync_state``."""
    with store.action() as act:
        for name, value in values.items():
            _set_state(act.db.conn, name, value)


#: ``sync_state`` row: when a pull last reached the end of the feed (balances and deny list that fresh).
CAUGHT_UP_KEY = "caught_up_at"


def feed_age_s(store: Store, now: datetime) -> float | None:
    """Seconds since a pull last applied the whole feed (None: never, or the store has no sync tables).

    Read on the store's connection without a write lock: a reader asks it on every tap.
    """
    try:
        row = store.db.conn.execute("SELECT value FROM sync_state WHERE name = ?", (CAUGHT_UP_KEY,)).fetchone()
        at = datetime.fromisoformat(row[0]) if row is not None else None
    except (sqlite3.OperationalError, ValueError):
        return None
    return None if at is None else max((now - at).total_seconds(), 0.0)


def read_state(store: Store) -> dict[str, str]:
    """Every ``sync_state`` row, name to value."""
    with store.action() as act:
        return dict(act.db.execute("SELECT name, value FROM sync_state").fetchall())


def reference_get(store: Store, kind: str, key: str) -> dict[str, Any] | None:
    """The current data of one reference item, or ``None`` if the terminal has no such item."""
    with store.action() as act:
        row = act.db.execute("SELECT data FROM reference_data WHERE kind = ? AND key = ?", [kind, key]).fetchone()
    return None if row is None else json.loads(row[0])


def reference_count(store: Store, kind: str | None = None) -> int:
    """How many reference items the terminal holds (of one ``kind``, or of every kind)."""
    with store.action() as act:
        if kind is None:
            row = act.db.execute("SELECT count(*) FROM reference_data").fetchone()
        else:
            row = act.db.execute("SELECT count(*) FROM reference_data WHERE kind = ?", [kind]).fetchone()
    return int(row[0])


def quarantine(store: Store, items: Iterable[tuple[str, int, str, str]]) -> int:
    """Record outbox events ``(event_id, seq, reason, detail)`` the central refused for good.

    Each is also marked failed in the outbox (``attempts`` + 1, ``last_error``), so the outbox row
    itself says why it is still there.  Returns how many were newly quarantined.
    """
    rows = [(event_id, seq, reason, detail, utc_now_iso()) for event_id, seq, reason, detail in items]
    if not rows:
        return 0
    with store.action() as act:
        before = act.db.conn.total_changes
        act.db.conn.executemany(
            "INSERT INTO sync_quarantine (event_id, seq, reason, detail, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING",
            rows,
        )
        added = act.db.conn.total_changes - before
    for event_id, _seq, reason, detail, _at in rows:
        store.mark_failed([event_id], f"{reason}: {detail}")
    return added


def quarantined(store: Store) -> list[Quarantined]:
    """Every quarantined event, by ``seq``."""
    with store.action() as act:
        rows = act.db.execute(
            "SELECT event_id, seq, reason, detail, at FROM sync_quarantine ORDER BY seq"
        ).fetchall()
    return [Quarantined(*row) for row in rows]


def queue_length(store: Store) -> int:
    """Outbox events still waiting for the central's acknowledgement (quarantined ones included)."""
    with store.action() as act:
        row = act.db.execute("SELECT count(*) FROM outbox WHERE acked_at IS NULL").fetchone()
    return int(row[0])
