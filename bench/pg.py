"""A throwaway PostgreSQL database for a bench run: made on the machine's ``main`` cluster, dropped after.

Needs Debian's PostgreSQL (the test set-up installs it) and root (to reach the cluster as the
``postgres`` user, as :mod:`tests.pg_fixtures` does).  Without either, :func:`pg_database` yields
None and the bench says the PostgreSQL figures were skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def pg_database(tag: str) -> Iterator[str | None]:
    """A fresh database's SQLAlchemy URL (``postgresql://...``), or None when PostgreSQL is not available."""
    from tests.pg_fixtures import PG_PASSWORD, PG_ROLE, _run, clusters, pg_installed, psql_admin

    if not pg_installed() or os.geteuid() != 0:
        print("  PostgreSQL: not installed, or not root - skipped", flush=True)
        yield None
        return
    cluster = next((c for c in clusters() if c.name == "main"), None)
    if cluster is None:
        print("  PostgreSQL: no cluster 'main' - skipped", flush=True)
        yield None
        return
    started = not cluster.online
    if started:
        _run("pg_ctlcluster", cluster.version, cluster.name, "start")
    database = f"linfen_bench_{tag}_{os.getpid()}"
    try:
        psql_admin(cluster.port,
                   f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_ROLE}') THEN "
                   f"CREATE ROLE {PG_ROLE} LOGIN; END IF; END $$",
                   f"ALTER ROLE {PG_ROLE} LOGIN PASSWORD '{PG_PASSWORD}'",
                   f"CREATE DATABASE {database} OWNER {PG_ROLE}")
        yield f"postgresql://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{cluster.port}/{database}"
    finally:
        try:
            psql_admin(cluster.port, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        finally:
            if started:
                _run("pg_ctlcluster", cluster.version, cluster.name, "stop")
