"""Money property test: top-ups, offline payments on several readers, voids, syncs and SIGKILLs never lose money.

Hypothesis draws a program of steps — top-ups at the service centre, payments and voids on three
readers, syncs, a reader process SIGKILLed while it pays (``tests/canteen_crash_child.py``), the
central (``linfen central`` as its own process) SIGKILLed while readers push, and restarted — runs
it against real stores and a real central, then brings everything back online and syncs until every
outbox is empty.  Then, whatever the interleaving:

* the central's ledger sums to zero and every cached balance equals the sum of its movements;
* every journal entry any reader committed (the killed children's included) is posted exactly once,
  and nothing the readers did not commit is posted; no event was refused as a problem;
* after reconciliation no card holds more than one daily subsidy per day;
* no balance is below ``-overdraft`` except within the documented offline bound: each reader may take
  up to its per-day offline limit from a card it cannot see the balance of, and a reversed second
  subsidy is charged back (``balance >= -(readers x per_day_fen + reversed subsidies)``).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.canteen.card_data import card_facts
from kiosk.canteen.journal import CANTEEN_MIGRATIONS, CardJournal
from kiosk.canteen.payments import CardPayments, PaymentError
from kiosk.canteen.wallet import CardLimits
from kiosk.reference import ReferenceData
from kiosk.store import Store
from sync import apply
from sync.central.db import now_text, write_transaction
from sync.central.reference import RowChange, apply_changes
from sync.central.storage import CentralStore
from sync.client import SyncClient, SyncError, SyncSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "canteen_crash_child.py"
SITE = "linfen"
READERS = ("canteen-1", "canteen-2", "canteen-3")
CARDS = ("C0000001", "C0000002", "C0000003", "C0000004")
LIMITS = CardLimits(per_day_fen=6000, consecutive_offline=3, double_tap_s=0)
FAST = SyncSettings(pull_interval_s=3600, heartbeat_interval_s=3600, read_timeout_s=5.0, write_timeout_s=5.0)


class Quote:
    """A 15-yuan-per-portion meal with a 3-yuan subsidy unless the card had today's."""

    def __init__(self, used: bool, qty: int) -> None:
        self.gross_fen, self.discount_fen = 1500 * qty, 0
        self.subsidy_fen = 0 if used else 300
        self.paid_fen = self.gross_fen - self.subsidy_fen
        self.subsidy_tier = None if used else "age-80"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Central:
    """``linfen central`` on a SQLite file, as its own process: started, SIGKILLed, restarted on one port."""

    def __init__(self, db: Path) -> None:
        self.db, self.port = db, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "linfen", "central", "--db", str(self.db), "--bind",
                                      f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("the central did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    @property
    def up(self) -> bool:
        return self.proc is not None


class World:
    """Three readers (stores, payments, sync clients), a service-centre counter, and the central."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.central = Central(tmp / "central.db")
        store = CentralStore.open(self.central.db)
        tokens = {t: store.enrol("canteen", SITE, t).token for t in READERS}
        tokens["counter-1"] = store.enrol("counter", SITE, "counter-1").token
        rows = [RowChange(c, "upsert", {"card_no": c, "status": "active", "birth_year": 1940}) for c in CARDS]
        with write_transaction(store.engine) as conn:
            apply_changes(conn, SITE, "card", rows, replace=False, changed_at=now_text())
        store.close()
        self.central.start()
        self.parts: dict[str, tuple[Store, CardPayments, SyncClient]] = {}
        for terminal_id, token in tokens.items():
            self.open(terminal_id, token)
        self.tokens = tokens
        self.children_committed: set[str] = set()
        self.reversals_possible = 0

    def open(self, terminal_id: str, token: str) -> None:
        store = Store.open(self.tmp / f"{terminal_id}.db", terminal_id,
                           extra_migrations=(CANTEEN_MIGRATIONS, apply.MIGRATIONS))
        now = lambda: dt.datetime.now().astimezone()  # noqa: E731
        # Always offline, the worst case: every payment is bounded by the offline limits and the reader's
        # own view of the balance (a reader online within fresh_s trusts a snapshot; see the module doc).
        payments = CardPayments(store, card_facts(ReferenceData(store), store), LIMITS, now, lambda: False)
        client = SyncClient(store, self.central.url, token, settings=FAST)
        self.parts[terminal_id] = (store, payments, client)
        self.sync(terminal_id)

    def sync(self, terminal_id: str) -> None:
        try:
            self.parts[terminal_id][2].sync_once(pull=True, heartbeat=False)
        except SyncError:
            pass  # the central is down: the outbox waits

    def run_child(self, terminal_id: str, seed: int, kill_after_s: float) -> None:
        """The reader's process pays offline until SIGKILLed ``kill_after_s`` seconds after it started paying."""
        store, _, client = self.parts[terminal_id]
        child = subprocess.Popen([sys.executable, str(CHILD), str(self.tmp / f"{terminal_id}.db"), terminal_id,
                                  str(seed)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert child.stdout is not None
        first = child.stdout.readline()  # started paying (or refusing)
        time.sleep(kill_after_s)
        child.send_signal(signal.SIGKILL)
        out = first + child.stdout.read()
        child.wait(10)
        self.children_committed |= {line.split()[1].decode() for line in out.splitlines()
                                    if line.startswith(b"P ") and len(line.split()) == 2}

    def close(self) -> None:
        for store, _, client in self.parts.values():
            client.stop()
            store.close()
        self.central.kill()


pay = st.tuples(st.just("pay"), st.sampled_from(READERS), st.sampled_from(CARDS), st.integers(1, 2))
sync_step = st.tuples(st.just("sync"), st.sampled_from(READERS))
steps = st.lists(st.one_of(
    pay, pay, pay, sync_step, sync_step,  # payments and syncs come most often, as in a canteen
    st.tuples(st.just("topup"), st.sampled_from(CARDS), st.integers(1, 40).map(lambda y: y * 100)),
    st.tuples(st.just("void"), st.sampled_from(READERS), st.integers(0, 5)),
    st.tuples(st.just("kill_reader"), st.sampled_from(READERS), st.integers(0, 10**6), st.floats(0.0, 0.15)),
    st.tuples(st.just("kill_central")),
    st.tuples(st.just("start_central")),
), min_size=8, max_size=24)


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(program=steps)
def test_no_interleaving_of_payments_syncs_and_crashes_loses_or_doubles_money(tmp_path_factory, program):
    world = World(tmp_path_factory.mktemp("money"))
    try:
        # Every card starts with money from the service centre.
        for card in CARDS:
            world.parts["counter-1"][1].topup(card, 5000, "cash", "staff-1")
        world.sync("counter-1")
        for step in program:
            run_step(world, step)
        if not world.central.up:
            world.central.start()
        for _ in range(3):  # everything online: push and pull until every outbox is empty
            for terminal_id in world.parts:
                world.sync(terminal_id)
        figures = check_invariants(world)
        event(f"entries posted: {min(figures['posted'] // 10 * 10, 40)}+")
        event(f"children's payments: {'some' if world.children_committed else 'none'}")
        event(f"subsidies reversed: {'some' if figures['reversed'] else 'none'}")
    finally:
        world.close()


def run_step(world: World, step: tuple) -> None:
    """Carry out one drawn step; refusals are normal outcomes, not failures."""
    kind = step[0]
    if kind == "topup":
        world.parts["counter-1"][1].topup(step[1], step[2], "cash", "staff-1")
        world.sync("counter-1")
    elif kind == "pay":
        _, reader, card, qty = step
        items = [{"item_id": f"set-{qty}", "name": "套餐", "qty": qty, "unit_fen": 1500}]
        try:
            world.parts[reader][1].pay(card, items, lambda used: Quote(used, qty))
        except PaymentError:
            pass
    elif kind == "void":
        _, reader, index = step
        store, payments, _ = world.parts[reader]
        with store.action():
            paid = [e for e in payments.journal.for_day(dt.date.today().isoformat()) if e.type == "payment"]
        if paid:
            try:
                payments.void(paid[index % len(paid)].entry_id, "点错菜", "staff-7")
            except PaymentError:
                pass  # already voided
    elif kind == "sync":
        world.sync(step[1])
    elif kind == "kill_reader":
        world.run_child(step[1], step[2], step[3])
    elif kind == "kill_central":
        world.central.kill()
    elif kind == "start_central" and not world.central.up:
        world.central.start()


def check_invariants(world: World) -> dict[str, int]:
    """The ledger checks listed in the module docstring; returns what the example exercised."""
    journals: dict[str, set[str]] = {}
    for terminal_id, (store, _, _) in world.parts.items():
        assert store.pending_events() == [], f"{terminal_id} still has unacknowledged events"
        with store.action():
            journals[terminal_id] = {e.entry_id for e in CardJournal(store).for_day(dt.date.today().isoformat())}
    committed = set().union(*journals.values())
    assert world.children_committed <= committed, "a payment a killed reader printed as done is missing"
    central = CentralStore.open(world.central.db)
    try:
        with central.engine.connect() as conn:
            sql = conn.exec_driver_sql
            posted = [r[0] for r in sql("SELECT entry_id FROM card_entries WHERE type IN "
                                        "('payment', 'void', 'topup')").fetchall()]
            assert len(posted) == len(set(posted)), "an entry was posted twice"
            assert set(posted) == committed, "posted entries differ from what the readers committed"
            assert sql("SELECT count(*) FROM card_problems").scalar() == 0
            assert sql("SELECT coalesce(sum(amount_fen), 0) FROM card_movements").scalar() == 0
            for account, cached in sql("SELECT account, balance_fen FROM card_balances").fetchall():
                summed = sql("SELECT coalesce(sum(amount_fen), 0) FROM card_movements WHERE account = ?",
                             (account,)).scalar()
                assert cached == summed, account
            grants = sql("SELECT card_no, day, count(*) FROM card_subsidy_grants GROUP BY card_no, day").fetchall()
            assert all(n == 1 for _, _, n in grants)
            for card in CARDS:
                kept = sql("SELECT coalesce(sum(e.subsidy_fen), 0) FROM card_entries e WHERE e.card_no = ? AND "
                           "e.type = 'payment' AND e.voided_by IS NULL", (card,)).scalar()
                reversed_ = -sql("SELECT coalesce(sum(amount_fen), 0) FROM card_movements WHERE card_no = ? AND "
                                 "kind = 'adjustment' AND account LIKE 'card:%'", (card,)).scalar()
                assert kept - reversed_ <= 300, f"{card} kept more than one daily subsidy"
                balance = sql("SELECT balance_fen FROM card_balances WHERE account = ?", (f"card:{card}",)).scalar()
                bound = len(READERS) * LIMITS.per_day_fen + reversed_
                assert balance is not None and balance >= -(LIMITS.overdraft_fen + bound), (card, balance)
            adjustments = sql("SELECT count(*) FROM card_movements WHERE kind = 'adjustment'").scalar()
    finally:
        central.close()
    return {"posted": len(posted), "reversed": int(adjustments)}
