"""The central's community-card ledger (sync/central/card/): postings, voids, subsidy reconciliation, problems.

Every test taking ``central_db_url`` (directly or through ``store``/``central``) runs once per backend.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from sync.central.card import consumer as card_consumer
from sync.central.card.queries import ledger_check, problems, statement
from sync.central.card.schema import card_balances, card_entries, card_movements
from sync.central.cli import main
from sync.central.db import read_transaction
from sync.central.reference import RowChange
from sync.central.storage import CentralStore
from sync.protocol import EventEnvelope
from tests.central_fixtures import push_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DAY = "2025-03-03"
CARD = "04A1B2C3"
TERMINALS = {  # terminal id: (role, site)
    "canteen-01": ("canteen", "site-a"), "canteen-02": ("canteen", "site-b"), "cinema-01": ("cinema", "site-a"),
    "counter-01": ("counter", "site-c"), "hall-01": ("hall", "site-a"),
}


class Terminal:
    """Makes one terminal's money events with its own seq and journal counter."""

    def __init__(self, terminal_id: str) -> None:
        self.terminal_id = terminal_id
        self.seq = 0
        self.counter = 0

    def event(self, type_: str, fields: dict[str, Any], *, raw: bool = False) -> EventEnvelope:
        """An event of ``type_``; unless ``raw``, the payload gets entry_id, reader_id and counter."""
        self.seq += 1
        self.counter += 1
        eid = uuid.uuid4()
        payload = fields if raw else {"entry_id": str(eid), "reader_id": self.terminal_id, "counter": self.counter,
                                      **fields}
        return EventEnvelope(id=eid, terminal_id=self.terminal_id, seq=self.seq, type=type_, occurred_at=T0,
                             payload=payload)

    def pay(self, card: str = CARD, gross: int = 1500, discount: int = 0, subsidy: int = 0, day: str = DAY,
            **over: Any) -> EventEnvelope:
        """A ``card.payment``; ``over`` replaces payload fields."""
        fields = {"card_no": card, "day": day, "items": [{"item_id": "m1", "name": "面", "qty": 1, "unit_fen": gross}],
                  "gross_fen": gross, "discount_fen": discount, "subsidy_fen": subsidy,
                  "subsidy_tier": "age80" if subsidy else None, "paid_fen": gross - discount - subsidy,
                  "age_band": "80+", "group": None, "policy": "canteen:1", "offline": False, "balance_before_fen": 0}
        return self.event("card.payment", {**fields, **over})

    def void(self, payment: EventEnvelope, **over: Any) -> EventEnvelope:
        """A ``card.void`` of ``payment`` with the amounts it carried."""
        p = payment.payload
        fields = {"card_no": p["card_no"], "voids": str(payment.id), "refund_fen": p["paid_fen"],
                  "subsidy_fen": p["subsidy_fen"], "reason": "wrong dish", "staff": "staff-07"}
        return self.event("card.void", {**fields, **over})

    def topup(self, card: str = CARD, amount: int = 10000, **over: Any) -> EventEnvelope:
        """A ``card.topup`` at the service centre."""
        return self.event("card.topup", {"card_no": card, "amount_fen": amount, "method": "cash", "staff": "staff-01",
                                         **over})


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    for terminal_id, (role, site) in TERMINALS.items():
        s.enrol(role, site, terminal_id)
    yield s
    s.close()


@pytest.fixture
def t() -> dict[str, Terminal]:
    return {terminal_id: Terminal(terminal_id) for terminal_id in TERMINALS}


def push(store: CentralStore, events: list[EventEnvelope]) -> list[str]:
    """Push ``events`` (all of one terminal); returns the ack statuses."""
    outcome = store.push(events[0].terminal_id, events)
    return [a.status for a in outcome.response.acks]


def balances(store: CentralStore) -> dict[str, int]:
    with read_transaction(store.engine) as conn:
        return {r.account: int(r.balance_fen) for r in conn.execute(select(card_balances))}


def movement_sums(store: CentralStore) -> dict[str, int]:
    with read_transaction(store.engine) as conn:
        rows = conn.execute(select(card_movements.c.account, func.sum(card_movements.c.amount_fen))
                            .group_by(card_movements.c.account))
        return {a: int(s) for a, s in rows if int(s) != 0}


