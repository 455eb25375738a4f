"""The card ledger under operations: append-only movements, concurrent pushes, publishing balances after an import.

Every test runs once per backend (``central_db_url``).
"""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from sync.central.card.queries import ledger_check
from sync.central.card.schema import card_entries, card_movements
from sync.central.cli import main
from sync.central.db import read_transaction, write_transaction
from sync.central.reference import RowChange
from sync.central.storage import CentralStore
from tests.test_central_card_ledger import CARD, Terminal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    yield s
    s.close()


def test_the_database_refuses_to_change_or_delete_a_movement(store):
    store.enrol("counter", "site-c", "counter-01")
    store.push("counter-01", [Terminal("counter-01").topup(amount=500)])
    for statement in (update(card_movements).values(amount_fen=5), delete(card_movements)):
        with pytest.raises(DBAPIError, match="append-only"), write_transaction(store.engine) as conn:
            conn.execute(statement)
    with read_transaction(store.engine) as conn:
        assert [int(a) for a in conn.execute(select(card_movements.c.amount_fen).order_by(card_movements.c.id))
                .scalars()] == [500, -500]


def test_concurrent_subsidised_payments_at_two_canteens_leave_one_subsidy_per_card(store):
    canteens = [Terminal("canteen-01"), Terminal("canteen-02")]
    for t, site in zip(canteens, ("site-a", "site-b"), strict=True):
        store.enrol("canteen", site, t.terminal_id)
    cards = [f"0A{i:06X}" for i in range(12)]
    batches = {t.terminal_id: [t.pay(card=c, gross=1000, subsidy=300) for c in cards] for t in canteens}
    errors: list[BaseException] = []
    start = threading.Barrier(len(canteens))

    def push(terminal_id: str) -> None:
        try:
            start.wait(10)
            for event in batches[terminal_id]:
                store.push(terminal_id, [event])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(t.terminal_id,)) for t in canteens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with read_transaction(store.engine) as conn:
        check = ledger_check(conn)
        adjusted = conn.execute(select(card_entries.c.card_no).where(card_entries.c.type == "adjustment")).scalars()
        assert sorted(adjusted) == cards  # each card's second subsidy reversed, whichever canteen came second
    assert check.ok and check.total_fen == 0 and check.subsidy_days_granted_twice == 0, check


def test_publish_sends_balances_to_sites_that_listed_the_card_after_its_postings(central_db_url, capsys):
    store = CentralStore.open(central_db_url)
    try:
        store.enrol("counter", "site-c", "counter-01")
        store.push("counter-01", [Terminal("counter-01").topup(amount=700)])
        store.apply_reference("site-a", "card", [RowChange(CARD, "upsert", {"status": "active"})])
        assert "balance" not in store.changes_json("site-a", 0, 100)
    finally:
        store.close()
    assert main(["--db", central_db_url, "card", "publish"]) == 0
    assert "1 balance row(s) published for 1 card(s)" in capsys.readouterr().out
    store = CentralStore.open(central_db_url)
    try:
        rows = [c for c in json.loads(store.changes_json("site-a", 0, 100))["changes"] if c["kind"] == "balance"]
    finally:
        store.close()
    assert [(r["key"], r["data"]["balance_fen"]) for r in rows] == [(CARD, 700)]
    assert main(["--db", central_db_url, "card", "publish"]) == 0
    assert "0 balance row(s) published" in capsys.readouterr().out  # unchanged: no new cursor
