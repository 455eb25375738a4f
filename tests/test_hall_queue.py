"""The hall queue over the real store: numbering, caps, hours, reprint, states, transfer, ratings, races."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hall import (
    DEFAULT_SERVICES,
    HALL_MIGRATIONS,
    HALL_TZ,
    CallingRule,
    HallConfigError,
    HallError,
    HallQueue,
    NotFound,
    QueueChange,
    QueueRefusal,
    ServiceCatalog,
    TicketStateError,
    Waiting,
    parse_level,
    pick_next,
)
from kiosk.store import Store

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=HALL_TZ)
SERVICES = [
    {"code": "A", "name_zh": "社会保障卡", "name_en": "Social security card", "daily_cap": 999,
     "hours": ["08:30-11:30", "13:00-16:30"], "avg_handle_min": 6},
    {"code": "B", "name_zh": "医疗保险", "name_en": "Medical insurance", "daily_cap": 3, "avg_handle_min": 10},
    {"code": "C", "name_zh": "民政救助", "name_en": "Civil affairs", "days": [1, 2, 3, 4, 5]},
]


class Clock:
    """A hall clock the test moves by hand."""

    def __init__(self, start: datetime = MONDAY_9) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


def key(i: int) -> str:
    """An opaque person key as the check-in would make it (a keyed hash)."""
    return f"pk-{i:04d}-0123456789abcdef"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hall" / "terminal.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_queue(db_path: Path, clock: Clock, rule: CallingRule | None = None) -> HallQueue:
    store = Store.open(db_path, "hall-01", extra_migrations=(HALL_MIGRATIONS,))
    return HallQueue(store, ServiceCatalog.from_data(SERVICES), rule, clock)


@pytest.fixture
def queue(db_path: Path, clock: Clock) -> Iterator[HallQueue]:
    q = make_queue(db_path, clock)
    yield q
    q.store.close()


def events(queue: HallQueue, type_: str | None = None) -> list[dict]:
    rows = queue.store.db.execute("SELECT type, payload FROM outbox ORDER BY seq").fetchall()
    return [{"type": t, **json.loads(p)} for t, p in rows if type_ is None or t == type_]


# -- services ---------------------------------------------------------------------------------------------
def test_default_services_load_and_issuing_hours_follow_hall_time():
    catalog = ServiceCatalog.from_data(DEFAULT_SERVICES)
    a = catalog.get("A")
    assert catalog.codes == ("A", "B", "C", "D")
    assert a.is_issuing(MONDAY_9)
    assert not a.is_issuing(MONDAY_9.replace(hour=12))  # lunch break
    assert not a.is_issuing(MONDAY_9 + timedelta(days=6))  # Sunday
    assert a.is_issuing(MONDAY_9.astimezone(UTC))  # the same instant given in UTC (01:00Z)
    assert not a.is_issuing(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # 17:00 in the hall


def test_services_from_a_toml_like_table_and_an_all_day_window():
    catalog = ServiceCatalog.from_data({"Z": {"name_zh": "测试", "name_en": "Test", "hours": ["00:00-24:00"]}})
    assert catalog.get("Z").is_issuing(MONDAY_9.replace(hour=23, minute=59))


@pytest.mark.parametrize("data, words", [
    ([{"code": "a", "name_zh": "x", "name_en": "x"}], "services.a.code"),
    ([{"code": "A", "name_zh": "x", "name_en": "x", "hours": ["11:30-08:30"]}], "ends before it starts"),
    ([{"code": "A", "name_zh": "x", "name_en": "x", "hours": ["8:30-11:30"]}], "HH:MM-HH:MM"),
    ([{"code": "A", "name_zh": "x", "name_en": "x", "daily_cap": 1000}], "daily_cap"),
    ([{"code": "A", "name_zh": "x", "name_en": "x", "days": [0]}], "ISO weekdays"),
    ([{"code": "A", "name_zh": "x", "name_en": "x", "colour": "red"}], "colour"),
    ([{"code": "A", "name_zh": "x", "name_en": "x"}, {"code": "A", "name_zh": "y", "name_en": "y"}], "twice"),
    ([], "at least one"),
])
def test_bad_service_data_is_refused_in_one_line(data, words):
    with pytest.raises(HallConfigError, match=words) as info:
        ServiceCatalog.from_data(data)
    assert "\n" not in str(info.value)


# -- taking a ticket --------------------------------------------------------------------------------------
def test_numbers_per_service_prefix_and_reset_each_day(queue: HallQueue, clock: Clock):
    numbers = [queue.take_ticket(s, key(i)).ticket.number for i, s in enumerate("AABAC")]
    assert numbers == ["A001", "A002", "B001", "A003", "C001"]
    clock.advance(24 * 60)  # Tuesday
    assert queue.take_ticket("A", key(99)).ticket.number == "A001"
    assert queue.take_ticket("A", key(0)).ticket.number == "A002"  # yesterday's open ticket does not count


def test_issue_commits_the_ticket_with_its_event_and_no_personal_data(queue: HallQueue):
    issued = queue.take_ticket("A", key(1), priority_reasons=("age80", "veteran"), masked_name="张*明")
    assert not issued.reprint and issued.ticket.priority
    assert issued.ticket.priority_reasons == ("veteran", "age80")
    [event] = events(queue, "ticket.issued")
    assert event["number"] == "A001" and event["priority"] is True
    assert event["people_ahead"] == 0 and event["wait_min"] == 0
    assert issued.ticket.masked_name == "张*明"  # on the ticket and the screen, never to the central
    dump = json.dumps(events(queue), ensure_ascii=False)
    assert key(1) not in dump and "person_key" not in dump
    assert "masked_name" not in dump and "张*明" not in dump


def test_same_person_same_service_gets_a_reprint_not_a_second_ticket(queue: HallQueue):
    first = queue.take_ticket("A", key(1), masked_name="张*明")
    again = queue.take_ticket("A", key(1), masked_name="张*明")
    other = queue.take_ticket("B", key(1), masked_name="张*明")
    assert again.reprint and again.ticket.id == first.ticket.id and again.ticket.number == "A001"
    assert not other.reprint and other.ticket.number == "B001"
    assert [e["number"] for e in events(queue, "ticket.reprinted")] == ["A001"]
    assert queue.open_ticket("A", key(1)).number == "A001"
    assert queue.open_ticket("A", key(2)) is None


def test_reprint_is_offered_even_after_hours_or_cap(queue: HallQueue, clock: Clock):
    for i in range(3):
        queue.take_ticket("B", key(i))
    queue.take_ticket("A", key(5))
    assert queue.take_ticket("B", key(0)).reprint  # cap reached
    clock.now = MONDAY_9.replace(hour=12)
    assert queue.take_ticket("A", key(5)).reprint  # lunch break
    with pytest.raises(QueueRefusal):
        queue.take_ticket("A", key(6))


def test_daily_cap_refuses_clearly_without_consuming_a_number(queue: HallQueue, clock: Clock):
    for i in range(3):
        queue.take_ticket("B", key(i))
    before = queue.store.last_seq()
    with pytest.raises(QueueRefusal) as info:
        queue.take_ticket("B", key(9))
    assert info.value.reason == "cap_reached" and "3" in info.value.words_zh and "B" not in info.value.words_zh
    assert queue.store.last_seq() == before  # no event, nothing written
    clock.advance(24 * 60)
    assert queue.take_ticket("B", key(9)).ticket.number == "B001"


@pytest.mark.parametrize("when, service", [
    (MONDAY_9.replace(hour=8, minute=29), "A"),
    (MONDAY_9.replace(hour=11, minute=30), "A"),
    (MONDAY_9.replace(hour=16, minute=30), "A"),
    (MONDAY_9 + timedelta(days=5), "C"),  # Saturday
])
def test_outside_issuing_hours_is_refused_with_the_hours(queue: HallQueue, clock: Clock, when, service):
    clock.now = when
    with pytest.raises(QueueRefusal) as info:
        queue.take_ticket(service, key(1))
    assert info.value.reason == "closed"
    assert info.value.words_zh.startswith(queue.services.get(service).name_zh)
    assert ("周一 周二 周三 周四 周五" in info.value.words_zh) == (service == "C")
    assert "08:30-11:30, 13:00-16:30" in str(info.value) or service == "C"


def test_unknown_service_and_bad_inputs_are_refused(queue: HallQueue):
    with pytest.raises(QueueRefusal, match="no service 'Q'"):
        queue.take_ticket("Q", key(1))
    with pytest.raises(HallError) as raw_id:
        queue.take_ticket("A", "31010519491231002X")
    assert raw_id.value.reason == "bad_person_key"
    with pytest.raises(HallError, match="masked"):
        queue.take_ticket("A", key(1), masked_name="张三明")
    with pytest.raises(HallError, match="unknown priority reason 'vip'"):
        queue.take_ticket("A", key(1), priority_reasons=("vip",))
    assert queue.store.last_seq() == 0


def test_people_ahead_and_wait_estimate(queue: HallQueue):
    for i in range(3):
        queue.take_ticket("A", key(i))
    queue.take_ticket("A", key(10), priority_reasons=("disabled",))
    normal = queue.take_ticket("A", key(20))
    assert (normal.people_ahead, normal.wait_min) == (4, 24)  # 6 min each, nobody logged in: one counter
    queue.login(1, "s001", ["A"])
    queue.login(2, "s002", ["A", "B"])
    priority = queue.take_ticket("A", key(30), priority_reasons=("veteran",))
    assert (priority.people_ahead, priority.wait_min) == (1, 3)  # strict: only the older priority ticket
    again = queue.take_ticket("A", key(20))
    assert again.reprint and again.people_ahead == 4  # later priority tickets still jump ahead: 5, est.


# -- counters ---------------------------------------------------------------------------------------------
def test_counter_flow_called_serving_finished_with_events(queue: HallQueue, clock: Clock):
    issued = queue.take_ticket("A", key(1), masked_name="李*")
    queue.login(3, "s003", ["A"])
    clock.advance(7)
    call = queue.call_next(3)
    assert call is not None and (call.number, call.window, call.kind, call.reason) == ("A001", 3, "next", "strict")
    assert queue.current(3).state == "called"
    clock.advance(1)
    assert queue.start(3).state == "serving"
    clock.advance(5)
    done = queue.finish(3)
    assert done.state == "finished" and done.id == issued.ticket.id and queue.current(3) is None
    types = [e["type"] for e in events(queue)]
    assert types == ["ticket.issued", "counter.login", "ticket.called", "ticket.serving", "ticket.finished"]
    finished = events(queue, "ticket.finished")[0]
    assert (finished["wait_s"], finished["handle_s"], finished["staff_id"]) == (420.0, 300.0, "s003")
    assert events(queue, "ticket.called")[0]["wait_s"] == 420.0


def test_next_with_nobody_waiting_and_next_while_busy(queue: HallQueue):
    queue.login(1, "s001", ["A"])
    assert queue.call_next(1) is None
    queue.take_ticket("A", key(1))
    queue.take_ticket("A", key(2))
    queue.call_next(1)
    with pytest.raises(TicketStateError) as info:
        queue.call_next(1)
    assert info.value.reason == "window_busy" and "A001" in info.value.words_zh
    with pytest.raises(NotFound):
        queue.call_next(7)  # nobody logged in there


def test_counter_only_calls_its_own_services(queue: HallQueue):
    queue.take_ticket("B", key(1))
    queue.login(1, "s001", ["A"])
    assert queue.call_next(1) is None
    with pytest.raises(TicketStateError) as info:
        queue.call_specific(1, "B001")
    assert info.value.reason == "not_your_service"


def test_recall_no_show_and_call_a_specific_number_back(queue: HallQueue):
    queue.take_ticket("A", key(1))
    queue.take_ticket("A", key(2))
    queue.login(1, "s001", ["A"])
    queue.call_next(1)
    recall = queue.recall(1)
    assert recall.kind == "recall" and queue.current(1).calls == 2
    assert queue.no_show(1).state == "no_show"
    assert queue.call_next(1).number == "A002"
    queue.finish(1)
    back = queue.call_specific(1, "a001")
    assert back.number == "A001" and back.kind == "specific" and queue.current(1).calls == 3
    queue.start(1)
    with pytest.raises(TicketStateError):
        queue.recall(1)  # the resident is already at the window
    with pytest.raises(TicketStateError):
        queue.no_show(1)
    queue.finish(1)
    with pytest.raises(TicketStateError) as finished:
        queue.call_specific(1, "A002")
    assert finished.value.reason == "ticket_finished"
    with pytest.raises(NotFound):
        queue.call_specific(1, "A777")
    assert [e["type"] for e in events(queue) if e["type"].startswith("ticket.")].count("ticket.recalled") == 1


def test_actions_without_a_current_ticket_are_refused(queue: HallQueue):
    queue.login(1, "s001", ["A"])
    for action in (queue.recall, queue.start, queue.no_show, queue.finish):
        with pytest.raises(TicketStateError) as info:
            action(1)
        assert info.value.reason == "no_current_ticket"
    with pytest.raises(TicketStateError):
        queue.transfer(1, "B")


def test_transfer_keeps_number_and_place_by_original_issue_time(queue: HallQueue, clock: Clock):
    queue.take_ticket("A", key(1), masked_name="王*")
    clock.advance(2)
    queue.take_ticket("B", key(2))
    queue.login(1, "s001", ["A"])
    queue.login(2, "s002", ["B"])
    queue.call_next(1)
    moved = queue.transfer(1, "B")
    assert (moved.number, moved.service, moved.origin_service, moved.state) == ("A001", "B", "A", "waiting")
    assert moved.issued_at == queue.ticket(moved.transferred_from).issued_at
    assert queue.ticket(moved.transferred_from).state == "transferred"
    assert queue.call_next(2).number == "A001"  # ahead of B001, which came later
    [event] = events(queue, "ticket.transferred")
    assert (event["from_service"], event["to_service"], event["new_ticket_id"]) == ("A", "B", moved.id)


def test_transfer_to_a_service_the_resident_already_queues_for_is_refused(queue: HallQueue):
    queue.take_ticket("A", key(1))
    queue.take_ticket("B", key(1))
    queue.login(1, "s001", ["A"])
    queue.call_next(1)
    with pytest.raises(TicketStateError) as info:
        queue.transfer(1, "B")
    assert info.value.reason == "already_queued"
    assert queue.current(1).state == "called"  # rolled back whole
    with pytest.raises(TicketStateError, match="already in A"):
        queue.transfer(1, "A")


def test_priority_first_under_strict_rule(queue: HallQueue):
    queue.take_ticket("A", key(1))
    queue.take_ticket("A", key(2), priority_reasons=("special_care",))
    queue.login(1, "s001", ["A"])
    assert queue.call_next(1).number == "A002"


def test_ratio_rule_reads_its_history_from_the_store(db_path: Path, clock: Clock):
    q = make_queue(db_path, clock, CallingRule("ratio", 2, 1))
    for i in range(9):
        q.take_ticket("A", key(i), priority_reasons=("age80",) if i % 2 else ())
    q.login(1, "s001", ["A"])
    q.login(2, "s002", ["A"])
    kinds = []
    for i in range(6):
        window = 1 + i % 2  # two windows share one history
        kinds.append("P" if q.call_next(window).priority else "N")
        q.finish(window)
    q.store.close()
    assert "".join(kinds) == "PPNPPN"


def test_max_wait_in_the_queue_lets_a_normal_ticket_go_first(db_path: Path, clock: Clock):
    q = make_queue(db_path, clock, CallingRule("strict", max_wait_min=20))
    q.take_ticket("A", key(1))
    clock.advance(15)
    q.take_ticket("A", key(2), priority_reasons=("veteran",))
    q.login(1, "s001", ["A"])
    clock.advance(5)
    call = q.call_next(1)
    q.store.close()
    assert (call.number, call.reason) == ("A001", "max_wait")


def test_yesterdays_waiting_tickets_are_not_called_today(queue: HallQueue, clock: Clock):
    queue.take_ticket("A", key(1))
    clock.advance(24 * 60)
    queue.login(1, "s001", ["A"])
    assert queue.call_next(1) is None


def test_the_database_itself_refuses_two_tickets_at_one_window(queue: HallQueue):
    queue.take_ticket("A", key(1))
    queue.take_ticket("A", key(2))
    with pytest.raises(sqlite3.IntegrityError), queue.store.action() as act:
        act.db.execute("UPDATE hall_tickets SET state = 'called', window_no = 4")


# -- ratings ----------------------------------------------------------------------------------------------
def test_rating_once_for_a_finished_ticket_at_its_own_window(queue: HallQueue):
    ticket = queue.take_ticket("A", key(1)).ticket
    queue.login(2, "s002", ["A"])
    queue.call_next(2)
    with pytest.raises(TicketStateError) as early:
        queue.rate(ticket.id, "satisfied", window=2)
    assert early.value.reason == "not_finished"
    queue.finish(2)
    with pytest.raises(TicketStateError) as other:
        queue.rate(ticket.id, "满意", window=5)
    assert other.value.reason == "other_window"
    rating = queue.rate(ticket.id, "非常满意", window=2)
    assert (rating.level, rating.level_en, rating.score, rating.staff_id) == ("very_satisfied", "Very satisfied", 5, "s002")
    with pytest.raises(TicketStateError) as twice:
        queue.rate(ticket.id, 1, window=2)
    assert twice.value.reason == "already_rated"
    [event] = events(queue, "ticket.rated")
    assert event["level_zh"] == "非常满意" and event["number"] == "A001"
    with pytest.raises(NotFound):
        queue.rate(9999, 3)


@pytest.mark.parametrize("value, key_", [
    ("非常满意", "very_satisfied"), ("满意", "satisfied"), ("基本满意", "basically_satisfied"),
    ("不满意", "dissatisfied"), ("非常不满意", "very_dissatisfied"), ("Satisfied", "satisfied"), (1, "very_dissatisfied"),
    ("3", "basically_satisfied"),
])
def test_the_five_levels_by_words_or_score(value, key_):
    assert parse_level(value).key == key_


@pytest.mark.parametrize("value", ["good", 0, 6, True, ""])
def test_unknown_levels_are_refused(value):
    with pytest.raises(TicketStateError, match="not a rating level"):
        parse_level(value)


# -- display side and listeners ---------------------------------------------------------------------------
def test_snapshot_has_current_calls_last_calls_and_waiting_counts(queue: HallQueue):
    seen: list[QueueChange] = []
    queue.add_listener(seen.append)
    for i in range(8):
        queue.take_ticket("AB"[i % 2] if i < 6 else "A", key(i))
    queue.login(1, "s001", ["A"])
    queue.login(2, "s002", ["B"])
    for _ in range(3):
        queue.call_next(1)
        queue.finish(1)
    queue.call_next(1)
    queue.call_next(2)
    queue.recall(2)
    snap = queue.snapshot()
    assert [(c.number, c.window) for c in snap.current] == [("A004", 1), ("B001", 2)]
    assert [c.number for c in snap.recent] == ["B001", "B001", "A004", "A003", "A002"]
    assert snap.recent[0].kind == "recall" and snap.last_call_id == snap.recent[0].id
    assert snap.waiting == {"A": 1, "B": 2, "C": 0}
    calls = [c.call for c in seen if c.call is not None]
    assert len(calls) == 6 and seen[-1].waiting == snap.waiting
    assert [c.id for c in queue.calls_after(calls[2].id)] == [c.id for c in calls[3:]]


def test_a_failing_listener_does_not_undo_a_call(queue: HallQueue):
    def broken(_change: QueueChange) -> None:
        raise RuntimeError("display feed broke")

    queue.add_listener(broken)
    queue.take_ticket("A", key(1))
    queue.login(1, "s001", ["A"])
    assert queue.call_next(1).number == "A001"
    assert queue.current(1).number == "A001"


# -- races ------------------------------------------------------------------------------------------------
def _race(queues: list[HallQueue], rounds: int) -> list[list[str]]:
    """Each queue handle is one counter (window 1, 2, ...); all press next together ``rounds`` times."""
    barrier = threading.Barrier(len(queues))
    got: list[list[str]] = [[] for _ in queues]
    errors: list[BaseException] = []

    def counter(index: int) -> None:
        q = queues[index]
        try:
            for _ in range(rounds):
                barrier.wait(timeout=30)
                call = q.call_next(index + 1)
                if call is not None:
                    got[index].append(call.number)
                    q.finish(index + 1)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=counter, args=(i,)) for i in range(len(queues))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    return got


@pytest.mark.parametrize("shared", [True, False], ids=["one-store-two-threads", "two-connections"])
def test_two_counters_racing_next_200_times_never_share_a_ticket(db_path: Path, clock: Clock, shared: bool):
    first = make_queue(db_path, clock)
    for i in range(400):
        first.take_ticket("A", key(i), priority_reasons=("age80",) if i % 3 == 0 else ())
    second = first if shared else make_queue(db_path, clock)
    first.login(1, "s001", ["A"])
    first.login(2, "s002", ["A"])
    try:
        got = _race([first, second], 200)
    finally:
        first.store.close()
        if second is not first:
            second.store.close()
    everyone = got[0] + got[1]
    assert len(everyone) == 400 and len(set(everyone)) == 400
    assert not set(got[0]) & set(got[1])


# -- the queue calls in exactly the order the pure rule gives -----------------------------------------------
@settings(max_examples=25, deadline=None)
@given(tickets=st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=1, max_size=25),
       rule=st.builds(CallingRule, mode=st.sampled_from(["strict", "ratio"]), priority_n=st.integers(1, 3),
                      normal_m=st.integers(1, 3), max_wait_min=st.none() | st.integers(5, 60)),
       gap=st.integers(0, 10))
def test_calling_order_through_the_store_matches_the_pure_rule(tmp_path_factory, tickets, rule, gap):
    clock = Clock()
    q = make_queue(tmp_path_factory.mktemp("order") / "hall.db", clock, rule)
    pool: list[Waiting] = []
    try:
        for i, (priority, minutes) in enumerate(tickets):
            clock.advance(minutes)
            issued = q.take_ticket("C", key(i), priority_reasons=("age80",) if priority else ())  # C: all day
            pool.append(Waiting(issued.ticket.id, priority, clock.now))
        q.login(1, "s001", ["C"])
        history: list[bool] = []
        for _ in tickets:
            clock.advance(gap)
            expected = pick_next(pool, history, rule, clock.now)
            call = q.call_next(1)
            assert expected is not None and call is not None
            assert (call.ticket_id, call.reason) == (expected.ticket.ticket_id, expected.reason)
            pool.remove(expected.ticket)
            history.append(expected.ticket.priority)
            q.finish(1)
        assert q.call_next(1) is None
    finally:
        q.store.close()
