"""Crash safety of the one-transaction ticket: SIGKILL a process taking tickets with visit rows, many times.

A child (``tests/hall_crash_child.py``) takes tickets with ``take_ticket(..., visit=, visits=)`` in a
loop (new tickets and reprints), and every tenth loop acknowledges and prunes the outbox; it prints
each ticket id after the commit.  The parent kills it at a random moment and checks, after every
round, that no ticket exists without its visit row (nor a visit row without its ticket), that the
daily numbers match the tickets, that every committed ticket is there, and that ``seq`` is gap-free
from the pruned high-water mark up to the counter, two events per committed take.  The child and
kill machinery are those of :mod:`tests.test_store_crash`; rerun with ``HALL_CRASH_SEED=<seed>``.
"""

from __future__ import annotations

import collections
import os
import random
import secrets
import sqlite3
import time
from pathlib import Path

import pytest

from tests.test_store_crash import PRESTART, REAP_TIMEOUT_S, Child, run_and_kill

pytestmark = pytest.mark.integration

CHILD = Path(__file__).resolve().with_name("hall_crash_child.py")
ROUNDS = int(os.environ.get("HALL_CRASH_ROUNDS", "30"))
#: The kill comes this long after the first committed ticket: uniform in [0, MAX_KILL_DELAY_S] s.
MAX_KILL_DELAY_S = 0.150


class HallChild(Child):
    """A crash child whose lines are ``T <ticket id>`` (new ticket) or ``R <ticket id>`` (reprint)."""

    def committed_ids(self) -> list[tuple[str, int]]:  # type: ignore[override]
        *complete, _partial = self.output.decode().split("\n")
        return [(kind, int(tid)) for kind, tid in (line.split() for line in complete)]


def check_database(db_path: Path, new_tickets: set[int], reprints: int, where: str) -> int:
    """Check integrity and the one-transaction invariants; return the number of visit rows."""
    con = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, timeout=REAP_TIMEOUT_S, isolation_level=None)
    try:
        con.execute("BEGIN")
        integrity = con.execute("PRAGMA integrity_check").fetchall()
        tickets = con.execute("SELECT id, day, service, number, person_key FROM hall_tickets").fetchall()
        visits = con.execute("SELECT outcome, ticket_number, person_key FROM visits").fetchall()
        numbers = dict(((d, s), last) for d, s, last in con.execute("SELECT day, service, last FROM hall_numbers"))
        events = con.execute("SELECT seq, type, coalesce(json_extract(payload, '$.ticket_id'), json_extract(payload, '$.id')), "
                             "json_extract(payload, '$.visit_id') FROM outbox ORDER BY seq").fetchall()
        visit_ids = {i for (i,) in con.execute("SELECT id FROM visits")}
        counters = dict(con.execute("SELECT name, value FROM counters").fetchall())
        con.execute("COMMIT")
    finally:
        con.close()

    assert integrity == [("ok",)], f"{where}: integrity_check: {integrity[:10]}"
    ids = {tid for tid, *_ in tickets}
    assert not new_tickets - ids, f"{where}: committed tickets missing: {sorted(new_tickets - ids)[:10]}"
    issued = collections.Counter((number, pk) for outcome, number, pk in visits if outcome == "ticket")
    by_ticket = {(number, pk) for _tid, _d, _s, number, pk in tickets}
    assert set(issued) == by_ticket, f"{where}: tickets and 'ticket' visit rows differ"
    assert all(n == 1 for n in issued.values()), f"{where}: a ticket with two visit rows"
    reprinted = [(number, pk) for outcome, number, pk in visits if outcome == "reprint"]
    assert set(reprinted) <= by_ticket, f"{where}: a reprint visit row without its ticket"
    assert len(reprinted) >= reprints, f"{where}: committed reprints missing"
    per_service = collections.Counter((d, s) for _tid, d, s, _n, _pk in tickets)
    assert numbers == dict(per_service), f"{where}: daily numbers do not match the tickets"

    counter, pruned = counters.get("outbox_seq", 0), counters.get("outbox_pruned_seq", 0)
    assert counter == 2 * len(visits), f"{where}: {counter} events for {len(visits)} takes (two each)"
    assert [seq for seq, *_ in events] == list(range(pruned + 1, counter + 1)), f"{where}: seq has gaps"
    for _seq, type_, ticket_id, visit_id in events:
        if type_ in ("ticket.issued", "ticket.reprinted"):
            assert ticket_id in ids, f"{where}: {type_} for a ticket that is not there"
        else:
            assert type_ == "visit.logged" and visit_id in visit_ids, f"{where}: stray event {type_}"
    return len(visits)


@pytest.mark.timeout(300)
def test_sigkill_while_taking_tickets_never_splits_ticket_and_visit(tmp_path: Path) -> None:
    seed = int(os.environ.get("HALL_CRASH_SEED") or secrets.randbits(32))
    rng = random.Random(seed)
    run = f"seed {seed} (reproduce: HALL_CRASH_SEED={seed})"
    db_path = tmp_path / "hall.db"

    def start(round_no: int) -> HallChild:
        return HallChild(db_path, tmp_path / f"child-{round_no:03d}.stderr", f"{run}, round {round_no}/{ROUNDS}",
                         CHILD)

    new_tickets: set[int] = set()
    reprints = 0
    takes = 0
    started = time.monotonic()
    upcoming = collections.deque(start(n) for n in range(1, min(PRESTART, ROUNDS) + 1))
    try:
        for round_no in range(1, ROUNDS + 1):
            child = upcoming.popleft()
            if round_no + PRESTART <= ROUNDS:
                upcoming.append(start(round_no + PRESTART))
            lines = run_and_kill(child, rng.uniform(0, MAX_KILL_DELAY_S))
            new_tickets.update(tid for kind, tid in lines if kind == "T")
            reprints += sum(kind == "R" for kind, _ in lines)
            takes = check_database(db_path, new_tickets, reprints, child.where)
    finally:
        for child in upcoming:
            child.close()
    assert reprints > 0 and len(new_tickets) > ROUNDS
    print(f"\nhall crash test: {ROUNDS} SIGKILLs, {takes} takes ({reprints} reprints), "
          f"{time.monotonic() - started:.1f} s, {run}")