def check(store: CentralStore) -> Any:
    with read_transaction(store.engine) as conn:
        return ledger_check(conn)


def problem_reasons(store: CentralStore) -> list[str]:
    with read_transaction(store.engine) as conn:
        return [p.reason for p in problems(conn).problems]


def card_statement(store: CentralStore, card: str = CARD) -> Any:
    with read_transaction(store.engine) as conn:
        return statement(conn, card)


def assert_ledger_sound(store: CentralStore) -> None:
    result = check(store)
    assert result.ok, result
    assert result.total_fen == 0 and result.mismatched == [] and result.unbalanced_entries == []
    assert {a: b for a, b in balances(store).items() if b != 0} == movement_sums(store)


# -- postings -----------------------------------------------------------------------------------------
def test_topup_and_payment_post_balanced_entries_and_the_balance_is_the_sum(store, t):
    assert push(store, [t["counter-01"].topup(amount=10000)]) == ["stored"]
    assert push(store, [t["canteen-01"].pay(gross=1500, discount=100, subsidy=400)]) == ["stored"]
    assert balances(store) == {f"card:{CARD}": 9000, "cash:counter-01": -10000, "subsidy_fund": -400,
                               "canteen:site-a": 1400}
    assert_ledger_sound(store)
    s = card_statement(store)
    assert [(line.kind, line.amount_fen, line.balance_fen) for line in s.lines] == [
        ("topup", 10000, 10000), ("payment", -1000, 9000)]
    assert s.lines[1].subsidy_fen == 400 and s.balance_fen == 9000 and s.subsidy_day == DAY
    assert (s.totals.given_fen, s.totals.spent_fen, s.totals.subsidy_fen) == (10000, 1000, 400)
    assert "staff-01" in s.lines[0].note


def test_a_cinema_payment_goes_to_the_cinema_account_and_other_events_are_left_alone(store, t):
    hall = t["hall-01"]
    other = hall.event("ticket.issued", {"n": 1}, raw=True)
    assert push(store, [other]) == ["stored"]
    push(store, [t["cinema-01"].pay(gross=800)])
    assert balances(store) == {f"card:{CARD}": -800, "cinema:site-a": 800}
    assert problem_reasons(store) == []


def test_a_repeated_payment_is_posted_once(store, t):
    pay = t["canteen-01"].pay(gross=1200)
    assert push(store, [pay, pay]) == ["stored", "duplicate"]
    assert push(store, [pay]) == ["duplicate"]
    with read_transaction(store.engine) as conn:
        assert conn.execute(select(func.count()).select_from(card_entries)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(card_movements)).scalar_one() == 2
    assert balances(store)[f"card:{CARD}"] == -1200
    assert_ledger_sound(store)


def test_a_void_reverses_the_payment_once_and_a_second_void_is_a_visible_problem(store, t):
    c = t["canteen-01"]
    push(store, [t["counter-01"].topup(amount=5000)])
    pay = c.pay(gross=1500, subsidy=500)
    push(store, [pay])
    first, second = c.void(pay), c.void(pay)
    assert push(store, [first, second]) == ["stored", "stored"]
    assert balances(store)[f"card:{CARD}"] == 5000
    assert {a: b for a, b in balances(store).items() if b} == {f"card:{CARD}": 5000, "cash:counter-01": -5000}
    assert problem_reasons(store) == ["already_voided"]
    with read_transaction(store.engine) as conn:
        [p] = problems(conn).problems
        voided_by = conn.execute(select(card_entries.c.voided_by).where(
            card_entries.c.entry_id == str(pay.id))).scalar_one()
    assert p.event_id == str(second.id) and str(first.id) in p.detail and voided_by == str(first.id)
    s = card_statement(store)
    assert [line.kind for line in s.lines] == ["topup", "payment", "refund"]
    assert s.lines[-1].refers_to == str(pay.id) and s.subsidy_day is None  # the day's subsidy is free again
    assert (s.totals.spent_fen, s.totals.subsidy_fen) == (0, 0)
    assert_ledger_sound(store)


