"""Upgrading a terminal's database written by the first schema version to the current one."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlite_utils.migrations import Migrations

from kiosk.store import Store, StoreError, migrate, open_database, schema_version

pytestmark = pytest.mark.unit

TERMINAL = "hall-01"


def write_v1_events(db_path: Path, count: int) -> list[tuple]:
    """Build a schema-v1 database and write rows the way v1 code did (raw SQL, no v2 columns)."""
    db = open_database(db_path)
    assert migrate(db, stop_before="m002_outbox_delivery") == ["m001_outbox"]
    assert schema_version(db) == ["m001_outbox"]
    assert "acked_at" not in db["outbox"].columns_dict
    rows = [
        (
            f"00000000-0000-4000-8000-{seq:012d}",
            TERMINAL,
            seq,
            "ticket.issued",
            f"2025-03-01T08:00:0{seq}.000Z",
            json.dumps({"ticket": f"A{seq:03d}"}),
            1,
        )
        for seq in range(1, count + 1)
    ]
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO outbox (id, terminal_id, seq, type, occurred_at, payload, schema) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("INSERT INTO counters (name, value) VALUES ('outbox_seq', ?)", [count])
    db.close()
    return rows


def test_v1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db_path = tmp_path / "terminal.db"
    v1_rows = write_v1_events(db_path, 3)

    with Store.open(db_path, TERMINAL) as store:
        db = store.db
        assert schema_version(db) == ["m001_outbox", "m002_outbox_delivery", "m003_store_meta"]
        assert db.execute("SELECT value FROM store_meta WHERE name = 'terminal_id'").fetchall() == [(TERMINAL,)]
        columns = db["outbox"].columns_dict
        assert {"acked_at", "attempts", "last_error"} <= set(columns)
        old = db.execute(
            "SELECT id, terminal_id, seq, type, occurred_at, payload, schema FROM outbox ORDER BY seq"
        ).fetchall()
        assert old == v1_rows
        defaults = db.execute("SELECT acked_at, attempts, last_error FROM outbox").fetchall()
        assert defaults == [(None, 0, None)] * 3
        # The old rows are pending and the counter carries on from them.
        assert [e.seq for e in store.pending_events(10)] == [1, 2, 3]
        assert store.pending_events(1)[0].payload == {"ticket": "A001"}
        with store.action() as act:
            assert act.emit("ticket.issued", {"ticket": "A004"}).seq == 4

    # Reopening with the current code applies nothing more.
    db = open_database(db_path)
    assert migrate(db) == []
    assert schema_version(db) == ["m001_outbox", "m002_outbox_delivery", "m003_store_meta"]
    db.close()
    with Store.open(db_path, TERMINAL) as store:
        assert store.last_seq() == 4


def test_domain_sets_are_applied_after_the_core_and_only_once(tmp_path: Path) -> None:
    hall = Migrations("test_hall")
    calls: list[str] = []

    @hall()
    def m001_hall_tickets(db) -> None:
        calls.append("m001_hall_tickets")
        assert db["outbox"].exists()  # the core set came first
        db.execute("CREATE TABLE hall_tickets (number TEXT PRIMARY KEY)")

    db_path = tmp_path / "terminal.db"
    for _ in range(2):
        Store.open(db_path, TERMINAL, extra_migrations=[hall]).close()
    assert calls == ["m001_hall_tickets"]
    db = open_database(db_path)
    assert schema_version(db, "test_hall") == ["m001_hall_tickets"]
    db.close()


def test_a_failing_migration_is_rolled_back_and_stays_pending(tmp_path: Path) -> None:
    broken = Migrations("test_broken")

    @broken()
    def m001_half_done(db) -> None:
        db.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("disk on fire")

    db_path = tmp_path / "terminal.db"
    with pytest.raises(StoreError, match="test_broken.*disk on fire"):
        Store.open(db_path, TERMINAL, extra_migrations=[broken])
    db = open_database(db_path)
    assert not db["half"].exists()
    assert schema_version(db) == ["m001_outbox", "m002_outbox_delivery", "m003_store_meta"]
    assert [m.name for m in broken.pending(db)] == ["m001_half_done"]
    db.close()


def test_stop_before_an_applied_migration_is_refused(tmp_path: Path) -> None:
    db = open_database(tmp_path / "terminal.db")
    migrate(db)
    with pytest.raises(StoreError, match="already"):
        migrate(db, stop_before="m002_outbox_delivery")
    db.close()


def test_an_unmigrated_database_cannot_be_wrapped(tmp_path: Path) -> None:
    db = open_database(tmp_path / "terminal.db")
    migrate(db, stop_before="m002_outbox_delivery")
    with pytest.raises(StoreError, match="not current"):
        Store(db, TERMINAL)
    db.close()


def test_processes_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    """The kiosk app and the sync process start at the same time on a fresh file."""
    db_path = tmp_path / "terminal.db"
    slow = Migrations("test_slow")

    @slow()
    def m001_slow(db) -> None:
        db.execute("CREATE TABLE slow (x INTEGER)")
        time.sleep(0.05)  # widen the window in which another opener could race

    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            start.wait(timeout=10)
            Store.open(db_path, TERMINAL, extra_migrations=[slow]).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    db = open_database(db_path)
    assert schema_version(db) == ["m001_outbox", "m002_outbox_delivery", "m003_store_meta", "m001_slow"]
    db.close()
