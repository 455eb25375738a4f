"""Ticket + real-name visit row + both events in one store transaction (DESIGN §6), and no names to the central.

``HallQueue.take_ticket(..., visit=, visits=)`` writes the ticket (or the reprint), its event, the
visit row and ``visit.logged`` in one action: a visit that cannot be written leaves no ticket, no
event and no used daily number.  Every event type the hall emits is checked for name fields.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware_sim import personas
from kiosk.hall import HALL_MIGRATIONS, HALL_TZ, HallError, HallQueue, QueueRefusal, ServiceCatalog
from kiosk.hall.alerts import AlertBoard
from kiosk.hall.staff import StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.masking import mask_name
from kiosk.priority import person_key
from kiosk.store import Store
from kiosk.visit_log import EVENT_LOGGED, VISIT_MIGRATIONS, PurgeScheduler, Visit, VisitLog

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

KEY = b"linfen-test-person-key-0123456789"
MONDAY_9 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=HALL_TZ)
SERVICES = [
    {"code": "A", "name_zh": "社会保障卡", "name_en": "Social security card", "hours": ["08:30-11:30"]},
    {"code": "B", "name_zh": "医疗保险", "name_en": "Medical insurance", "daily_cap": 2},
]


class Clock:
    """A hall clock moved by hand."""

    def __init__(self) -> None:
        self.now = MONDAY_9

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "hall" / "terminal.db", "hall-01",
                   extra_migrations=(HALL_MIGRATIONS, VISIT_MIGRATIONS, STAFF_ALERT_MIGRATIONS))
    yield s
    s.close()


@pytest.fixture
def queue(store: Store, clock: Clock) -> HallQueue:
    return HallQueue(store, ServiceCatalog.from_data(SERVICES), clock=clock)


@pytest.fixture
def visits(store: Store, clock: Clock) -> VisitLog:
    return VisitLog(store, KEY, clock=clock)


def visit_of(pid: str, colour: str | None = "green") -> Visit:
    p = personas.by_id(pid)
    return Visit(p.id_number, p.name, "idcard", 36.5, colour)


def take(queue: HallQueue, visits: VisitLog, pid: str, service: str = "A", colour: str | None = "green") -> Any:
    p = personas.by_id(pid)
    return queue.take_ticket(service, person_key(p.id_number, KEY), masked_name=mask_name(p.name),
                             visit=visit_of(pid, colour), visits=visits)


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return store.db.execute(sql).fetchall()


def outbox(store: Store) -> list[tuple[int, str, dict[str, Any]]]:
    return [(seq, t, json.loads(p)) for seq, t, p in rows(store, "SELECT seq, type, payload FROM outbox ORDER BY seq")]


def test_ticket_visit_row_and_both_events_are_one_action(queue: HallQueue, visits: VisitLog, store: Store) -> None:
    issued = take(queue, visits, "P001")
    [row] = visits.rows()
    assert (row["outcome"], row["ticket_number"]) == ("ticket", issued.ticket.number) == ("ticket", "A001")
    assert row["visited_at"] == issued.ticket.issued_at  # the queue's time, for both
    assert row["person_key"] == person_key(personas.by_id("P001").id_number, KEY)
    assert [(seq, t) for seq, t, _ in outbox(store)] == [(1, "ticket.issued"), (2, EVENT_LOGGED)]
    assert outbox(store)[1][2]["ticket_number"] == "A001"


def test_a_reprint_records_its_visit_row_in_the_same_action(queue: HallQueue, visits: VisitLog, store: Store) -> None:
    first = take(queue, visits, "P001")
    again = take(queue, visits, "P001")
    assert again.reprint and again.ticket.id == first.ticket.id
    assert [(r["outcome"], r["ticket_number"]) for r in visits.rows()] == [("ticket", "A001"), ("reprint", "A001")]
    assert [t for _, t, _ in outbox(store)] == ["ticket.issued", EVENT_LOGGED, "ticket.reprinted", EVENT_LOGGED]


def test_a_failing_visit_write_leaves_no_ticket_no_event_and_no_used_number(
        queue: HallQueue, visits: VisitLog, store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):  # the visits table refuses the colour: the insert raises
        take(queue, visits, "P001", colour="blue")
    assert rows(store, "SELECT COUNT(*) FROM hall_tickets") == [(0,)]
    assert rows(store, "SELECT COUNT(*) FROM hall_numbers") == [(0,)]
    assert rows(store, "SELECT COUNT(*) FROM visits") == [(0,)]
    assert outbox(store) == [] and store.last_seq() == 0
    issued = take(queue, visits, "P001")  # the number was not consumed, seq has no gap
    assert issued.ticket.number == "A001" and not issued.reprint
    assert [seq for seq, _, _ in outbox(store)] == [1, 2]


def test_a_failing_visit_write_on_a_reprint_leaves_nothing(queue: HallQueue, visits: VisitLog, store: Store) -> None:
    take(queue, visits, "P001")
    before = outbox(store)
    with pytest.raises(sqlite3.IntegrityError):
        take(queue, visits, "P001", colour="blue")
    assert outbox(store) == before and len(visits.rows()) == 1


def test_a_refusal_writes_no_visit_and_no_ticket(queue: HallQueue, visits: VisitLog, store: Store,
                                                 clock: Clock) -> None:
    clock.now = MONDAY_9.replace(hour=12)  # A is closed at noon
    with pytest.raises(QueueRefusal):
        take(queue, visits, "P001")
    take(queue, visits, "P001", "B")
    take(queue, visits, "P002", "B")
    with pytest.raises(QueueRefusal):  # B's cap of 2 is reached
        take(queue, visits, "P003", "B")
    assert [r["ticket_number"] for r in visits.rows()] == ["B001", "B002"]
    assert rows(store, "SELECT last FROM hall_numbers") == [(2,)]


def test_visit_and_visits_go_together_and_on_the_queues_store(queue: HallQueue, visits: VisitLog,
                                                               tmp_path: Path) -> None:
    pk = person_key(personas.by_id("P001").id_number, KEY)
    with pytest.raises(HallError, match="both"):
        queue.take_ticket("A", pk, visit=visit_of("P001"))
    other = Store.open(tmp_path / "other.db", "hall-01", extra_migrations=(VISIT_MIGRATIONS,))
    try:
        with pytest.raises(HallError, match="queue's store"):
            queue.take_ticket("A", pk, visit=visit_of("P001"), visits=VisitLog(other, KEY))
    finally:
        other.close()
    assert visits.rows() == []


def test_record_inside_a_callers_action_rolls_back_with_it(visits: VisitLog, store: Store) -> None:
    with pytest.raises(RuntimeError), store.action() as act:
        visits.record(visit_of("P001"), action=act)
        raise RuntimeError("the rest of the action failed")
    assert visits.rows() == [] and outbox(store) == []
    with store.action() as act:
        visits.record(visit_of("P001"), action=act)
        assert [e.type for e in act.events] == [EVENT_LOGGED]
    assert len(visits.rows()) == 1


NAME_KEYS = {"name", "masked_name", "resident", "full_name"}


def _name_keys(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [f"{path}.{k}" for k in value if k in NAME_KEYS]
        return found + [p for k, v in value.items() for p in _name_keys(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _name_keys(v, f"{path}[{i}]")]
    return []


def test_no_event_the_hall_emits_carries_a_name(queue: HallQueue, visits: VisitLog, store: Store,
                                                 clock: Clock) -> None:
    """Run every hall action that emits, then check every outbox payload for name keys and name values."""
    ids = ["P001", "P002", "P003", "P004"]
    for pid in ids:
        take(queue, visits, pid)
    take(queue, visits, "P001")  # reprint
    visits.record(Visit(personas.by_id("P005").id_number, personas.by_id("P005").name, "qr", 38.2, "green",
                        "refused_fever"))
    queue.login(1, "staff01", ["A", "B"])
    queue.login(2, "staff02", ["A", "B"])
    queue.call_next(1)
    queue.recall(1)
    queue.start(1)
    done = queue.finish(1)
    queue.rate(done.id, "very_satisfied")
    queue.call_next(1)
    queue.no_show(1)
    queue.call_next(2)
    queue.transfer(2, "B")
    queue.call_specific(1, "A002")
    queue.logout(2)
    board = AlertBoard(store, clock=clock)
    alert_id = board.raise_alert("fever", "hall-01", resident=mask_name(personas.by_id("P005").name),
                                 detail={"temperature_c": 38.2})
    board.acknowledge(alert_id, "staff01", 1)
    staff = StaffRegistry(store, KEY, clock=clock)
    staff.set("staff03", "王*芳", "04A1B2C3D4E5F6", "2468")
    staff.remove("staff03")
    clock.now += dt.timedelta(days=60)
    PurgeScheduler(visits, tickets=queue.purge_tickets, outbox_keep_days=7).run_once()

    events = outbox(store)
    types = {t for _, t, _ in events}
    assert {"ticket.issued", "ticket.reprinted", EVENT_LOGGED, "ticket.called", "ticket.recalled", "ticket.serving",
            "ticket.finished", "ticket.rated", "ticket.no_show", "ticket.transferred", "counter.login",
            "counter.logout", "alert.raised", "alert.acknowledged", "staff.set", "staff.removed",
            "visit_log.purged"} <= types
    offending = [(t, p) for _, t, payload in events for p in _name_keys(payload)]
    assert offending == []
    dump = json.dumps([p for _, _, p in events], ensure_ascii=False)
    for pid in [*ids, "P005"]:
        p = personas.by_id(pid)
        assert p.name not in dump and mask_name(p.name) not in dump and p.id_number not in dump
        assert person_key(p.id_number, KEY) not in dump