def test_voids_that_do_not_match_a_posted_payment_are_refused(store, t):
    c = t["canteen-01"]
    pay = c.pay(gross=1500)
    unknown = c.pay(gross=999)  # never pushed
    topup = t["counter-01"].topup()
    push(store, [topup])
    push(store, [pay])
    batch = [c.void(unknown), c.void(pay, refund_fen=100), c.void(pay, card_no="04FFFFFF"),
             c.event("card.void", {"card_no": CARD, "voids": str(topup.id), "refund_fen": 10000, "subsidy_fen": 0,
                                   "reason": "", "staff": "s"})]
    assert push(store, batch) == ["stored"] * 4
    assert problem_reasons(store) == ["void_unknown_entry", "void_amount_mismatch", "void_card_mismatch",
                                      "void_not_a_payment"]
    assert balances(store)[f"card:{CARD}"] == 10000 - 1500
    assert_ledger_sound(store)


# -- daily subsidy -------------------------------------------------------------------------------------
def test_a_second_subsidy_on_one_day_is_reversed_by_a_visible_adjustment(store, t):
    first = t["canteen-01"].pay(gross=1500, subsidy=500)
    second = t["canteen-02"].pay(gross=1200, subsidy=500)
    other_day = t["canteen-02"].pay(gross=1200, subsidy=500, day="2025-03-04")
    push(store, [first])
    push(store, [second, other_day])
    s = card_statement(store)
    assert [(line.kind, line.amount_fen) for line in s.lines] == [
        ("payment", -1000), ("payment", -700), ("adjustment", -500), ("payment", -700)]
    adjustment = s.lines[2]
    assert adjustment.entry_id == f"adj:{second.id}" and adjustment.refers_to == str(second.id)
    assert str(first.id) in adjustment.note and str(second.id) in adjustment.note
    assert balances(store)["subsidy_fund"] == -1000  # two days, one subsidy each
    assert s.subsidy_day == "2025-03-04" and s.totals.subsidy_fen == 1000 and s.totals.adjustments_fen == 500
    assert check(store).subsidy_days_granted_twice == 0
    assert_ledger_sound(store)


def test_voiding_the_first_payment_does_not_resurrect_the_second_subsidy_but_frees_the_day(store, t):
    a, b = t["canteen-01"], t["canteen-02"]
    first, second = a.pay(gross=1500, subsidy=500), b.pay(gross=1200, subsidy=500)
    push(store, [first])
    push(store, [second])
    push(store, [a.void(first)])
    assert balances(store)[f"card:{CARD}"] == -1200  # the second paid its full price after the adjustment
    third = a.pay(gross=1000, subsidy=500)  # posted after the void: the day's subsidy is free, it keeps it
    push(store, [third])
    assert balances(store)[f"card:{CARD}"] == -1200 - 500
    assert balances(store)["subsidy_fund"] == -500
    assert card_statement(store).subsidy_day == DAY
    assert_ledger_sound(store)


def test_voiding_an_adjusted_payment_reverses_its_adjustment_too(store, t):
    a, b = t["canteen-01"], t["canteen-02"]
    first, second = a.pay(gross=1500, subsidy=500), b.pay(gross=1200, subsidy=500)
    push(store, [first])
    push(store, [second])
    push(store, [b.void(second)])
    assert balances(store)[f"card:{CARD}"] == -1000
    assert {a: v for a, v in balances(store).items() if v} == {
        f"card:{CARD}": -1000, "subsidy_fund": -500, "canteen:site-a": 1500}
    assert [line.kind for line in card_statement(store).lines] == ["payment", "payment", "adjustment", "refund"]
    assert card_statement(store).lines[-1].amount_fen == 1200
    assert_ledger_sound(store)


# -- malformed payloads and roles -----------------------------------------------------------------------
MALFORMED = {
    "missing_field": {"paid_fen": None},  # None: the field is removed
    "bad_amount": {"gross_fen": -100, "paid_fen": -100},
    "amounts_disagree": {"paid_fen": 1},
    "bad_amount ": {"gross_fen": 1500.5},
    "bad_amount  ": {"gross_fen": "1500"},
    "bad_amount   ": {"discount_fen": True},
    "bad_card_no": {"card_no": "04a1b2c3"},
    "bad_day": {"day": "3 March"},
    "entry_id_mismatch": {"entry_id": str(uuid.uuid4())},
    "reader_mismatch": {"reader_id": "canteen-02"},
    "bad_counter": {"counter": -1},
}


