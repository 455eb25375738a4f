"""The local store: SQLite settings, atomic business action + outbox event, gap-free seq, sync bookkeeping."""

from __future__ import annotations

import dataclasses
import math
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlite_utils.migrations import Migrations

from kiosk.store import Event, Store, StoreError, open_database, schema_version

pytestmark = pytest.mark.unit

TERMINAL = "hall-01"
ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|\+00:00)$")

payments_migrations = Migrations("test_payments")


@payments_migrations()
def m001_payments(db) -> None:
    db.execute("CREATE TABLE payments (id INTEGER PRIMARY KEY, amount_fen INTEGER NOT NULL, note TEXT)")


class Boom(Exception):
    """Raised by a test in the middle of an action."""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "terminal.db"


@pytest.fixture
def store(db_path: Path):
    s = Store.open(db_path, TERMINAL, extra_migrations=[payments_migrations])
    yield s
    s.close()


def record_payment(store: Store, payment_id: int, amount_fen: int = 500) -> Event:
    with store.action() as act:
        act.db["payments"].insert({"id": payment_id, "amount_fen": amount_fen, "note": "card"})
        return act.emit("payment.recorded", {"payment_id": payment_id, "amount_fen": amount_fen})


def outside_view(db_path: Path) -> sqlite3.Connection:
    """A connection of 'another process': sees only committed data."""
    return sqlite3.connect(db_path, timeout=5)


