"""Per-module migrations of the central: each module's set in order, its own bookkeeping, old databases still open.

``tests/data/central_v1.sqlite.sql`` is a central database made by the code before modules had
their own migration sets (dumped with sqlite3's iterdump, with a terminal, events, a gap, a
revoked terminal, reference data and a heartbeat in it); it must open and keep working.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
)

from sync.central.app import create_app
from sync.central.db import open_engine
from sync.central.errors import CentralError
from sync.central.migrations import Migration, MigrationSet, current_versions, migrate
from sync.central.modules import MIGRATION_SETS, MODULES
from sync.central.server import CentralServer
from sync.central.storage import CentralStore
from sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, EventEnvelope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DATA = Path(__file__).resolve().parent / "data"
T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def legacy_database(path: Path) -> Path:
    """The pre-module central database, restored from its SQL dump."""
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / "central_v1.sqlite.sql").read_text(encoding="utf-8"))
    conn.close()
    return path


# -- a module that comes later (shaped like the Time Bank: its own tables, one using the sync module's) --
def _volunteers_v1(conn: Connection) -> None:
    md = MetaData()
    Table("terminals", md, Column("terminal_id", String(64), primary_key=True))  # the sync module's, to refer to
    Table("volunteers", md,
          Column("volunteer_id", String(36), primary_key=True),
          Column("registered_at_terminal", String(64), ForeignKey("terminals.terminal_id")),
          Column("points", BigInteger, nullable=False))
    md.tables["volunteers"].create(conn)


def _volunteers_v2(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE volunteers ADD COLUMN phone_hash VARCHAR(64)"))


#: Every shipped module at its latest schema version (sync is at 3; the others as they ship).
LATEST = {m.module: m.latest for m in MIGRATION_SETS}

VOLUNTEERS = MigrationSet("volunteers", (
    Migration(1, "volunteers", _volunteers_v1),
    Migration(2, "volunteer phone hash", _volunteers_v2),
))


def _broken(conn: Connection) -> None:
    conn.execute(text("CREATE TABLE half_done (x INTEGER)"))
    raise RuntimeError("step fails half-way")


# -- the old database -------------------------------------------------------------------------------
def test_a_database_made_before_modules_opens_as_it_is(tmp_path):
    db = legacy_database(tmp_path / "central.db")
    token = (DATA / "central_v1.token").read_text(encoding="ascii").strip()
    store = CentralStore.open(str(db))
    try:
        assert store.ping() == LATEST  # sync's steps 2 (gap counts) and 3 (heartbeat counts) ran on opening
        assert migrate(store.engine, MIGRATION_SETS) == {m: [] for m in LATEST}  # nothing left to do
        assert store.authenticate(token).terminal_id == "hall-01"
        assert store.terminal("canteen-01").revoked_at is not None
        assert store.stored_seqs("hall-01") == [1, 2, 4]
        assert [s.missing for s in store.terminal_states() if s.terminal_id == "hall-01"] == [1]  # backfilled
        outcome = store.push("hall-01", [EventEnvelope(id=uuid.uuid4(), terminal_id="hall-01", seq=3,
                                                       type="ticket.issued", occurred_at=T0, payload={"n": 3})])
        assert outcome.response.highest_seq == 4 and outcome.response.gaps == []  # the old gap is filled
        assert outcome.response.gap_count == 0
        assert '"C0001"' in store.changes_json("site-a", 0, 10)
        [state] = [s for s in store.terminal_states() if s.terminal_id == "hall-01"]
        assert state.last_heartbeat is not None
        with CentralServer(create_app(store)) as server, httpx.Client(base_url=server.url, timeout=20) as c:
            health = c.get("/health")
            changes = c.get("/v1/reference/changes", headers={"Authorization": f"Bearer {token}",
                                                              PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
            metrics = c.get("/metrics")
    finally:
        store.close()
    assert health.status_code == 200
    assert health.json()["schema_version"] == LATEST["sync"] and health.json()["schema_versions"] == LATEST
    assert changes.status_code == 200 and changes.json()["changes"][0]["key"] == "C0001"
    assert f'linfen_central_schema_version{{module="sync"}} {LATEST["sync"]}' in metrics.text


def test_the_old_database_keeps_its_bookkeeping_table(tmp_path):
    db = legacy_database(tmp_path / "central.db")
    CentralStore.open(str(db)).close()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert rows == [(1, "terminals, events, seq gaps, heartbeats, reference change feed"),
                    (2, "gap run and missing-seq counts per terminal"),
                    (3, "quarantined events and skipped reference changes in heartbeats"),
                    (4, "how far behind each terminal's reference feed (deny list, balances) is")]
    assert "sync_migrations" not in tables


# -- sets per module ----------------------------------------------------------------------------------
def test_a_new_module_is_migrated_on_an_existing_database_with_its_own_bookkeeping(central_db_url):
    CentralStore.open(central_db_url).close()  # a central with the sync module only
    engine = open_engine(central_db_url)
    try:
        sets = (*MIGRATION_SETS, VOLUNTEERS)
        assert migrate(engine, sets) == {**{m: [] for m in LATEST}, "volunteers": [1, 2]}
        assert migrate(engine, sets) == {**{m: [] for m in LATEST}, "volunteers": []}
        assert current_versions(engine, sets) == {**LATEST, "volunteers": 2}
        found = inspect(engine)
        assert {c["name"] for c in found.get_columns("volunteers")} == {
            "volunteer_id", "registered_at_terminal", "points", "phone_hash"}
        with engine.connect() as conn:
            assert list(conn.execute(select(VOLUNTEERS.table.c.version))) == [(1,), (2,)]
            assert list(conn.execute(select(MIGRATION_SETS[0].table.c.version))) == [(1,), (2,), (3,), (4,)]
    finally:
        engine.dispose()
    store = CentralStore.open(central_db_url, migrations=sets)
    try:
        assert store.ping() == {**LATEST, "volunteers": 2}
    finally:
        store.close()


def test_a_failing_step_leaves_nothing_behind(central_db_url):
    engine = open_engine(central_db_url)
    try:
        broken = MigrationSet("alerts", (Migration(1, "fails", _broken),))
        with pytest.raises(RuntimeError, match="half-way"):
            migrate(engine, (*MIGRATION_SETS, broken))
        found = inspect(engine)
        assert not {"half_done", "terminals", "schema_migrations", "alerts_migrations"} & set(found.get_table_names())
    finally:
        engine.dispose()


def test_a_module_newer_than_the_program_is_refused(central_db_url):
    engine = open_engine(central_db_url)
    try:
        migrate(engine, (*MIGRATION_SETS, VOLUNTEERS))
        older = MigrationSet("volunteers", VOLUNTEERS.steps[:1])
        with pytest.raises(CentralError, match="volunteers schema is at version 2, newer than this program knows"):
            migrate(engine, (*MIGRATION_SETS, older))
    finally:
        engine.dispose()


def test_migration_sets_are_checked_when_declared():
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        MigrationSet("reports", (Migration(2, "skips one", _broken),))
    with pytest.raises(ValueError, match="lowercase"):
        MigrationSet("Time Bank", ())
    assert VOLUNTEERS.table_name == "volunteers_migrations" and VOLUNTEERS.latest == 2
    with pytest.raises(ValueError, match="share a module"):
        migrate(None, (VOLUNTEERS, VOLUNTEERS))  # type: ignore[arg-type]  # refused before touching a database


def test_every_module_has_a_router_in_the_app_and_its_own_migration_set(tmp_path):
    assert [m.migrations.module for m in MODULES] == [m.name for m in MODULES]
    assert len({m.migrations.table_name for m in MODULES}) == len(MODULES)
    app = create_app(str(tmp_path / "central.db"))
    paths = set(app.openapi()["paths"])
    for module in MODULES:
        own = {route.path for route in module.router.routes}
        assert own and own <= paths, module.name
    assert {"/health", "/metrics"} <= paths
