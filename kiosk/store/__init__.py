"""The terminal's local store (DESIGN §6): WAL-mode SQLite, migrations, and the event outbox.

Public API::

    Store.open(path, terminal_id, extra_migrations=()) -> Store
    with store.action() as act: act.db ...; act.emit(type, payload, schema=1) -> Event
    store.pending_events(limit) / mark_acked(ids) / mark_failed(ids, error) / last_seq() / close()
    act.prune_acked(before) / store.prune_acked(before) -> int; store.pruned_seq() -> int
    open_database(path), migrate(db, extra_sets=(), stop_before=None), schema_version(db)

Every refusal is a :class:`StoreError`.  This package never imports Qt or ``ui``.
"""

from .db import open_database
from .errors import StoreError
from .migrations import CORE, migrate, schema_version
from .outbox import Action, Event, Store, utc_now_iso

__all__ = [
    "CORE",
    "Action",
    "Event",
    "Store",
    "StoreError",
    "migrate",
    "open_database",
    "schema_version",
    "utc_now_iso",
]
