"""The hall service's replay guard: every nonce of a signed request, kept for its time window.

A signed request is accepted within ±``window_s`` of the hall clock and only once.  Its nonce
is remembered with the request's signed time; a nonce is forgotten only once its time is more
than ``window_s`` behind the hall clock, and the newest time forgotten becomes the **floor**:
a request signed at or before the floor is refused whatever its nonce.  So forgetting never
reopens a replay, even when the hall clock later steps back (after a step back, terminals
are refused as ``stale_timestamp`` until the hall clock passes the floor again).

:class:`StoreNonces` keeps both in the hall's SQLite store (``hall_nonces``, ``hall_nonce_floor``),
so a request captured before a restart of the hall is still refused after it;
:class:`MemoryNonces` is the same rule in memory, for a verifier without a store.
"""

from __future__ import annotations

import threading
from typing import Protocol

from kiosk.store import Store

#: Nonces are forgotten (and the floor raised) once per this many remembered.
PRUNE_EVERY = 256


class NonceBook(Protocol):
    """Where a verifier remembers nonces."""

    def admit(self, nonce: str, sent: float, now: float) -> str | None:
        """Remember ``nonce`` signed at ``sent``; None if new, else the refusal reason."""


class MemoryNonces:
    """The replay rule in memory (lost on restart: for tests and tools without a store)."""

    def __init__(self, window_s: float) -> None:
        """``window_s``: how far a request's time may be from the hall clock, seconds."""
        self.window_s = window_s
        self._seen: dict[str, float] = {}
        self._floor = float("-inf")
        self._lock = threading.Lock()

    def admit(self, nonce: str, sent: float, now: float) -> str | None:
        """See :meth:`NonceBook.admit`."""
        with self._lock:
            if sent <= self._floor:
                return "below_floor"
            if nonce in self._seen:
                return "replayed"
            self._seen[nonce] = sent
            if len(self._seen) % PRUNE_EVERY == 0:
                old = {n: t for n, t in self._seen.items() if t < now - self.window_s}
                if old:
                    self._floor = max(self._floor, max(old.values()))
                    self._seen = {n: t for n, t in self._seen.items() if t > self._floor}
            return None


class StoreNonces:
    """The replay rule in the hall's store: survives a restart of the hall."""

    def __init__(self, store: Store, window_s: float) -> None:
        """Create the two tables if needed (a cache of the replay window: no migration history to keep)."""
        self.store, self.window_s = store, window_s
        self._count = 0
        with store.action() as act:
            act.db.execute("CREATE TABLE IF NOT EXISTS hall_nonces (nonce TEXT NOT NULL PRIMARY KEY, "
                           "sent REAL NOT NULL) WITHOUT ROWID")
            act.db.execute("CREATE INDEX IF NOT EXISTS hall_nonces_sent ON hall_nonces (sent)")
            act.db.execute("CREATE TABLE IF NOT EXISTS hall_nonce_floor (id INTEGER NOT NULL PRIMARY KEY "
                           "CHECK (id = 1), sent REAL NOT NULL)")

    def admit(self, nonce: str, sent: float, now: float) -> str | None:
        """See :meth:`NonceBook.admit`; one short write transaction."""
        with self.store.action() as act:
            row = act.db.execute("SELECT sent FROM hall_nonce_floor WHERE id = 1").fetchone()
            if row is not None and sent <= row[0]:
                return "below_floor"
            added = act.db.execute("INSERT OR IGNORE INTO hall_nonces (nonce, sent) VALUES (?, ?)", [nonce, sent])
            if added.rowcount != 1:
                return "replayed"
            self._count += 1
            if self._count % PRUNE_EVERY == 0:
                cutoff = now - self.window_s
                (newest_old,) = act.db.execute("SELECT max(sent) FROM hall_nonces WHERE sent < ?", [cutoff]).fetchone()
                if newest_old is not None:
                    act.db.execute("DELETE FROM hall_nonces WHERE sent <= ?", [newest_old])
                    act.db.execute("INSERT INTO hall_nonce_floor (id, sent) VALUES (1, ?) ON CONFLICT (id) DO UPDATE "
                                   "SET sent = max(sent, excluded.sent)", [newest_old])
            return None
