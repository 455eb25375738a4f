"""The reader's money journal: append-only, one row per money entry, written with its outbox event.

DESIGN §6b and docs/community-card.md §3: every payment, void and top-up a reader makes is one
``card_journal`` row (entry id = the outbox event's UUID, the reader id, a monotonic counter that is
never reused) committed in the same transaction as its ``card.*`` event.  Rows are immutable (a
trigger refuses any update); a row may be deleted only once the central acknowledged its event
(:meth:`CardJournal.prune`), so nothing the central has not stored can be lost by a clean-up.

The journal answers the questions a reader asks before it takes money offline: what did this card
spend here that the last balance snapshot does not count yet, how many offline taps in a row, how
much offline today, did it already get today's subsidy here, and was the same basket just paid.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils.migrations import Migrations

from kiosk.store import Action, Store, StoreError

CANTEEN_MIGRATIONS = Migrations("linfen_card_journal")
COUNTER = "card_journal_counter"  # the ``counters`` row holding the last journal counter
ENTRY_TYPES = ("payment", "void", "topup")


@CANTEEN_MIGRATIONS()
def m001_card_journal(db: Any) -> None:
    """Create ``card_journal`` (immutable money entries) and its per-card index."""
    db.execute(
        """
        CREATE TABLE card_journal (
            entry_id    TEXT    NOT NULL PRIMARY KEY,
            counter     INTEGER NOT NULL UNIQUE CHECK (counter >= 1),
            type        TEXT    NOT NULL CHECK (type IN ('payment', 'void', 'topup')),
            card_no     TEXT    NOT NULL,
            day         TEXT    NOT NULL,
            at          TEXT    NOT NULL,
            debit_fen   INTEGER NOT NULL,
            subsidy_fen INTEGER NOT NULL DEFAULT 0 CHECK (subsidy_fen >= 0),
            offline     INTEGER NOT NULL CHECK (offline IN (0, 1)),
            voids       TEXT    NULL,
            basket      TEXT    NULL,
            payload     TEXT    NOT NULL CHECK (json_valid(payload))
        )
        """
    )
    db.execute("CREATE INDEX card_journal_card ON card_journal (card_no, counter)")
    db.execute("CREATE INDEX card_journal_day ON card_journal (day, counter)")
    db.execute(
        """
        CREATE TRIGGER card_journal_immutable BEFORE UPDATE ON card_journal
        BEGIN SELECT RAISE(ABORT, 'journal entries are immutable: a correction is a new entry'); END
        """
    )


@dataclass(frozen=True)
class JournalEntry:
    """One money entry as the reader recorded it."""

    entry_id: str
    counter: int
    type: str
    card_no: str
    day: str  # local ISO date
    at: str  # UTC ISO time, from the reader's clock
    debit_fen: int  # taken from the card: payment > 0, void and top-up < 0
    subsidy_fen: int
    offline: bool
    voids: str | None
    basket: str | None
    payload: dict[str, Any]
    acked: bool = False

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> JournalEntry:
        """Build from a ``SELECT`` of :data:`_COLUMNS` plus the acked flag."""
        (entry_id, counter, type_, card_no, day, at, debit, subsidy, offline, voids, basket, payload,
         acked) = row
        return cls(entry_id, int(counter), type_, card_no, day, at, int(debit), int(subsidy), bool(offline),
                   voids, basket, json.loads(payload), bool(acked))


_COLUMNS = "entry_id, counter, type, card_no, day, at, debit_fen, subsidy_fen, offline, voids, basket, payload"
# An entry is acknowledged when its outbox row is, or when that row is gone (only acked rows are pruned).
_SELECT = (f"SELECT {', '.join('j.' + c for c in _COLUMNS.split(', '))}, (o.id IS NULL OR o.acked_at IS NOT NULL) "
           "FROM card_journal j LEFT JOIN outbox o ON o.id = j.entry_id")


class CardJournal:
    """The reader's journal in its store (opened with ``extra_migrations=(CANTEEN_MIGRATIONS, ...)``)."""

    def __init__(self, store: Store) -> None:
        """Use ``store``; StoreError when its schema lacks the journal."""
        if CANTEEN_MIGRATIONS.pending(store.db):
            raise StoreError("the store has no card journal: open it with extra_migrations=[CANTEEN_MIGRATIONS]")
        self.store = store

    @property
    def reader_id(self) -> str:
        """This reader's id (its terminal id)."""
        return self.store.terminal_id

    def record(self, act: Action, type: str, card_no: str, at: dt.datetime, debit_fen: int, payload: dict[str, Any],
               *, subsidy_fen: int = 0, offline: bool = False, voids: str | None = None,
               basket: str | None = None) -> JournalEntry:
        """Append one entry and its ``card.<type>`` outbox event inside the caller's action.

        ``at`` is the reader's aware local time of the entry: its date is the entry's day.  The payload
        gets ``entry_id``, ``reader_id``, ``counter``, ``day`` and ``at``; the event's id is the entry id.
        """
        if type not in ENTRY_TYPES:
            raise StoreError(f"journal entry type must be one of {ENTRY_TYPES}, not {type!r}")
        conn = act.db.conn
        counter = int(conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value", (COUNTER,)).fetchone()[0])
        entry_id = str(uuid.uuid4())
        day, stamp = at.date().isoformat(), at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        body = {**payload, "entry_id": entry_id, "reader_id": self.reader_id, "counter": counter, "day": day,
                "at": stamp}
        event = act.emit(f"card.{type}", body, event_id=entry_id)
        conn.execute(
            f"INSERT INTO card_journal ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry_id, counter, type, card_no, day, stamp, debit_fen, subsidy_fen, int(offline), voids,
             basket, json.dumps(event.payload, ensure_ascii=False, sort_keys=True)))
        return JournalEntry(entry_id, counter, type, card_no, day, stamp, debit_fen, subsidy_fen,
                            offline, voids, basket, event.payload)

    def _query(self, where: str = "", params: Iterable[Any] = (), order: str = "j.counter") -> list[JournalEntry]:
        sql = f"{_SELECT} {'WHERE ' + where if where else ''} ORDER BY {order}"
        rows = self.store.db.conn.execute(sql, tuple(params)).fetchall()
        return [JournalEntry.from_row(r) for r in rows]

    def get(self, entry_id: str) -> JournalEntry | None:
        """The entry with this id, or None."""
        found = self._query("j.entry_id = ?", (entry_id,))
        return found[0] if found else None

    def for_card(self, card_no: str, after_counter: int = 0) -> list[JournalEntry]:
        """This card's entries with a counter above ``after_counter``, oldest first."""
        return self._query("j.card_no = ? AND j.counter > ?", (card_no, after_counter))

    def for_day(self, day: str) -> list[JournalEntry]:
        """Every entry of one local day, in counter order."""
        return self._query("j.day = ?", (day,))

    def voided_ids(self, entry_ids: Iterable[str]) -> set[str]:
        """Which of ``entry_ids`` a void entry of this reader cancels."""
        ids = list(entry_ids)
        if not ids:
            return set()
        marks = ", ".join("?" * len(ids))
        rows = self.store.db.conn.execute(
            f"SELECT voids FROM card_journal WHERE type = 'void' AND voids IN ({marks})", ids).fetchall()
        return {r[0] for r in rows}

    def unacknowledged(self, day: str | None = None) -> list[JournalEntry]:
        """Entries the central has not acknowledged yet (of one day, or all)."""
        entries = self.for_day(day) if day is not None else self._query()
        return [e for e in entries if not e.acked]

    def last_counter(self) -> int:
        """The highest counter handed out (0 before the first entry)."""
        row = self.store.db.conn.execute("SELECT value FROM counters WHERE name = ?", (COUNTER,)).fetchone()
        return 0 if row is None else int(row[0])

    def prune(self, before_day: str) -> int:
        """Delete acknowledged entries of days before ``before_day``; unacknowledged ones always stay."""
        with self.store.action() as act:
            cur = act.db.conn.execute(
                "DELETE FROM card_journal WHERE day < ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.id = card_journal.entry_id AND o.acked_at IS NULL)", (before_day,))
            return int(cur.rowcount)
