"""The real-name visit log: masked rows + event in one action, no raw ID number anywhere, purge after retention."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware_sim import personas
from kiosk.masking import mask_id, mask_name
from kiosk.priority import person_key
from kiosk.store import Store, StoreError
from kiosk.visit_log import (
    EVENT_LOGGED,
    EVENT_PURGED,
    VISIT_MIGRATIONS,
    PurgeReport,
    PurgeScheduler,
    Visit,
    VisitLog,
    write_visit,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

KEY = b"linfen-test-person-key-0123456789"
NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
SOURCES = ("idcard", "sscard", "qr_camera", "qr_scanner")


class Boom(Exception):
    """Raised in the middle of an action."""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hall" / "terminal.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path, "hall-01", extra_migrations=[VISIT_MIGRATIONS])
    yield s
    s.close()


@pytest.fixture
def visit_log(store: Store) -> VisitLog:
    return VisitLog(store, KEY, clock=lambda: NOW)


def visit_of(p: personas.Persona, source: str = "idcard", ticket: str | None = "A001",
             outcome: str = "ticket") -> Visit:
    return Visit(id_number=p.id_number, name=p.name, source=source, temperature_c=36.5,
                 code_colour=p.code_colour, outcome=outcome, ticket_number=ticket)


def events(store: Store, type_: str) -> list[dict]:
    return [e.payload for e in store.pending_events(1000) if e.type == type_]


# -- masking --------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "masked"), [("张三明", "张*明"), ("张三", "张*"), ("欧阳小明", "欧**明"),
                                              ("王", "*"), ("", "")])
def test_names_are_masked_like_the_id_driver_does(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_id_numbers_are_masked_to_first_three_and_last_four() -> None:
    assert mask_id("310107199606147247") == "310***********7247"


# -- writing --------------------------------------------------------------------------------

def test_a_visit_is_one_masked_row_and_one_event(visit_log: VisitLog, store: Store) -> None:
    p = personas.by_id("P003")
    visit_id = visit_log.record(visit_of(p, "qr_scanner", "B012"))
    (row,) = visit_log.rows()
    assert row["id"] == visit_id
    assert row["masked_name"] == mask_name(p.name) and row["masked_id"] == mask_id(p.id_number)
    assert row["person_key"] == person_key(p.id_number, KEY)
    assert (row["source"], row["temperature_c"], row["code_colour"], row["ticket_number"], row["outcome"]) == (
        "qr", 36.5, p.code_colour, "B012", "ticket")
    assert row["visited_at"] == "2026-12-01T09:30:00.000Z"
    (payload,) = events(store, EVENT_LOGGED)
    assert payload == {"visit_id": visit_id, "visited_at": row["visited_at"], "source": "qr", "outcome": "ticket",
                       "code_colour": p.code_colour, "temperature_c": 36.5, "ticket_number": "B012"}


def test_a_visit_written_inside_a_failing_action_leaves_nothing(visit_log: VisitLog, store: Store) -> None:
    with pytest.raises(Boom), store.action() as act:
        write_visit(act, visit_of(personas.by_id("P001")), KEY, NOW)
        raise Boom
    assert visit_log.rows() == [] and store.pending_events() == []


def test_refusals_are_logged_too_without_a_ticket(visit_log: VisitLog) -> None:
    visit_log.record(Visit(personas.by_id("P002").id_number, "曹雅琴", "sscard", 37.9, "green",
                           outcome="refused_fever"))
    (row,) = visit_log.rows()
    assert (row["outcome"], row["ticket_number"], row["temperature_c"]) == ("refused_fever", None, 37.9)


def test_visits_of_one_person_are_found_by_the_keyed_hash(visit_log: VisitLog) -> None:
    a, b = personas.by_id("P001"), personas.by_id("P002")
    for p, minutes in ((a, 0), (b, 5), (a, 60)):
        visit_log.record(visit_of(p), at=NOW + dt.timedelta(minutes=minutes))
    assert [r["visited_at"][11:16] for r in visit_log.visits_of(a.id_number.lower())] == ["09:30", "10:30"]


def test_the_table_refuses_an_unmasked_id_number(store: Store) -> None:
    p = personas.by_id("P001")
    with pytest.raises(sqlite3.IntegrityError), store.action() as act:
        act.db.execute(
            "INSERT INTO visits (visited_at, source, masked_name, masked_id, person_key, outcome) "
            "VALUES (?, 'idcard', ?, ?, ?, 'ticket')",
            ("2026-12-01T00:00:00.000Z", mask_name(p.name), p.id_number, person_key(p.id_number, KEY)),
        )


@pytest.mark.parametrize(("changes", "error"), [
    ({"source": "fax"}, ValueError),
    ({"code_colour": "blue"}, sqlite3.IntegrityError),
])
def test_bad_visits_are_refused(visit_log: VisitLog, changes: dict, error: type[Exception]) -> None:
    fields = {"id_number": "310107199606147247", "name": "陈秀英", "source": "idcard", "temperature_c": 36.4,
              "code_colour": "green"}
    fields.update(changes)
    with pytest.raises(error):
        visit_log.record(Visit(**fields))
    assert visit_log.rows() == []


def test_visit_times_must_be_timezone_aware(visit_log: VisitLog) -> None:
    with pytest.raises(ValueError):
        visit_log.record(visit_of(personas.by_id("P001")), at=dt.datetime(2026, 12, 1, 9, 30))


def test_a_store_without_the_visit_migrations_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "other.db", "hall-01") as plain, pytest.raises(StoreError, match="VISIT_MIGRATIONS"):
        VisitLog(plain, KEY)


def test_raw_id_numbers_are_never_in_the_database_files_nor_the_logs(db_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    people = personas.load()
    with Store.open(db_path, "hall-01", extra_migrations=[VISIT_MIGRATIONS]) as store:
        log = VisitLog(store, KEY, clock=lambda: NOW)
        for i, p in enumerate(people):
            log.record(visit_of(p, SOURCES[i % len(SOURCES)], f"A{i + 1:03d}"))
        files = [f for f in db_path.parent.iterdir() if f.name.startswith(db_path.name)]
        assert any(f.name.endswith("-wal") and f.stat().st_size > 0 for f in files)  # rows still in the WAL
        assert len(log.rows()) == len(people)
        _assert_no_id_numbers(files, caplog.text, people)
    files = [f for f in db_path.parent.iterdir() if f.name.startswith(db_path.name)]
    _assert_no_id_numbers(files, caplog.text, people)


def _assert_no_id_numbers(files: list[Path], log_text: str, people: tuple[personas.Persona, ...]) -> None:
    blobs = {f.name: f.read_bytes() for f in files}
    assert blobs
    for p in people:
        for encoding in ("ascii", "utf-16-le", "utf-16-be"):
            needle = p.id_number.encode(encoding)
            assert not [name for name, blob in blobs.items() if needle in blob], p.persona_id
        assert p.id_number not in log_text
        if len(p.name) >= 3:  # a 2-character name's masked form does not hide the full name's bytes
            assert not [name for name, blob in blobs.items() if p.name.encode("utf-8") in blob], p.persona_id


# -- purging --------------------------------------------------------------------------------

def test_purge_deletes_rows_older_than_the_retention_and_is_recorded(visit_log: VisitLog, store: Store) -> None:
    ages = {"P001": dt.timedelta(days=40), "P002": dt.timedelta(days=28, seconds=1),
            "P003": dt.timedelta(days=28), "P004": dt.timedelta(days=1), "P005": dt.timedelta(0)}
    for pid, age in ages.items():
        visit_log.record(visit_of(personas.by_id(pid)), at=NOW - age)
    assert visit_log.purge() == 2
    kept = {r["masked_id"] for r in visit_log.rows()}
    assert kept == {mask_id(personas.by_id(pid).id_number) for pid in ("P003", "P004", "P005")}
    assert visit_log.purge() == 0
    assert events(store, EVENT_PURGED) == [
        {"cutoff": "2026-11-03T09:30:00.000Z", "rows": 2, "retention_days": 28, "tickets": 0, "outbox_rows": 0,
         "outbox_cutoff": None},
        {"cutoff": "2026-11-03T09:30:00.000Z", "rows": 0, "retention_days": 28, "tickets": 0, "outbox_rows": 0,
         "outbox_cutoff": None},
    ]


def test_purged_rows_do_not_linger_in_the_database_files(store: Store, db_path: Path) -> None:
    log = VisitLog(store, KEY, retention_days=7, clock=lambda: NOW)
    old, new = personas.load()[:20], personas.load()[20:25]
    for p in old:
        log.record(visit_of(p), at=NOW - dt.timedelta(days=10))
    for p in new:
        log.record(visit_of(p), at=NOW)
    store.db.execute("PRAGMA secure_delete=OFF")  # Debian builds default to ON: show the purge turns it on
    assert log.purge() == len(old)
    assert store.db.execute("PRAGMA secure_delete").fetchone()[0] == 0  # and puts the setting back
    blobs = b"".join(f.read_bytes() for f in db_path.parent.iterdir() if f.name.startswith(db_path.name))
    for p in old:
        assert mask_id(p.id_number).encode() not in blobs, p.persona_id
        assert person_key(p.id_number, KEY).encode() not in blobs, p.persona_id
    assert all(person_key(p.id_number, KEY).encode() in blobs for p in new)


def test_the_retention_is_configurable_and_at_least_a_day(store: Store) -> None:
    assert VisitLog(store, KEY, retention_days=7, clock=lambda: NOW).cutoff() == "2026-11-24T09:30:00.000Z"
    with pytest.raises(ValueError):
        VisitLog(store, KEY, retention_days=0)


def test_the_scheduler_purges_at_start_and_then_every_interval(store: Store) -> None:
    clock_now = [NOW]
    log = VisitLog(store, KEY, clock=lambda: clock_now[0])
    log.record(visit_of(personas.by_id("P001")), at=NOW - dt.timedelta(days=30))
    counts: list[int] = []
    twice = threading.Event()

    def on_purge(report: PurgeReport) -> None:
        counts.append(report.visits)
        if len(counts) >= 2:
            twice.set()

    scheduler = PurgeScheduler(log, interval_s=0.01, on_purge=on_purge)
    scheduler.start()
    try:
        assert twice.wait(10), "the scheduler did not run twice"
    finally:
        scheduler.stop()
    assert counts[:2] == [1, 0]
    assert scheduler.runs == len(counts) and scheduler.failures == 0
    assert len(events(store, EVENT_PURGED)) == len(counts)


def test_a_failing_purge_is_counted_and_does_not_stop_the_scheduler(db_path: Path) -> None:
    store = Store.open(db_path, "hall-01", extra_migrations=[VISIT_MIGRATIONS])
    scheduler = PurgeScheduler(VisitLog(store, KEY, clock=lambda: NOW), interval_s=3600)
    store.close()
    assert scheduler.run_once() is None
    assert (scheduler.failures, scheduler.runs) == (1, 0)
