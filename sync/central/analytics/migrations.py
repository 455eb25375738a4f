"""The analytics module's migration set (recorded in ``analytics_migrations``)."""

from __future__ import annotations

from sqlalchemy import Column, Connection, MetaData, String, Table, Text

from ..migrations import Migration, MigrationSet


def _v1_settings(conn: Connection) -> None:
    md = MetaData()
    Table("analytics_settings", md,
          Column("name", String(64), primary_key=True),
          Column("value", Text, nullable=False),
          Column("set_at", String(40), nullable=False))
    md.create_all(conn)


MIGRATIONS = MigrationSet("analytics", (
    Migration(1, "analytics settings (the 65+ population)", _v1_settings),
))
