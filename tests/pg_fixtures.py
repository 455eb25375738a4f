"""PostgreSQL for the tests: the machine's Debian cluster, started only if it is down, stopped only if we started it.

``pg_url`` (session) gives a database of its own (``linfen_test_<pid>``, owned by the role
``linfen_test``) on the first cluster ``pg_lsclusters`` lists, reached over TCP on loopback
with a password.  Debian's ``postgresql`` package must be installed (``scripts/setup.sh --test``
installs it); without it the PostgreSQL half of the central suite is skipped, saying so.
Starting a cluster and creating the role need root (as in CI), via ``pg_ctlcluster`` and
``runuser -u postgres -- psql``.

``central_db_url`` (per test, parametrized ``sqlite`` / ``postgresql``) gives a fresh, empty
database URL for either backend: a SQLite file in ``tmp_path``, or a new PostgreSQL schema
(``search_path`` set in the URL), dropped after the test.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_ROLE = "linfen_test"
PG_PASSWORD = "linfen-test-only-password"  # a throwaway role on a loopback-only test cluster
PG_TIMEOUT_S = 60.0  # longest wait for pg_ctlcluster / psql


@dataclass(frozen=True)
class Cluster:
    """One line of ``pg_lsclusters``."""

    version: str
    name: str
    port: int
    online: bool


def pg_installed() -> bool:
    """True when Debian's PostgreSQL server and cluster tools are installed."""
    return shutil.which("pg_lsclusters") is not None and bool(glob.glob("/usr/lib/postgresql/*/bin/postgres"))


def clusters() -> list[Cluster]:
    """The clusters ``pg_lsclusters`` knows."""
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True,
                         timeout=PG_TIMEOUT_S).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            found.append(Cluster(parts[0], parts[1], int(parts[2]), parts[3].startswith("online")))
    return found


def _run(*cmd: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=PG_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")


def psql_admin(port: int, *sql: str, database: str = "postgres") -> None:
    """Run ``sql`` statements as the ``postgres`` superuser (needs root)."""
    args = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-p", str(port), "-d", database,
            "-v", "ON_ERROR_STOP=1"]
    for statement in sql:
        args += ["-c", statement]
    _run(*args)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh PostgreSQL database for this test session."""
    if not pg_installed():
        pytest.skip("PostgreSQL is not installed (Debian packages postgresql, postgresql-client); "
                    "scripts/setup.sh --test installs them")
    if os.geteuid() != 0:
        pytest.fail("the PostgreSQL fixture must run as root (to start the cluster and create a role)")
    found = clusters()
    created = not found
    if created:
        version = sorted(Path(p).parts[-3] for p in glob.glob("/usr/lib/postgresql/*/bin/postgres"))[-1]
        _run("pg_createcluster", version, "main")
        found = clusters()
    cluster = next((c for c in found if c.name == "main"), found[0])
    started = not cluster.online
    if started:
        _run("pg_ctlcluster", cluster.version, cluster.name, "start")
    database = f"linfen_test_{os.getpid()}"
    try:
        psql_admin(cluster.port,
                   f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_ROLE}') THEN "
                   f"CREATE ROLE {PG_ROLE} LOGIN; END IF; END $$",
                   f"ALTER ROLE {PG_ROLE} LOGIN PASSWORD '{PG_PASSWORD}'",
                   f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
                   f"CREATE DATABASE {database} OWNER {PG_ROLE}")
        yield f"postgresql+psycopg://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{cluster.port}/{database}"
    finally:
        try:
            psql_admin(cluster.port, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        finally:
            if created:
                _run("pg_dropcluster", "--stop", cluster.version, cluster.name)
            elif started:
                _run("pg_ctlcluster", cluster.version, cluster.name, "stop")


def _with_search_path(url: str, schema: str) -> str:
    return f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty central database on each backend: a SQLite path, or a PostgreSQL URL with its own schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "central.db")
        return
    import psycopg

    base = request.getfixturevalue("pg_url")
    schema = f"t_{secrets.token_hex(6)}"
    conninfo = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _with_search_path(base, schema)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
