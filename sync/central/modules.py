"""The central's modules: each one a FastAPI router, its tables and its migration set.

:func:`sync.central.app.create_app` includes every module's router; opening the store
(:meth:`sync.central.storage.CentralStore.open`) runs every module's migrations in this order
(a module may use the tables of one listed before it).  The Time Bank, alerts, reports and
canteen modules join here as ``sync/central/<module>/`` packages shaped like ``sync_api``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy import MetaData

from .migrations import MigrationSet
from .sync_api import migrations as sync_migrations
from .sync_api import router as sync_router
from .sync_api import schema as sync_schema


@dataclass(frozen=True)
class CentralModule:
    """One module of the central service."""

    name: str
    router: APIRouter
    migrations: MigrationSet
    metadata: MetaData  # its tables as the code queries them (checked against the migrated database)


MODULES: tuple[CentralModule, ...] = (
    CentralModule("sync", sync_router.router, sync_migrations.MIGRATIONS, sync_schema.metadata),
)
MIGRATION_SETS: tuple[MigrationSet, ...] = tuple(m.migrations for m in MODULES)