@pytest.mark.parametrize("reason", sorted(MALFORMED))
def test_a_malformed_payment_is_a_problem_row_and_the_push_still_acks(store, t, reason):
    c = t["canteen-01"]
    bad = c.pay(gross=1500)
    for key, value in MALFORMED[reason].items():
        if value is None:
            del bad.payload[key]
        else:
            bad.payload[key] = value
    good = c.pay(gross=300)
    assert push(store, [bad, good]) == ["stored", "stored"]
    assert problem_reasons(store) == [reason.strip()]
    assert balances(store)[f"card:{CARD}"] == -300  # the good one after it was posted
    assert_ledger_sound(store)


def test_malformed_topups_and_voids_are_problem_rows(store, t):
    k, c = t["counter-01"], t["canteen-01"]
    batch = [k.topup(amount=0), k.topup(method="card"), k.topup(staff=""), k.topup(amount=10**13),
             k.event("card.topup", {"nothing": 1}, raw=True)]
    assert push(store, batch) == ["stored"] * 5
    assert push(store, [c.event("card.void", {"card_no": CARD, "voids": 5, "refund_fen": 0, "subsidy_fen": 0,
                                              "reason": "", "staff": "s"})]) == ["stored"]
    assert problem_reasons(store) == ["bad_amount", "bad_field", "bad_field", "bad_amount", "missing_field",
                                      "bad_field"]
    assert balances(store) == {}


def test_only_counters_and_halls_top_up_and_only_canteens_and_cinemas_pay_or_void(store, t):
    pay = t["canteen-01"].pay(gross=500)
    push(store, [pay])
    push(store, [t["hall-01"].pay(gross=500), t["hall-01"].void(pay)])
    push(store, [t["canteen-01"].topup()])
    push(store, [t["counter-01"].pay(gross=500), t["counter-01"].void(pay)])
    assert problem_reasons(store) == ["role_not_allowed"] * 5
    assert balances(store)[f"card:{CARD}"] == -500
    push(store, [t["hall-01"].topup()])  # the hall records top-ups for its counters (kiosk/hall/topups.py)
    assert problem_reasons(store) == ["role_not_allowed"] * 5
    assert balances(store)[f"card:{CARD}"] == -500 + 10000
    with read_transaction(store.engine) as conn:
        details = [p.detail for p in problems(conn).problems]
    assert "a hall terminal may not push card.payment (only canteen or cinema)" in details
    with read_transaction(store.engine) as conn:
        assert {p.card_no for p in problems(conn).problems} == {CARD}


def test_a_reused_journal_counter_is_refused(store, t):
    c = t["canteen-01"]
    first = c.pay(gross=500)
    c.counter -= 1
    again = c.pay(gross=700)
    push(store, [first, again])
    assert problem_reasons(store) == ["counter_reused"]
    assert balances(store)[f"card:{CARD}"] == -500


def test_a_bug_in_posting_becomes_a_problem_row_not_a_failed_push(store, t, monkeypatch):
    def broken(conn, poster, event):
        raise KeyError("oops")

    monkeypatch.setitem(card_consumer.POSTERS, "card.payment", broken)
    c = t["canteen-01"]
    assert push(store, [c.pay(), c.event("ticket.issued", {"n": 1}, raw=True)]) == ["stored", "stored"]
    assert problem_reasons(store) == ["internal_error"]
    assert store.event_count("canteen-01") == 2


# -- the balance feed, the HTTP API and the CLI ---------------------------------------------------------
def _feed(client, after: int = 0) -> list[dict]:
    r = client.get("/v1/reference/changes", params={"cursor": after})
    assert r.status_code == 200, r.text
    return r.json()["changes"]


