"""The central's modules: each one a FastAPI router, its tables and its migration set.

:func:`sync.central.app.create_app` includes every module's router; opening the store
(:meth:`sync.central.storage.CentralStore.open`) runs every module's migrations in this order
(a module may use the tables of one listed before it).  The Time Bank, alerts, reports and
canteen modules join here as ``sync/central/<module>/`` packages shaped like ``sync_api``.

A module may also consume pushed events: its ``consumers`` are called by
:meth:`sync.central.storage.CentralStore.push` inside the push's write transaction, after the
batch is stored, with only the events acknowledged ``stored`` (never a duplicate or a
conflict), as ``consumer(conn, terminal_id, site, role, events)``.  A consumer writes its own
tables on ``conn``; it must not raise for a bad payload (an exception fails the whole push,
which the terminal then resends), so it records such events where an operator sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy import Connection, MetaData

from ..protocol import EventEnvelope
from .analytics import migrations as analytics_migrations
from .analytics import router as analytics_router
from .analytics import schema as analytics_schema
from .card import consumer as card_consumer
from .card import migrations as card_migrations
from .card import router as card_router
from .card import schema as card_schema
from .migrations import MigrationSet
from .sync_api import migrations as sync_migrations
from .sync_api import router as sync_router
from .sync_api import schema as sync_schema
from .timebank import consumer as timebank_consumer
from .timebank import migrations as timebank_migrations
from .timebank import router as timebank_router
from .timebank import schema as timebank_schema

EventConsumer = Callable[[Connection, str, str, str, Sequence[EventEnvelope]], None]
"""``(conn, terminal_id, site, role, newly stored events) -> None``, run inside the push's transaction."""


@dataclass(frozen=True)
class CentralModule:
    """One module of the central service."""

    name: str
    router: APIRouter
    migrations: MigrationSet
    metadata: MetaData  # its tables as the code queries them (checked against the migrated database)
    consumers: tuple[EventConsumer, ...] = ()  # called with newly stored events (see the module docstring)


MODULES: tuple[CentralModule, ...] = (
    CentralModule("sync", sync_router.router, sync_migrations.MIGRATIONS, sync_schema.metadata),
    CentralModule("card", card_router.router, card_migrations.MIGRATIONS, card_schema.metadata,
                  (card_consumer.post_card_events,)),
    CentralModule("analytics", analytics_router.router, analytics_migrations.MIGRATIONS, analytics_schema.metadata),
    CentralModule("timebank", timebank_router.router, timebank_migrations.MIGRATIONS, timebank_schema.metadata,
                  (timebank_consumer.post_volunteer_events,)),
)
MIGRATION_SETS: tuple[MigrationSet, ...] = tuple(m.migrations for m in MODULES)
EVENT_CONSUMERS: tuple[EventConsumer, ...] = tuple(c for m in MODULES for c in m.consumers)
