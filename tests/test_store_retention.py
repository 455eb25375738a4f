"""Retention: acknowledged outbox rows are pruned, unacknowledged ones never; seq goes on gap-free after a prune
(of every row, and after a restart); one purge pass over 60 days of hall data leaves exactly the window."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import load_config
from kiosk.hall import HALL_MIGRATIONS, HALL_TZ, HallQueue, ServiceCatalog
from kiosk.hall.tickets import day_counts
from kiosk.priority import person_key
from kiosk.store import Store, StoreError
from kiosk.visit_log import (
    EVENT_PURGED,
    VISIT_MIGRATIONS,
    PurgeReport,
    PurgeScheduler,
    Visit,
    VisitLog,
    iso_utc,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

TERMINAL = "hall-01"
KEY = b"linfen-test-person-key-0123456789"
NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hall" / "terminal.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path, TERMINAL)
    yield s
    s.close()


def emit(store: Store, n: int, type_: str = "thing.done") -> list[str]:
    ids = []
    for i in range(n):
        with store.action() as act:
            ids.append(act.emit(type_, {"i": i}).id)
    return ids


def ack_at(store: Store, ids: list[str], at: dt.datetime) -> None:
    """Acknowledge ``ids`` as if the central's ack came at ``at`` (mark_acked stamps the real now)."""
    with store.action() as act:
        act.db.conn.executemany("UPDATE outbox SET acked_at = ? WHERE id = ?", [(iso_utc(at), i) for i in ids])


def seqs(store: Store) -> list[int]:
    return [s for (s,) in store.db.execute("SELECT seq FROM outbox ORDER BY seq").fetchall()]


# -- the outbox -----------------------------------------------------------------------------------------------

def test_only_rows_acknowledged_before_the_cutoff_are_pruned(store: Store) -> None:
    ids = emit(store, 6)
    ack_at(store, ids[:2], NOW - dt.timedelta(days=10))
    ack_at(store, ids[2:4], NOW - dt.timedelta(days=1))
    assert store.prune_acked(NOW - dt.timedelta(days=7)) == 2
    assert seqs(store) == [3, 4, 5, 6]
    assert [e.seq for e in store.pending_events(10)] == [5, 6]  # nothing acknowledged comes back to be sent
    assert store.pruned_seq() == 2
    assert store.prune_acked(NOW - dt.timedelta(days=7)) == 0


def test_unacknowledged_rows_are_never_pruned_whatever_their_age(store: Store) -> None:
    emit(store, 3)
    with store.action() as act:  # rows from long ago, still waiting for the central
        act.db.execute("UPDATE outbox SET attempts = 99, last_error = 'down'")
    assert store.prune_acked(NOW + dt.timedelta(days=3650)) == 0
    assert seqs(store) == [1, 2, 3] and store.pruned_seq() == 0


def test_seq_goes_on_after_every_row_was_pruned_and_after_a_restart(db_path: Path) -> None:
    store = Store.open(db_path, TERMINAL)
    ids = emit(store, 5)
    ack_at(store, ids, NOW - dt.timedelta(days=30))
    assert store.prune_acked(NOW) == 5
    assert seqs(store) == [] and store.last_seq() == 5 and store.pruned_seq() == 5
    [new] = emit(store, 1)
    assert seqs(store) == [6]
    ack_at(store, [new], NOW - dt.timedelta(days=30))
    assert store.prune_acked(NOW) == 1
    store.close()
    with Store.open(db_path, TERMINAL) as again:
        assert again.last_seq() == 6 and again.pruned_seq() == 6
        with again.action() as act:
            assert act.emit("thing.done", {}).seq == 7


def test_an_emptied_outbox_still_belongs_to_its_terminal(db_path: Path) -> None:
    with Store.open(db_path, TERMINAL) as store:
        ack_at(store, emit(store, 2), NOW - dt.timedelta(days=30))
        store.prune_acked(NOW)
        assert seqs(store) == []
    with pytest.raises(StoreError, match="hall-01"):
        Store.open(db_path, "hall-02")


def test_a_seq_counter_behind_the_outbox_is_refused_at_open(db_path: Path) -> None:
    with Store.open(db_path, TERMINAL) as store:
        ack_at(store, emit(store, 3), NOW - dt.timedelta(days=30))
        store.prune_acked(NOW)
        with store.action() as act:
            act.db.execute("UPDATE counters SET value = 1 WHERE name = 'outbox_seq'")  # a damaged file
    with pytest.raises(StoreError, match="reuse a seq"):
        Store.open(db_path, TERMINAL)


