"""Central storage on SQLite and PostgreSQL: migrations, exactly-once events, seq gaps, enrolment.

Every test taking ``central_db_url`` runs once per backend.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid

import pytest
from sqlalchemy import inspect

from sync.central.db import database_url, open_engine
from sync.central.errors import ApiError, CentralError
from sync.central.events import merge_seqs
from sync.central.migrations import current_versions, migrate
from sync.central.modules import MIGRATION_SETS, MODULES
from sync.central.storage import CentralStore
from sync.protocol import EventEnvelope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def env(terminal_id: str, seq: int, payload: dict | None = None, event_id: uuid.UUID | None = None) -> EventEnvelope:
    return EventEnvelope(id=event_id or uuid.uuid4(), terminal_id=terminal_id, seq=seq, type="ticket.issued",
                         occurred_at=T0, payload=payload if payload is not None else {"n": seq})


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    s.enrol("hall", "site-a", "hall-01")
    yield s
    s.close()


# -- migrations ---------------------------------------------------------------------------------
LATEST = {s.module: s.latest for s in MIGRATION_SETS}


def test_migrations_build_the_schema_the_code_queries_and_run_once(central_db_url):
    engine = open_engine(central_db_url)
    try:
        assert current_versions(engine, MIGRATION_SETS) == dict.fromkeys(LATEST, 0)
        assert migrate(engine, MIGRATION_SETS) == {m: list(range(1, v + 1)) for m, v in LATEST.items()}
        assert migrate(engine, MIGRATION_SETS) == dict.fromkeys(LATEST, [])
        assert current_versions(engine, MIGRATION_SETS) == LATEST
        found = inspect(engine)
        tables = [t for m in MODULES for t in (*m.metadata.sorted_tables, m.migrations.table)]
        assert {t.name for t in tables} == set(found.get_table_names())
        for table in tables:
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
            primary = set(found.get_pk_constraint(table.name)["constrained_columns"])
            assert primary == {c.name for c in table.primary_key.columns}, table.name
        uniques = {tuple(u["column_names"]) for u in found.get_unique_constraints("events")}
        assert ("terminal_id", "seq") in uniques
        index = {i["name"]: i for i in found.get_indexes("reference")}["ix_reference_site_cursor"]
        assert index["column_names"] == ["site", "cursor"] and index["unique"]
    finally:
        engine.dispose()


def test_two_stores_opening_one_fresh_database_at_once_migrate_it_once(central_db_url):
    errors: list[BaseException] = []
    stores: list[CentralStore] = []

    def open_one() -> None:
        try:
            stores.append(CentralStore.open(central_db_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert stores[0].ping() == LATEST
    for s in stores:
        s.close()


def test_database_url_takes_paths_and_postgres_urls(tmp_path):
    assert database_url(tmp_path / "c.db") == f"sqlite:///{tmp_path / 'c.db'}"
    assert database_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(CentralError, match="only SQLite files and postgresql"):
        open_engine("mysql://u@h/d")
    with pytest.raises(CentralError, match="in-memory"):
        open_engine("sqlite://")


# -- events -------------------------------------------------------------------------------------
def test_events_are_stored_once_and_a_repeat_gets_the_original_ack(store):
    batch = [env("hall-01", s) for s in (1, 2, 3)]
    first = store.push("hall-01", batch).response
    assert [a.status for a in first.acks] == ["stored"] * 3
    again = store.push("hall-01", batch)
    assert [a.status for a in again.response.acks] == ["duplicate"] * 3
    assert [a.stored_at for a in again.response.acks] == [a.stored_at for a in first.acks]
    assert (again.stored, again.duplicates, again.conflicts) == (0, 3, 0)
    assert store.event_count("hall-01") == 3
    assert again.response.highest_seq == 3 and again.response.gaps == []


def test_a_batch_holding_the_same_event_twice_stores_it_once(store):
    one = env("hall-01", 1)
    outcome = store.push("hall-01", [one, one, env("hall-01", 2)])
    assert [a.status for a in outcome.response.acks] == ["stored", "duplicate", "stored"]
    assert store.event_count() == 2


def test_same_id_with_another_body_is_a_conflict_logged_and_not_stored(store, caplog):
    original = env("hall-01", 1, {"amount_fen": 500})
    stored_at = store.push("hall-01", [original]).response.acks[0].stored_at
    forged = original.model_copy(update={"payload": {"amount_fen": 50000}})
    with caplog.at_level(logging.WARNING, logger="linfen.central.events"):
        outcome = store.push("hall-01", [forged])
    ack = outcome.response.acks[0]
    assert (ack.status, ack.stored_at, outcome.conflicts) == ("conflict", None, 1)
    logged = [r for r in caplog.records if getattr(r, "event", None) == "push_conflict"]
    assert len(logged) == 1 and logged[0].event_id == str(original.id) and logged[0].why == "different_body"
    again = store.push("hall-01", [original]).response.acks[0]
    assert (again.status, again.stored_at) == ("duplicate", stored_at)
    assert store.event_count() == 1


def test_a_new_event_reusing_a_stored_seq_is_a_conflict(store):
    store.push("hall-01", [env("hall-01", 1)])
    outcome = store.push("hall-01", [env("hall-01", 1)])
    assert outcome.response.acks[0].status == "conflict"
    assert store.stored_seqs("hall-01") == [1]


def test_an_event_id_of_another_terminal_is_a_conflict(store):
    store.enrol("hall", "site-a", "hall-02")
    shared = uuid.uuid4()
    store.push("hall-01", [env("hall-01", 1, event_id=shared)])
    outcome = store.push("hall-02", [env("hall-02", 1, event_id=shared)])
    assert outcome.response.acks[0].status == "conflict"
    assert store.event_count("hall-02") == 0


def test_seq_gaps_are_reported_then_filled(store):
    r = store.push("hall-01", [env("hall-01", s) for s in (1, 2, 5, 9)]).response
    assert r.highest_seq == 9
    assert [(g.first, g.last) for g in r.gaps] == [(3, 4), (6, 8)]
    r = store.push("hall-01", [env("hall-01", s) for s in (3, 7)]).response
    assert [(g.first, g.last) for g in r.gaps] == [(4, 4), (6, 6), (8, 8)]
    r = store.push("hall-01", [env("hall-01", s) for s in (4, 6, 8)]).response
    assert (r.highest_seq, r.gaps) == (9, [])
    assert store.stored_seqs("hall-01") == list(range(1, 10))


def test_gaps_stay_reported_in_every_answer_even_an_empty_push(store):
    store.push("hall-01", [env("hall-01", 3)])
    r = store.push("hall-01", []).response
    assert (r.highest_seq, [(g.first, g.last) for g in r.gaps]) == (3, [(1, 2)])
    assert store.terminal_states()[0].missing == 2


@pytest.mark.unit
@pytest.mark.parametrize(("highest", "gaps", "stored", "want"), [
    (0, [], [1, 2, 3], (3, [])),
    (0, [], [2, 5], (5, [(1, 1), (3, 4)])),
    (5, [(1, 1), (3, 4)], [3], (5, [(1, 1), (4, 4)])),
    (5, [(1, 4)], [2, 3], (5, [(1, 1), (4, 4)])),
    (5, [(1, 4)], [1, 2, 3, 4, 6], (6, [])),
    (3, [], [10**15], (10**15, [(4, 10**15 - 1)])),
    (10**15, [(4, 10**15 - 1)], [5], (10**15, [(4, 4), (6, 10**15 - 1)])),
])
def test_merge_seqs(highest, gaps, stored, want):
    assert merge_seqs(highest, gaps, stored) == want


def test_concurrent_pushes_of_overlapping_batches_store_each_event_once(store):
    batch = [env("hall-01", s) for s in range(1, 201)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def push(part: list[EventEnvelope]) -> None:
        try:
            results.append([a.status for a in store.push("hall-01", part).response.acks])
        except BaseException as exc:  # reported below
            errors.append(exc)

    parts = [batch[0:120], batch[80:200], batch[40:160], batch]
    threads = [threading.Thread(target=push, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    statuses = [s for r in results for s in r]
    assert statuses.count("stored") == 200 and "conflict" not in statuses
    assert store.stored_seqs("hall-01") == list(range(1, 201))
    assert store.push("hall-01", []).response.gaps == []


# -- terminals ----------------------------------------------------------------------------------
def test_enrol_gives_a_token_that_authenticates_and_only_its_hash_is_kept(store):
    creds = store.enrol("canteen", "site-b", "canteen-01")
    terminal = store.authenticate(creds.token)
    assert (terminal.terminal_id, terminal.role, terminal.site) == ("canteen-01", "canteen", "site-b")
    assert creds.token not in terminal.token_hash and len(terminal.token_hash) == 64
    with pytest.raises(ApiError) as bad:
        store.authenticate(creds.token[:-1] + ("A" if creds.token[-1] != "A" else "B"))
    assert (bad.value.status, bad.value.reason) == (401, "bad_token")


def test_enrol_refuses_a_taken_id_and_a_bad_site(store):
    with pytest.raises(CentralError, match="already enrolled"):
        store.enrol("hall", "site-a", "hall-01")
    with pytest.raises(CentralError, match="printable"):
        store.enrol("hall", "bad\x00site", "hall-09")
    generated = store.enrol("display", "site-a")
    assert generated.terminal_id.startswith("display-")


def test_revoked_terminal_is_refused_with_the_reason(store):
    token = store.enrol("hall", "site-a", "hall-05").token
    when = store.revoke("hall-05", "stolen")
    assert store.revoke("hall-05") == when
    with pytest.raises(ApiError) as refused:
        store.authenticate(token)
    assert (refused.value.status, refused.value.reason) == (403, "revoked")
    assert "stolen" in refused.value.detail
    with pytest.raises(CentralError, match="no terminal"):
        store.revoke("nobody")


def test_heartbeat_is_kept_and_shows_in_terminal_states(store):
    from sync.protocol import HeartbeatRequest

    store.heartbeat(HeartbeatRequest(terminal_id="hall-01", at=T0, outbox_pending=7))
    store.heartbeat(HeartbeatRequest(terminal_id="hall-01", at=T0, outbox_pending=3, devices={
        "printer": {"up": False, "reason": "paper out"}}))
    state = store.terminal_states()[0]
    assert (state.terminal_id, state.outbox_pending) == ("hall-01", 3)
    assert state.last_heartbeat is not None
