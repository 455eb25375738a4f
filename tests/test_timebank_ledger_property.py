"""The coin ledger's invariants under any sequence of Time Bank operations (hypothesis, both backends).

Operations: shifts checked in and out (co-signed, self-co-signed, unsigned, too short or long,
across Shanghai days, hitting the daily and lifetime caps), forgotten check-ins closed and
approved with an end, approvals and declines, gifts, donations, pool grants, group transfers,
redemptions (old, young and hardship members; stock running out), review allows and refuses,
resent requests, and two threads acting on one member at once.  After every example:

- each cached balance equals the sum of its movements, the whole ledger sums to 0, no member
  (nor the pool) is below 0;
- redemptions never go beyond stock (stock = first stock + restocks − redemptions done);
- per member and Shanghai day, earn coins outside allowed reviews stay within the daily cap,
  and all of them within the lifetime cap;
- every approved shift has exactly one earn entry of its own (or none when the caps left no
  room), its coins plus its cap reviews' amounts are what its minutes earn, and no other shift
  has any earn entry.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import hours, reviews, rewards, transfers
from sync.central.timebank.ledger import ISSUE, Line, post_entry, vol_account
from sync.central.timebank.policy import import_policy, load_policy_file, policy_on, shanghai_day
from sync.central.timebank.schema import (
    tb_entries,
    tb_movements,
    tb_redemptions,
    tb_reviews,
    tb_rewards,
    tb_shifts,
    tb_volunteers,
)
from tests.timebank_support import (
    assert_ledger_sound,
    import_default_policy,
    make_member,
    person_key_of,
    tb_conn,
)

pytestmark = [pytest.mark.timeout(300)]

BASE = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
TODAY = dt.date(2026, 3, 5)
MEMBERS = (("1950-01-01", 0), ("1948-06-01", 0), ("1990-01-01", 0), ("1964-06-01", 1))  # born, hardship
RESIDENT = person_key_of("property-resident")

member = st.integers(0, len(MEMBERS) - 1)
amount = st.sampled_from([1, 50, 100, 150, 400])
shift_op = st.tuples(st.just("shift"), member, st.integers(0, 2), st.integers(0, 20),
                     st.sampled_from([5, 90, 150, 150, 800]),
                     st.sampled_from(["resident", "resident", "resident", "self", None]))
ops = st.one_of(
    shift_op, shift_op, shift_op, shift_op,  # earning is what the caps are about: most steps earn
    st.tuples(st.just("forget"), member, st.integers(0, 2)),
    st.tuples(st.just("close"), st.integers(0, 4)),
    st.tuples(st.just("approve"), member, st.sampled_from([None, 45, 120])),
    st.tuples(st.just("decline"), member),
    st.tuples(st.just("gift"), member, member, amount),
    st.tuples(st.just("donate"), member, amount),
    st.tuples(st.just("grant"), member, amount),
    st.tuples(st.just("group"), member, st.lists(member, min_size=1, max_size=3), amount),
    st.tuples(st.just("redeem"), member, st.integers(0, 1)),
    st.tuples(st.just("review"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("resend"),),
    st.tuples(st.just("race"), member, st.sampled_from(["redeem", "gift"])),
)


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    with tb_conn(s) as conn:
        import_default_policy(conn)
        doc = load_policy_file()
        doc.update(version="property-2026", valid_from="2026-03-01")
        doc["rules"]["lifetime_cap_coins"] = 5
        import_policy(conn, doc, "admin")
    yield s
    s.close()


class World:
    """One example's members, rewards and what the model expects of stock."""

    def __init__(self, store: CentralStore) -> None:
        self.store = store
        self.stock_added: dict[int, int] = {}
        self.last: tuple[str, tuple[Any, ...]] | None = None
        with tb_conn(store) as conn:
            self.members = [make_member(conn, born_on=born, hardship=hard, person_key=person_key_of(uuid.uuid4().hex))
                            for born, hard in MEMBERS]
            for vid in self.members:  # a small grant so spending can start at once
                post_entry(conn, entry_type="adjust", actor="admin", at=BASE.isoformat(), memo="起始",
                           lines=[Line(ISSUE, -120, "adjust"), Line(vol_account(vid), 120, "adjust")])
            self.rewards = [rewards.add_reward(conn, name=f"奖励{i}", category="goods", cost_cc=cost, stock=stock,
                                               actor="staff:o", at=BASE.isoformat())
                            for i, (cost, stock) in enumerate(((100, 2), (10, 1)))]
        self.stock_added = {rid: s for rid, s in zip(self.rewards, (2, 1), strict=True)}

    def run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        """``fn(conn, ...)`` in its own write transaction; a refusal rolls it back and is returned."""
        name = getattr(fn, "__name__", "op")
        try:
            with tb_conn(self.store) as conn:
                result = fn(conn, *args, **kw)
        except CentralError as refused:
            self.note(f"{name}: {refused.reason}")
            return refused
        detail = "done"
        if isinstance(result, hours.CheckOut):
            detail = f"{result.shift.status} {result.shift.flag or ''} review={result.review_id is not None}"
        elif isinstance(result, rewards.Redemption):
            detail = "waiting" if result.review_id else "done"
        self.note(f"{name}: {detail}")
        return result

    def note(self, words: str) -> None:
        """Count an outcome in hypothesis' statistics (only the test's own thread may)."""
        if threading.current_thread() is threading.main_thread():
            event(words)