def test_balances_reach_the_feed_of_each_site_listing_the_card(central):
    tokens = {tid: central.enrol(tid, site, role) for tid, (role, site) in TERMINALS.items()}
    for site in ("site-a", "site-b"):
        central.store.apply_reference(site, "card", [RowChange(CARD, "upsert", {"status": "active"})])
    t = {tid: Terminal(tid) for tid in TERMINALS}
    topup = t["counter-01"].topup(amount=5000)
    pay = t["canteen-01"].pay(gross=1500, subsidy=500)
    for terminal_id, events in (("counter-01", [topup]), ("canteen-01", [pay])):
        with central.client(tokens[terminal_id]) as c:
            body = push_body(terminal_id, [json.loads(e.model_dump_json(by_alias=True)) for e in events])
            assert c.post("/v1/events/push", json=body).status_code == 200
    with central.client(tokens["canteen-01"]) as a, central.client(tokens["canteen-02"]) as b, \
            central.client(tokens["counter-01"]) as k:
        rows_a = [ch for ch in _feed(a) if ch["kind"] == "balance"]
        rows_b = [ch for ch in _feed(b) if ch["kind"] == "balance"]
        assert [ch for ch in _feed(k) if ch["kind"] == "balance"] == []  # site-c does not list the card
        assert len(rows_a) == 1 and rows_a == rows_b
        data = rows_a[0]["data"]
        assert (rows_a[0]["key"], data["card_no"], data["balance_fen"], data["subsidy_day"]) == (CARD, CARD, 4000, DAY)
        assert data["as_of"] is not None
        end = a.get("/v1/reference/changes", params={"cursor": 0}).json()["cursor"]
        bad = t["canteen-01"].pay(gross=100, paid_fen=7)  # refused: nothing posted, nothing re-published
        body = push_body("canteen-01", [json.loads(bad.model_dump_json(by_alias=True))])
        assert a.post("/v1/events/push", json=body).status_code == 200
        assert _feed(a, end) == []


def test_the_operator_api_gives_statement_problems_and_the_check(central):
    token = central.enrol("canteen-01", "site-a", "canteen")
    c = Terminal("canteen-01")
    central.store.push("canteen-01", [c.pay(gross=1500, subsidy=500), c.pay(gross=900, paid_fen=1)])
    with central.client(central.admin_token) as admin, central.client(token) as terminal:
        s = admin.get(f"/v1/card/{CARD}/statement")
        assert s.status_code == 200, s.text
        assert [(line["kind"], line["balance_fen"]) for line in s.json()["lines"]] == [("payment", -1000)]
        assert s.json()["totals"]["subsidy_fen"] == 500
        p = admin.get("/v1/card/problems")
        assert [x["reason"] for x in p.json()["problems"]] == ["amounts_disagree"]
        assert admin.get("/v1/card/problems", params={"after": p.json()["next_after"]}).json()["problems"] == []
        ledger = admin.get("/v1/card/ledger/check").json()
        assert ledger["ok"] and ledger["total_fen"] == 0 and ledger["movements"] == 3
        assert admin.get("/v1/card/0BADCAFE/statement").status_code == 404
        assert admin.get("/v1/card/not-hex/statement").status_code == 422
        assert terminal.get(f"/v1/card/{CARD}/statement").status_code == 403
        assert terminal.get("/v1/card/ledger/check").status_code == 403


def test_the_cli_prints_a_statement_problems_and_the_check(central_db_url, capsys):
    store = CentralStore.open(central_db_url)
    try:
        store.enrol("counter", "site-c", "counter-01")
        k = Terminal("counter-01")
        store.push("counter-01", [k.topup(amount=2550), k.topup(amount=-1)])
    finally:
        store.close()
    assert main(["--db", central_db_url, "card", "statement", CARD]) == 0
    out = capsys.readouterr().out
    assert "balance 25.50 yuan" in out and "topup" in out and "given 25.50" in out
    assert main(["--db", central_db_url, "card", "problems"]) == 0
    assert "bad_amount" in capsys.readouterr().out
    assert main(["--db", central_db_url, "card", "check"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["--db", central_db_url, "card", "statement", "0BADCAFE"]) == 2
    assert "no entry for card 0BADCAFE" in capsys.readouterr().err