def test_open_creates_folders_and_sets_wal_full_foreign_keys(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with Store.open(db_path, TERMINAL) as s:
        pragma = {
            name: s.db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 30000}
    assert db_path.exists()


def test_memory_database_is_refused() -> None:
    with pytest.raises(StoreError, match="file path"):
        open_database(":memory:")


def test_action_commits_business_row_and_event_together(store: Store, db_path: Path) -> None:
    other = outside_view(db_path)
    with store.action() as act:
        act.db["payments"].insert({"id": 1, "amount_fen": 1200, "note": "canteen"})
        event = act.emit("payment.recorded", {"payment_id": 1, "amount_fen": 1200})
        # Not visible outside the transaction before the commit.
        assert other.execute("SELECT count(*) FROM payments").fetchone()[0] == 0
        assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        assert act.events == [event]
    assert other.execute("SELECT id, amount_fen FROM payments").fetchall() == [(1, 1200)]
    row = other.execute("SELECT id, terminal_id, seq, type, payload, schema FROM outbox").fetchone()
    assert row == (event.id, TERMINAL, 1, "payment.recorded", '{"amount_fen":1200,"payment_id":1}', 1)
    other.close()


def test_event_envelope(store: Store) -> None:
    event = record_payment(store, 1)
    assert uuid.UUID(event.id).version == 4
    assert ISO_MS_UTC.match(event.occurred_at), event.occurred_at
    assert event.to_dict() == {
        "id": event.id,
        "terminal_id": TERMINAL,
        "seq": 1,
        "type": "payment.recorded",
        "occurred_at": event.occurred_at,
        "payload": {"payment_id": 1, "amount_fen": 500},
        "schema": 1,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.type = "payment.changed"  # type: ignore[misc]
    event.to_dict()["payload"]["amount_fen"] = 1
    assert event.payload["amount_fen"] == 500


def test_exception_in_action_rolls_back_both_and_leaves_no_seq_gap(store: Store, db_path: Path) -> None:
    record_payment(store, 1)
    with pytest.raises(Boom):
        with store.action() as act:
            act.db["payments"].insert({"id": 2, "amount_fen": 700})
            act.emit("payment.recorded", {"payment_id": 2})
            act.emit("receipt.printed", {"payment_id": 2})
            raise Boom
    assert store.last_seq() == 1
    third = record_payment(store, 3)
    assert third.seq == 2
    other = outside_view(db_path)
    assert [r[0] for r in other.execute("SELECT id FROM payments ORDER BY id")] == [1, 3]
    assert [r[0] for r in other.execute("SELECT seq FROM outbox ORDER BY seq")] == [1, 2]
    other.close()


def test_business_constraint_error_rolls_back_the_action(store: Store) -> None:
    record_payment(store, 1)
    with pytest.raises(sqlite3.IntegrityError):
        with store.action() as act:
            act.emit("payment.recorded", {"payment_id": 1})
            act.db.execute("INSERT INTO payments (id, amount_fen) VALUES (1, 5)")  # duplicate id
    assert store.last_seq() == 1
    assert store.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1


def test_seq_continues_after_reopen(db_path: Path) -> None:
    with Store.open(db_path, TERMINAL, extra_migrations=[payments_migrations]) as s:
        for i in range(1, 4):
            record_payment(s, i)
    with Store.open(db_path, TERMINAL, extra_migrations=[payments_migrations]) as s:
        assert s.last_seq() == 3
        assert record_payment(s, 4).seq == 4
        assert [e.seq for e in s.pending_events(10)] == [1, 2, 3, 4]


def test_pending_events_and_mark_acked(store: Store) -> None:
    events = [record_payment(store, i) for i in range(1, 6)]
    assert store.pending_events(3) == events[:3]
    assert store.mark_acked([events[0].id, events[1].id]) == 2
    assert [e.seq for e in store.pending_events(10)] == [3, 4, 5]
    assert store.mark_acked([events[0].id, "no-such-event"]) == 0  # repeated ack is harmless
    assert store.mark_acked([]) == 0
    acked_at = store.db.execute("SELECT acked_at FROM outbox WHERE seq = 1").fetchone()[0]
    assert ISO_MS_UTC.match(acked_at)
    assert store.mark_acked(e.id for e in events[2:]) == 3
    assert store.pending_events(10) == []
    assert store.last_seq() == 5
    with pytest.raises(StoreError):
        store.pending_events(0)


def test_mark_failed_counts_attempts_of_pending_rows(store: Store) -> None:
    first, second = record_payment(store, 1), record_payment(store, 2)
    store.mark_acked([first.id])
    assert store.mark_failed([first.id, second.id], "HTTP 503") == 1
    store.mark_failed([second.id], "timeout")
    rows = store.db.execute("SELECT seq, attempts, last_error FROM outbox ORDER BY seq").fetchall()
    assert rows == [(1, 0, None), (2, 2, "timeout")]


def test_pending_query_uses_the_pending_index(store: Store) -> None:
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT 10"
    ).fetchall()
    assert "outbox_pending" in " ".join(str(step) for step in plan)


@pytest.mark.parametrize(
    "payload",
    [{"when": object()}, {"amount": math.nan}, {"nested": {"set": {1, 2}}}, ["not", "a", "dict"], None],
    ids=["object", "nan", "set", "list", "none"],
)
def test_non_json_payload_is_refused_and_the_action_rolled_back(store: Store, payload) -> None:
    record_payment(store, 1)
    with pytest.raises(StoreError, match="payload"):
        with store.action() as act:
            act.db["payments"].insert({"id": 2, "amount_fen": 1})
            act.emit("payment.recorded", payload)
    assert store.db.execute("SELECT count(*) FROM payments").fetchone()[0] == 1
    assert store.last_seq() == 1
    assert record_payment(store, 3).seq == 2


def test_refused_emit_rolls_back_even_if_the_caller_swallows_the_error(store: Store) -> None:
    with pytest.raises(StoreError, match="rolled back"):
        with store.action() as act:
            act.db["payments"].insert({"id": 1, "amount_fen": 1})
            act.emit("payment.recorded", {"payment_id": 1})
            with pytest.raises(StoreError):
                act.emit("payment.recorded", {"bad": object()})
    assert store.db.execute("SELECT count(*) FROM payments").fetchone()[0] == 0
    assert store.last_seq() == 0


@pytest.mark.parametrize(
    "kwargs", [{"type": ""}, {"type": " x "}, {"type": 3}, {"schema": 0}, {"schema": True}]
)
def test_bad_type_or_schema_is_refused(store: Store, kwargs) -> None:
    args = {"type": "payment.recorded", "payload": {}, "schema": 1} | kwargs
    with pytest.raises(StoreError):
        with store.action() as act:
            act.emit(**args)
    assert store.last_seq() == 0


def test_events_are_immutable_in_the_database(store: Store) -> None:
    record_payment(store, 1)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        store.db.execute("UPDATE outbox SET payload = '{}' WHERE seq = 1")
    assert not any(name.startswith(("update", "edit", "set_")) for name in dir(store))


def test_actions_do_not_nest_and_end_with_the_block(store: Store) -> None:
    with store.action() as act:
        with pytest.raises(StoreError, match="nested"):
            with store.action():
                pass
        act.emit("x.happened", {})
    with pytest.raises(StoreError, match="ended"):
        act.emit("x.happened", {})
    assert store.last_seq() == 1


def test_a_database_belongs_to_one_terminal(db_path: Path) -> None:
    with Store.open(db_path, TERMINAL) as s, s.action() as act:
        act.emit("x.happened", {})
    with pytest.raises(StoreError, match="hall-01"):
        Store.open(db_path, "counter-02")


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.last_seq()


def test_schema_version_lists_core_then_domain_migrations(store: Store) -> None:
    assert schema_version(store.db) == ["m001_outbox", "m002_outbox_delivery", "m003_store_meta", "m001_payments"]
    assert schema_version(store.db, "linfen_core") == ["m001_outbox", "m002_outbox_delivery", "m003_store_meta"]


def run_writers(stores: list[Store], per_thread: int) -> list[list[Event]]:
    """Each store (one per thread) records ``per_thread`` payments; the events each thread got."""
    errors: list[BaseException] = []
    emitted: list[list[Event]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def work(worker: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(per_thread):
                emitted[worker].append(record_payment(stores[worker], worker * per_thread + i + 1))
                time.sleep(0.001)  # the terminal does other work between actions; lets the others in
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "writer threads hung"
    assert errors == []
    return emitted


def assert_gap_free(store: Store, total: int, emitted: list[list[Event]]) -> None:
    rows = store.db.execute("SELECT seq, id FROM outbox ORDER BY seq").fetchall()
    assert [seq for seq, _ in rows] == list(range(1, total + 1))
    assert len({event_id for _, event_id in rows}) == total
    assert sorted(e.seq for events in emitted for e in events) == list(range(1, total + 1))
    for events in emitted:  # each writer got its own events in increasing seq order
        assert [e.seq for e in events] == sorted(e.seq for e in events)
    # The writers really interleaved (neither got one contiguous block of seq).
    assert all(events[-1].seq - events[0].seq + 1 > len(events) for events in emitted)
    assert store.db.execute("SELECT count(*) FROM payments").fetchone()[0] == total


def test_two_threads_on_two_stores_get_seq_1_to_400_without_duplicates(db_path: Path) -> None:
    stores = [Store.open(db_path, TERMINAL, extra_migrations=[payments_migrations]) for _ in range(2)]
    try:
        emitted = run_writers(stores, per_thread=200)
        assert_gap_free(stores[1], 400, emitted)
    finally:
        for s in stores:
            s.close()


def test_two_threads_sharing_one_store(store: Store) -> None:
    emitted = run_writers([store, store], per_thread=100)
    assert_gap_free(store, 200, emitted)