def _shift(conn, vid: int, start: dt.datetime, minutes: int, signer: str | None) -> Any:
    hours.check_in(conn, vid, at=start.isoformat(), via="kiosk", actor="terminal:hall-01")
    return hours.check_out(conn, vid, at=(start + dt.timedelta(minutes=minutes)).isoformat(), via="kiosk",
                           actor="terminal:hall-01", cosigner_key=signer, cosigned_via="id_card" if signer else None)


def _pending(conn, vid: int) -> list[Any]:
    return [s for s in hours.shifts(conn, volunteer_id=vid, status="pending")]


def apply(world: World, op: tuple[Any, ...]) -> None:
    """Run one operation (refusals are part of the game)."""
    kind, m = op[0], world.members
    rid = str(uuid.uuid4())
    if kind == "shift":
        _, who, day, slot, minutes, signer = op
        start = BASE + dt.timedelta(days=day, minutes=37 * slot)
        key = {"resident": RESIDENT, "self": None, None: None}[signer]
        if signer == "self":
            with tb_conn(world.store) as conn:
                key = conn.execute(select(tb_volunteers.c.person_key)
                                   .where(tb_volunteers.c.id == m[who])).scalar_one()
        world.run(_shift, m[who], start, minutes, key)
    elif kind == "forget":
        world.run(hours.check_in, m[op[1]], at=(BASE + dt.timedelta(days=op[2], hours=5)).isoformat(), via="qr",
                  actor="x")
    elif kind == "close":
        world.run(hours.close_forgotten, (BASE + dt.timedelta(days=op[1], hours=30)).isoformat())
    elif kind == "approve":
        def approve(conn):
            pending = _pending(conn, m[op[1]])
            ends = {s.id: (dt.datetime.fromisoformat(s.check_in_at) + dt.timedelta(minutes=op[2])).isoformat()
                    for s in pending} if op[2] else None
            return hours.approve(conn, [s.id for s in pending], "staff:o", ends)
        world.run(approve)
    elif kind == "decline":
        world.run(lambda conn: hours.decline(conn, [s.id for s in _pending(conn, m[op[1]])][:1], "staff:o", "不实"))
    elif kind == "gift":
        args = (m[op[1]], m[op[2]], op[3])
        world.last = ("gift", args)
        world.run(transfers.gift, *args, relation="亲属", actor="x", request_id=rid, at=BASE.isoformat())
        world.last = ("gift", (*args, rid))
    elif kind == "donate":
        world.run(transfers.donate, m[op[1]], op[2], actor="x", request_id=rid, at=BASE.isoformat())
    elif kind == "grant":
        world.run(transfers.pool_grant, m[op[1]], op[2], actor="staff:o", memo="补助", request_id=rid,
                  at=BASE.isoformat())
    elif kind == "group":
        shares = {vol_account(m[i]): op[3] for i in op[2]}
        world.run(transfers.group_transfer, payer=vol_account(m[op[1]]), shares=shares, actor="staff:o",
                  category="meals", memo="团队", request_id=rid, at=BASE.isoformat())
    elif kind == "redeem":
        args = (m[op[1]], world.rewards[op[2]])
        world.run(rewards.redeem, *args, request_id=rid, actor="x", today=TODAY, at=BASE.isoformat())
        world.last = ("redeem", (*args, rid))
    elif kind == "review":
        def decide(conn):
            waiting = reviews.open_reviews(conn)
            if not waiting:
                return None
            chosen = waiting[op[1] % len(waiting)]
            if op[2]:
                return reviews.allow(conn, chosen.id, "staff:o")
            return reviews.refuse(conn, chosen.id, "staff:o", "不同意")
        world.run(decide)
    elif kind == "resend" and world.last is not None:
        what, args = world.last
        if what == "gift" and len(args) == 4:
            world.run(transfers.gift, *args[:3], relation="亲属", actor="x", request_id=args[3], at=BASE.isoformat())
        elif what == "redeem":
            world.run(rewards.redeem, *args[:2], request_id=args[2], actor="x", today=TODAY, at=BASE.isoformat())
    elif kind == "race":
        race(world, m[op[1]], op[2])


