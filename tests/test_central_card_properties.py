"""Property test of the card ledger: random top-ups, payments and voids from several terminals, pushed in
random batches with repeats, on both backends.

After every example: the ledger sums to zero, every entry's lines sum to zero, every cached balance
equals the sum of its movements, each money event was either posted once or recorded once as a problem
(never both, never twice), each card's balance equals what its entries say, and at most one subsidy stands
per card per day.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sync.central.card.queries import ledger_check
from sync.central.card.schema import card_balances, card_entries, card_problems
from sync.central.db import read_transaction
from sync.central.storage import CentralStore
from tests.test_central_card_ledger import Terminal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PAYERS = (("canteen", "site-a"), ("canteen", "site-b"), ("cinema", "site-a"))
DAYS = ("2025-03-03", "2025-03-04")
_examples = itertools.count()

amount = st.integers(0, 3000)
op = st.one_of(
    st.tuples(st.just("topup"), st.integers(0, 2), st.integers(1, 5000)),
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 1), amount,
              st.integers(0, 400), st.integers(0, 800)),
    st.tuples(st.just("void"), st.integers(0, 3), st.integers(0, 3)),  # one of the last 4 payments; 3: by another payer
    st.tuples(st.just("bad"), st.integers(0, 2)),
)


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    yield s
    s.close()


def test_random_money_traffic_keeps_the_ledger_sound(store):
    @settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(ops=st.lists(op, min_size=1, max_size=30), data=st.data())
    def run(ops, data) -> None:
        n = next(_examples)
        cards = [f"{n:04X}{i:02X}A1" for i in range(3)]
        payers = [Terminal(f"pay{i}-{n}") for i in range(len(PAYERS))]
        counter = Terminal(f"counter-{n}")
        for terminal, (role, site) in zip(payers, PAYERS, strict=True):
            store.enrol(role, site, terminal.terminal_id)
        store.enrol("counter", "site-c", counter.terminal_id)
        queues: dict[str, list] = defaultdict(list)
        payments = []
        for o in ops:
            if o[0] == "topup":
                e = counter.topup(card=cards[o[1]], amount=o[2])
            elif o[0] == "pay":
                _, who, card, day, gross, discount, subsidy = o
                discount = min(discount, gross)
                subsidy = min(subsidy, gross - discount)
                e = payers[who].pay(card=cards[card], gross=gross, discount=discount, subsidy=subsidy, day=DAYS[day])
                payments.append(e)
            elif o[0] == "void" and payments:
                payment = payments[-1 - o[1] % len(payments)]
                own = next(i for i, p in enumerate(payers) if p.terminal_id == payment.terminal_id)
                e = payers[(own + 1) % len(payers) if o[2] == 3 else own].void(payment)
            else:  # malformed (amounts disagree); also a void drawn before any payment
                e = payers[o[-1] % len(payers)].pay(card=cards[0], gross=100, paid_fen=99)
            queues[e.terminal_id].append(e)
        money_ids = {str(e.id) for q in queues.values() for e in q}
        pushed: dict[str, list] = defaultdict(list)
        while any(queues.values()):
            tid = data.draw(st.sampled_from(sorted(t for t, q in queues.items() if q)))
            size = data.draw(st.integers(1, 4))
            batch, queues[tid] = queues[tid][:size], queues[tid][size:]
            if pushed[tid] and data.draw(st.booleans()):
                batch = [data.draw(st.sampled_from(pushed[tid])), *batch]  # a resend with new events
            acks = store.push(tid, batch).response.acks
            assert all(a.status in ("stored", "duplicate") for a in acks)
            pushed[tid] += batch
            if data.draw(st.booleans()):
                assert {a.status for a in store.push(tid, batch).response.acks} == {"duplicate"}  # a lost answer

        with read_transaction(store.engine) as conn:
            check = ledger_check(conn)
            entries = conn.execute(select(card_entries).where(card_entries.c.card_no.in_(cards))).all()
            problem_ids = Counter(conn.execute(select(card_problems.c.event_id)
                                               .where(card_problems.c.event_id.in_(money_ids))).scalars())
            cached = {r.account: int(r.balance_fen) for r in conn.execute(
                select(card_balances).where(card_balances.c.account.in_([f"card:{c}" for c in cards])))}
        assert check.ok and check.total_fen == 0 and not check.mismatched and not check.unbalanced_entries, check
        posted = [r.entry_id for r in entries if r.type != "adjustment"]
        assert len(posted) == len(set(posted)) and max(problem_ids.values(), default=1) == 1
        assert set(posted).isdisjoint(problem_ids) and set(posted) | set(problem_ids) == money_ids
        expected = Counter()
        for r in entries:
            sign = {"topup": 1, "payment": -1, "adjustment": -1, "void": 0}[r.type]
            if r.type == "topup" or r.voided_by is None:
                expected[f"card:{r.card_no}"] += sign * int(r.amount_fen)
        assert {a: b for a, b in cached.items() if b} == {a: b for a, b in expected.items() if b}
        adjusted = {r.refers_to for r in entries if r.type == "adjustment"}
        standing = Counter((r.card_no, r.day) for r in entries if r.type == "payment" and r.subsidy_fen > 0
                           and r.voided_by is None and r.entry_id not in adjusted)
        assert max(standing.values(), default=0) <= 1

    run()