@pytest.mark.parametrize("cutoff", ["2026-06-01", "yesterday", "2026-06-01T10:00:00+08:00",
                                    dt.datetime(2026, 6, 1, 10, 0), 7])
def test_a_bad_cutoff_is_refused_and_rolls_the_action_back(store: Store, cutoff: Any) -> None:
    ack_at(store, emit(store, 1), NOW - dt.timedelta(days=30))
    with pytest.raises(StoreError, match="cutoff"), store.action() as act:
        act.emit("other.thing", {})
        try:
            act.prune_acked(cutoff)
        except StoreError:
            pass  # swallowed: the action still must not commit
    assert seqs(store) == [1] and store.last_seq() == 1


# -- one purge pass over 60 days -------------------------------------------------------------------------------

SERVICES = [{"code": "A", "name_zh": "社会保障卡", "name_en": "Social security card"},
            {"code": "B", "name_zh": "医疗保险", "name_en": "Medical insurance"}]
DAYS = 60
RETENTION = 28
OUTBOX_KEEP = 7


class Clock:
    """The hall clock and the visit log's clock, moved by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def id_number(n: int) -> str:
    """An 18-character ID-shaped number (the check digit does not matter here)."""
    return f"310107{19500101 + n:08d}{n % 1000:03d}X"


def test_one_purge_pass_over_60_days_leaves_exactly_the_window(db_path: Path) -> None:
    start = (NOW - dt.timedelta(days=DAYS)).astimezone(HALL_TZ).replace(hour=9, minute=0)
    clock = Clock(start)
    store = Store.open(db_path, TERMINAL, extra_migrations=(HALL_MIGRATIONS, VISIT_MIGRATIONS))
    queue = HallQueue(store, ServiceCatalog.from_data(SERVICES), clock=clock)
    visits = VisitLog(store, KEY, retention_days=RETENTION, clock=clock)
    n = 0
    visit_times: list[str] = []
    for day in range(DAYS):
        clock.now = start + dt.timedelta(days=day)
        first_seq = store.last_seq() + 1
        queue.login(1, "staff01", ["A", "B"])
        for service in "AAB":
            n += 1
            number = id_number(n)
            queue.take_ticket(service, person_key(number, KEY), masked_name="张*明",
                              visit=Visit(number, "张三明", "idcard", 36.5, "green"), visits=visits)
            visit_times.append(iso_utc(clock.now))
            clock.now += dt.timedelta(minutes=5)
        queue.call_next(1)
        done = queue.finish(1)
        queue.rate(done.id, "satisfied")
        queue.logout(1)
        # Acknowledge today's events an hour later, except those of every third day (central down for them).
        today = [e for e in store.pending_events(1000) if e.seq >= first_seq]
        if day % 3:
            ack_at(store, [e.id for e in today], clock.now + dt.timedelta(hours=1))
    clock.now = NOW
    all_events = store.db.execute("SELECT seq, acked_at FROM outbox").fetchall()
    last = store.last_seq()
    assert last == len(all_events)

    report = PurgeScheduler(visits, tickets=queue.purge_tickets, outbox_keep_days=OUTBOX_KEEP).run_once()

    cutoff = NOW - dt.timedelta(days=RETENTION)
    cutoff_day = cutoff.astimezone(HALL_TZ).date().isoformat()
    outbox_cutoff = iso_utc(NOW - dt.timedelta(days=OUTBOX_KEEP))
    # Visits: exactly those at or after the cutoff.
    kept_visits = [r["visited_at"] for r in visits.rows()]
    assert kept_visits == [t for t in visit_times if t >= iso_utc(cutoff)]
    assert 0 < len(kept_visits) < len(visit_times)
    # Tickets (and their calls, ratings, numbers): exactly the hall days from the cutoff's day on.
    kept_days = sorted({d for (d,) in store.db.execute("SELECT day FROM hall_tickets")})
    all_days = [(start + dt.timedelta(days=d)).date().isoformat() for d in range(DAYS)]
    assert kept_days == [d for d in all_days if d >= cutoff_day]
    for table in ("hall_calls", "hall_numbers"):
        assert store.db.execute(f"SELECT COUNT(*) FROM {table} WHERE day < ?", [cutoff_day]).fetchone() == (0,)
    assert store.db.execute("SELECT COUNT(*) FROM hall_ratings r LEFT JOIN hall_tickets t ON t.id = r.ticket_id "
                            "WHERE t.id IS NULL").fetchone() == (0,)
    assert store.db.execute("SELECT COUNT(*) FROM hall_ratings").fetchone() == (len(kept_days),)
    # What is kept of a purged day: counts, no person data.
    counts = day_counts(store.db)
    purged_days = [d for d in all_days if d < cutoff_day]
    assert sorted({c["day"] for c in counts}) == purged_days
    assert {(c["service"], c["issued"], c["finished"], c["unserved"]) for c in counts} == {("A", 2, 1, 1),
                                                                                           ("B", 1, 0, 1)}
    assert sum(c["rated"] for c in counts) == len(purged_days) and sum(c["score_sum"] for c in counts) == \
        4 * len(purged_days)
    # Outbox: every unacknowledged row of any age, and acknowledged rows acknowledged since the outbox cutoff.
    expected = sorted(seq for seq, acked in all_events if acked is None or acked >= outbox_cutoff)
    remaining = seqs(store)
    assert remaining[:-1] == expected and remaining[-1] == last + 1  # + the purge's own event
    assert min(seq for seq, acked in all_events if acked is None) == 1  # day 0's rows are unacked and kept
    pruned = [seq for seq, acked in all_events if acked is not None and acked < outbox_cutoff]
    assert store.pruned_seq() == max(pruned)
    assert isinstance(report, PurgeReport)
    assert (report.visits, report.tickets, report.outbox) == (len(visit_times) - len(kept_visits),
                                                              3 * len(purged_days), len(pruned))
    [purged] = [json.loads(p) for (p,) in store.db.execute("SELECT payload FROM outbox WHERE type = ?",
                                                          [EVENT_PURGED])]
    assert (purged["rows"], purged["tickets"], purged["outbox_rows"]) == (report.visits, report.tickets, len(pruned))
    # seq goes on after the prune, and after a restart; a second pass deletes nothing more.
    with store.action() as act:
        assert act.emit("thing.done", {}).seq == last + 2
    again = PurgeScheduler(visits, tickets=queue.purge_tickets, outbox_keep_days=OUTBOX_KEEP).run_once()
    assert again is not None and (again.visits, again.tickets, again.outbox) == (0, 0, 0)
    store.close()
    with Store.open(db_path, TERMINAL, extra_migrations=(HALL_MIGRATIONS, VISIT_MIGRATIONS)) as reopened:
        with reopened.action() as act:
            assert act.emit("thing.done", {}).seq == last + 4
        assert reopened.pruned_seq() == max(pruned)


def test_the_scheduler_from_config_uses_the_outbox_key_and_purges_at_start(db_path: Path) -> None:
    example = load_config(Path(__file__).resolve().parents[1] / "config" / "examples" / "hall.toml")
    config = example.model_copy(update={"store": example.store.model_copy(update={"outbox_keep_days": 3})})
    store = Store.open(db_path, TERMINAL, extra_migrations=(VISIT_MIGRATIONS,))
    try:
        ids = emit(store, 2)
        ack_at(store, ids[:1], NOW - dt.timedelta(days=4))
        ack_at(store, ids[1:], NOW - dt.timedelta(days=2))
        reports: list[PurgeReport] = []
        ran = threading.Event()

        def on_purge(report: PurgeReport) -> None:
            reports.append(report)
            ran.set()

        scheduler = PurgeScheduler.from_config(VisitLog(store, KEY, clock=lambda: NOW), config, on_purge=on_purge)
        assert scheduler.outbox_keep_days == 3
        scheduler.start()
        try:
            assert ran.wait(10), "the scheduler did not purge at start"
        finally:
            scheduler.stop()
        assert reports and reports[0].outbox == 1 and reports[0].outbox_cutoff == iso_utc(NOW - dt.timedelta(days=3))
        assert seqs(store)[:1] == [2]
    finally:
        store.close()


def test_a_failing_tickets_step_rolls_the_whole_pass_back_and_the_scheduler_goes_on(db_path: Path) -> None:
    def broken(act: Any, cutoff: dt.datetime) -> int:
        raise RuntimeError("disk on fire")

    s = Store.open(db_path, TERMINAL, extra_migrations=(VISIT_MIGRATIONS,))
    try:
        ack_at(s, emit(s, 2), NOW - dt.timedelta(days=30))
        scheduler = PurgeScheduler(VisitLog(s, KEY, clock=lambda: NOW), tickets=broken)
        assert scheduler.run_once() is None and scheduler.failures == 1
        assert seqs(s) == [1, 2]  # the outbox prune was rolled back with the failing step
        scheduler.tickets = None
        report = scheduler.run_once()
        assert report is not None and report.outbox == 2 and scheduler.runs == 1
    finally:
        s.close()