def race(world: World, vid: int, what: str) -> None:
    """Two threads spend from one member at the same moment."""
    barrier = threading.Barrier(2)
    other = world.members[0] if vid != world.members[0] else world.members[1]

    results: list[Any] = []

    def spend(n: int) -> None:
        barrier.wait(timeout=30)
        if what == "redeem":
            results.append(world.run(rewards.redeem, vid, world.rewards[n % 2], request_id=str(uuid.uuid4()), actor="x",
                      today=TODAY, at=BASE.isoformat()))
        else:
            results.append(world.run(transfers.gift, vid, other, 100, relation="亲属", actor="x",
                                     request_id=str(uuid.uuid4()), at=BASE.isoformat()))

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    world.note(f"race {what}: {sum(not isinstance(r, CentralError) for r in results)} of 2 went through")


def check_invariants(world: World) -> None:
    """Everything the module docstring promises."""
    with tb_conn(world.store) as conn:
        assert_ledger_sound(conn)
        done = defaultdict(int)
        for reward_id, n in conn.execute(select(tb_redemptions.c.reward_id, func.count()).where(
                tb_redemptions.c.entry_id.not_in(["", "refused"])).group_by(tb_redemptions.c.reward_id)):
            done[int(reward_id)] = int(n)
        for reward_id, stock in conn.execute(select(tb_rewards.c.id, tb_rewards.c.stock)
                                             .where(tb_rewards.c.id.in_(world.rewards))):
            assert stock >= 0 and stock == world.stock_added[reward_id] - done[reward_id], reward_id
        review_entries = {e for e, in conn.execute(select(tb_reviews.c.entry_id).where(tb_reviews.c.entry_id.is_not(None)))}
        shift_rows = {s.id: s for s in conn.execute(select(tb_shifts).where(tb_shifts.c.volunteer_id.in_(world.members)))}
        own: dict[int, list[tuple[str, int]]] = defaultdict(list)
        per_day: dict[tuple[int, dt.date], int] = defaultdict(int)
        lifetime: dict[int, int] = defaultdict(int)
        for entry_id, shift_id, amount in conn.execute(
                select(tb_entries.c.entry_id, tb_entries.c.shift_id, tb_movements.c.amount_cc)
                .join(tb_movements, tb_movements.c.entry_id == tb_entries.c.entry_id)
                .where(tb_entries.c.type == "earn", tb_movements.c.account.like("vol:%"))):
            shift = shift_rows.get(int(shift_id)) if shift_id is not None else None
            if shift is None:
                continue
            assert shift.status == "approved", (shift.id, shift.status)
            if entry_id in review_entries:
                continue
            own[shift.id].append((entry_id, int(amount)))
            per_day[(shift.volunteer_id, shanghai_day(shift.check_in_at))] += int(amount)
            lifetime[shift.volunteer_id] += int(amount)
        for (vid, day), total in per_day.items():
            assert total <= policy_on(conn, day).rules.daily_cap_coins * 100, (vid, day, total)
        for vid, total in lifetime.items():
            assert total <= 5 * 100, (vid, total)
        cap_reviews = defaultdict(int)
        for shift_id, review_amount in conn.execute(select(tb_reviews.c.shift_id, tb_reviews.c.amount_cc).where(
                tb_reviews.c.kind.in_(["daily_cap", "lifetime_cap"]))):
            cap_reviews[int(shift_id)] += int(review_amount)
        for shift in shift_rows.values():
            if shift.status != "approved":
                assert shift.id not in own and shift.entry_id is None, shift.id
                continue
            entries = own.get(shift.id, [])
            assert [e for e, _ in entries] == ([shift.entry_id] if shift.entry_id else []), shift.id
            earned = sum(a for _, a in entries) + cap_reviews[shift.id]
            assert earned == hours.coins_for(shift.minutes, policy_on(conn, shanghai_day(shift.check_in_at))), shift.id


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(ops, min_size=5, max_size=18))
def test_ledger_invariants_hold_under_any_sequence(store, steps):
    world = World(store)
    for op in steps:
        apply(world, op)
    check_invariants(world)
