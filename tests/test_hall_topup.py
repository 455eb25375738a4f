"""Community-card top-ups through the hall's LAN service, on a real uvicorn over loopback.

The hall's store holds the card journal and the pulled card list; a clerk logged in at a counter
looks a card up and tops it up.  Checked: a session is required (and must be that window's),
bodies are strict JSON, a retried request id credits once (also when copies race), lost, blocked,
denied and unknown cards are refused in words, the amount limits hold, and an answer names the
holder only by the masked name.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.canteen.journal import CANTEEN_MIGRATIONS, CardJournal
from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.auth import sign_headers
from kiosk.hall.checkin.setup import hall_topups
from kiosk.hall.client import HallClient, HallRefused, HallStaffRefused, new_request_id
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import ScryptParams, StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.hall.topups import TOPUP_MIGRATIONS, HallTopups
from kiosk.reference import ReferenceData
from kiosk.store import Store
from sync import apply
from sync.protocol import Change, ChangesResponse

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = b"linfen-hall-secret-0123456789"
PERSON_KEY = b"linfen-test-person-key-0123456789"
PIN = "2580"
SERVICES = [{"code": "A", "name_zh": "综合受理", "name_en": "General services", "daily_cap": 999}]
ACTIVE, LOST, BLOCKED, DENIED, UNKNOWN = "4B45B478", "0A1B2C3D", "0A1B2C3E", "0A1B2C3F", "DEADBEEF"
CARDS = {
    ACTIVE: {"card_no": ACTIVE, "status": "active", "masked_name": "陈*英", "birth_year": 1948},
    LOST: {"card_no": LOST, "status": "lost", "masked_name": "李*华"},
    BLOCKED: {"card_no": BLOCKED, "status": "blocked", "masked_name": "王*明"},
    DENIED: {"card_no": DENIED, "status": "active", "masked_name": "赵*兰"},
}
ID_NUMBER = re.compile(r"\d{17}[\dX]")


def staff_card(i: int) -> str:
    return f"C0FFEE{i:02X}"


def load_reference(store: Store, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Apply ``(kind, key, data)`` rows as one page of the central's change feed."""
    start = apply.read_cursor(store)
    changes = [Change(cursor=start + i + 1, kind=kind, key=key, op="upsert", data=data)
               for i, (kind, key, data) in enumerate(rows)]
    apply.apply_page(store, ChangesResponse(changes=changes, cursor=start + len(rows), more=False), start)


def open_hall_store(path: Path) -> Store:
    """The hall's store as open_hall opens it: queue, staff, card journal, top-up requests, pulled data."""
    return Store.open(path, "hall-01", extra_migrations=(HALL_MIGRATIONS, STAFF_ALERT_MIGRATIONS, CANTEEN_MIGRATIONS,
                                                         TOPUP_MIGRATIONS, apply.MIGRATIONS))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_hall_store(tmp_path / "hall.db")
    load_reference(s, [*(("card", no, row) for no, row in CARDS.items()),
                       ("blacklist", DENIED, {"card_no": DENIED, "reason": "reported stolen", "listed_at": "2026-12-01"}),
                       ("balance", ACTIVE, {"balance_fen": 5000, "as_of": "2026-12-03T08:00:00+08:00",
                                            "subsidy_day": None})])
    yield s
    s.close()


@pytest.fixture
def topups(store: Store) -> Iterator[HallTopups]:
    ref = ReferenceData(store, watch=False)
    yield hall_topups(SimpleNamespace(store=store, reference=ref))  # the wiring open_hall uses
    ref.close()


@pytest.fixture
def server(store: Store, topups: HallTopups) -> Iterator[HallServer]:
    staff = StaffRegistry(store, PERSON_KEY, kdf=ScryptParams(n=2**10))
    for i in (1, 2):
        staff.set(f"s00{i}", f"王*{i}", staff_card(i), PIN)
    queue = HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict"))
    srv = HallServer(create_app(queue, SECRET, staff=staff, topups=topups, keepalive_s=0.5))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: HallServer) -> Iterator[HallClient]:
    with HallClient(server.url, SECRET) as c:
        c.login(2, staff_card(1), PIN, ["A"])
        yield c


def topup_events(store: Store) -> list[Any]:
    return [e for e in store.pending_events(1000) if e.type == "card.topup"]


def raw_post(server: HallServer, path: str, body: bytes) -> httpx.Response:
    """A correctly signed POST with exactly ``body`` (to send what the client never would)."""
    request = httpx.Request("POST", server.url + path, content=body, headers={"content-type": "application/json"})
    request.headers.update(sign_headers(SECRET, "POST", request.url.raw_path, body))
    with httpx.Client(timeout=5) as http:
        return http.send(request)


def raw_get(server: HallServer, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", server.url + path, params=params)
    request.headers.update(sign_headers(SECRET, "GET", request.url.raw_path, b""))
    with httpx.Client(timeout=5) as http:
        return http.send(request)


def who(client: HallClient, window: int = 2) -> dict[str, str]:
    session = client.session(window)
    assert session is not None
    return {"session": session.token, "staff_id": session.staff_id}


# -- the top-up ---------------------------------------------------------------------------------------------
def test_a_clerk_sees_the_card_and_tops_it_up_attributed_to_the_session(client: HallClient, store: Store):
    card = client.card_info(2, ACTIVE)
    assert (card.status, card.masked_name, card.balance_fen, card.refusal) == ("active", "陈*英", 5000, None)
    assert card.balance_as_of == "2026-12-03T08:00:00+08:00"
    done = client.topup(2, ACTIVE.lower(), 10_000, "cash", new_request_id())  # a typed number in lower case
    assert (done.card_no, done.amount_fen, done.method, done.staff_id) == (ACTIVE, 10_000, "cash", "s001")
    assert (done.masked_name, done.repeat, done.balance_fen) == ("陈*英", False, 15_000)
    [event] = topup_events(store)
    assert event.id == done.entry_id
    payload = event.payload
    assert {k: payload[k] for k in ("card_no", "amount_fen", "method", "staff", "reader_id", "entry_id")} == {
        "card_no": ACTIVE, "amount_fen": 10_000, "method": "cash", "staff": "s001", "reader_id": "hall-01",
        "entry_id": done.entry_id}
    assert isinstance(payload["counter"], int) and payload["day"] and payload["at"]
    [entry] = CardJournal(store).for_card(ACTIVE)
    assert (entry.type, entry.debit_fen, entry.entry_id) == ("topup", -10_000, done.entry_id)
    assert client.card_info(2, ACTIVE).balance_fen == 15_000  # the hall's own top-up counts until the central's


def test_an_answer_names_the_holder_only_by_the_masked_name(client: HallClient, server: HallServer):
    rid = new_request_id()
    answer = raw_post(server, "/v1/counters/2/cards/topup", json.dumps(
        {**who(client), "request_id": rid, "card_no": ACTIVE, "amount_fen": 100, "method": "transfer"}).encode())
    assert answer.status_code == 200
    card = raw_get(server, f"/v1/counters/2/cards/{ACTIVE}", who(client))
    for text in (answer.text, card.text):
        assert "陈*英" in text and not ID_NUMBER.search(text) and '"h"' not in text and "birth" not in text


def test_a_repeated_request_id_credits_once_and_answers_the_stored_top_up(client: HallClient, store: Store):
    rid = new_request_id()
    first = client.topup(2, ACTIVE, 5_000, "cash", rid)
    again = client.topup(2, ACTIVE, 5_000, "cash", rid)  # the answer to the first was lost: the counter retries
    assert again.repeat and not first.repeat
    assert (again.entry_id, again.at, again.masked_name) == (first.entry_id, first.at, first.masked_name)
    assert len(topup_events(store)) == 1 and len(CardJournal(store).for_card(ACTIVE)) == 1
    assert again.balance_fen == 10_000
    with pytest.raises(HallRefused) as info:  # the same id for another amount is a bug in the counter, not a retry
        client.topup(2, ACTIVE, 6_000, "cash", rid)
    assert info.value.reason == "request_reused" and info.value.words_zh == "此请求编号已用于另一笔充值"
    assert len(topup_events(store)) == 1


def test_copies_of_one_request_racing_credit_once(client: HallClient, server: HallServer, store: Store):
    rid = new_request_id()
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        with HallClient(server.url, SECRET) as c:
            c.sessions[2] = client.sessions[2]
            barrier.wait()
            results.append(c.topup(2, ACTIVE, 2_000, "cash", rid))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8 and len({r.entry_id for r in results}) == 1
    assert sorted(r.repeat for r in results) == [False] + [True] * 7
    assert len(topup_events(store)) == 1


# -- who may --------------------------------------------------------------------------------------------------
def test_a_top_up_needs_the_windows_open_session(client: HallClient, server: HallServer, store: Store):
    body = {"request_id": new_request_id(), "card_no": ACTIVE, "amount_fen": 1000, "method": "cash"}
    cases = {
        "no_session": {"session": "x" * 43, "staff_id": "s001"},
        "wrong_staff": {**who(client), "staff_id": "s002"},
    }
    for reason, session in cases.items():
        answer = raw_post(server, "/v1/counters/2/cards/topup", json.dumps({**body, **session}).encode())
        assert (answer.status_code, answer.json()["error"]) == (403, reason)
    other_window = raw_post(server, "/v1/counters/3/cards/topup", json.dumps({**body, **who(client)}).encode())
    assert (other_window.status_code, other_window.json()["error"]) == (403, "wrong_window")
    missing = raw_post(server, "/v1/counters/2/cards/topup", json.dumps(body).encode())
    assert missing.status_code == 422  # session and staff id are required fields
    looked_up = raw_get(server, f"/v1/counters/2/cards/{ACTIVE}")
    assert (looked_up.status_code, looked_up.json()["error"]) == (403, "no_session")
    session = who(client)
    client.logout(2)
    ended = raw_post(server, "/v1/counters/2/cards/topup", json.dumps({**body, **session}).encode())
    assert (ended.status_code, ended.json()["error"]) == (403, "session_ended")
    assert raw_get(server, f"/v1/counters/2/cards/{ACTIVE}", session).status_code == 403
    with pytest.raises(HallStaffRefused) as info:  # the client knows it has no session: nothing is sent
        client.topup(2, ACTIVE, 1000, "cash", new_request_id())
    assert info.value.reason == "no_session"
    assert topup_events(store) == []


def test_top_up_bodies_are_strict_json(client: HallClient, server: HallServer, store: Store):
    good = {**who(client), "request_id": new_request_id(), "card_no": ACTIVE, "amount_fen": 1000, "method": "cash"}
    bad_bodies = [
        json.dumps({**good, "amount_fen": "1000"}),
        json.dumps({**good, "amount_fen": 1000.0}),
        json.dumps({**good, "amount_fen": True}),
        json.dumps(good).replace('"amount_fen": 1000', '"amount_fen": NaN'),
        json.dumps(good).replace('"amount_fen": 1000', '"amount_fen": Infinity'),
        json.dumps({**good, "method": "card"}),
        json.dumps({**good, "staff": "boss"}),  # unknown field: the clerk is the session's, never the body's
        json.dumps({**good, "card_no": "4B45B47"}),
        json.dumps({**good, "card_no": "ZZZZZZZZ"}),
        json.dumps({**good, "request_id": "short"}),
        json.dumps(good).replace(ACTIVE, "\\ud800" + ACTIVE[1:]),
        json.dumps({**good, "amount_fen": 10**30}),
        '{"amount_fen": 1000,',
        "[]",
    ]
    for body in bad_bodies:
        answer = raw_post(server, "/v1/counters/2/cards/topup", body.encode())
        assert answer.status_code == 422, body
        assert answer.json()["error"] in ("bad_request", "bad_amount"), body
    assert topup_events(store) == []
    assert raw_post(server, "/v1/counters/2/cards/topup", json.dumps(good).encode()).status_code == 200
    assert raw_get(server, "/v1/counters/2/cards/NOTACARD", who(client)).status_code == 422


# -- what is refused ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("card_no", "reason", "status", "zh"), [
    (LOST, "lost", 409, "此卡已挂失，不能充值"),
    (BLOCKED, "blocked", 409, "此卡已冻结，不能充值"),
    (DENIED, "denied", 409, "此卡在禁用名单上（reported stolen），不能充值"),
    (UNKNOWN, "unknown_card", 404, "此卡未在一卡通系统登记，请核对卡号"),
])
def test_cards_that_may_not_be_topped_up_are_refused_in_words(client: HallClient, server: HallServer, store: Store,
                                                              card_no: str, reason: str, status: int, zh: str):
    with pytest.raises(HallRefused) as info:
        client.topup(2, card_no, 10_000, "cash", new_request_id())
    assert (info.value.reason, info.value.words_zh) == (reason, zh)
    answer = raw_post(server, "/v1/counters/2/cards/topup", json.dumps(
        {**who(client), "request_id": new_request_id(), "card_no": card_no, "amount_fen": 100,
         "method": "cash"}).encode())
    assert (answer.status_code, answer.json()["error"]) == (status, reason)
    assert topup_events(store) == [] and CardJournal(store).for_card(card_no) == []
    if reason == "unknown_card":
        with pytest.raises(HallRefused) as looked_up:
            client.card_info(2, card_no)
        assert looked_up.value.reason == "unknown_card"
    else:  # the clerk sees the card and why it is refused before taking any money
        card = client.card_info(2, card_no)
        assert (card.status, card.refusal, card.words_zh) == (reason, reason, zh)
        assert card.masked_name == CARDS[card_no]["masked_name"] and card.balance_fen is None


def test_amount_limits(client: HallClient, store: Store):
    for amount in (0, -100, 100_001, 10**9):
        with pytest.raises(HallRefused) as info:
            client.topup(2, ACTIVE, amount, "cash", new_request_id())
        assert (info.value.reason, info.value.words_zh) == ("bad_amount", "充值金额须在 0.01 至 1000 元之间"), amount
    assert topup_events(store) == []
    assert client.topup(2, ACTIVE, 1, "cash", new_request_id()).amount_fen == 1
    assert client.topup(2, ACTIVE, 100_000, "transfer", new_request_id()).balance_fen == 5000 + 1 + 100_000
    assert [e.payload["amount_fen"] for e in topup_events(store)] == [1, 100_000]


def test_a_hall_without_top_ups_says_so(store: Store):
    staff = StaffRegistry(store, PERSON_KEY, kdf=ScryptParams(n=2**10))
    staff.set("s001", "王*1", staff_card(1), PIN)
    queue = HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict"))
    with HallServer(create_app(queue, SECRET, staff=staff)) as srv, HallClient(srv.url, SECRET) as c:
        c.login(1, staff_card(1), PIN, ["A"])
        with pytest.raises(HallRefused) as info:
            c.topup(1, ACTIVE, 1000, "cash", new_request_id())
        assert (info.value.reason, info.value.words_zh) == ("no_topups", "本大厅未开通一卡通充值")
        with pytest.raises(HallRefused):
            c.card_info(1, ACTIVE)


# -- hostile bodies -------------------------------------------------------------------------------------------
_values = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from([ACTIVE, LOST, UNKNOWN, "cash", "transfer", 1000, 100_000]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(["request_id", "card_no", "amount_fen", "method", "staff", "x"]),
                              _values, max_size=6),
       keep=st.sets(st.sampled_from(["request_id", "card_no", "amount_fen", "method"])))
def test_hostile_top_up_bodies_never_get_a_server_error_and_never_credit_outside_the_rules(
        client: HallClient, server: HallServer, store: Store, fields: dict[str, Any], keep: set[str]):
    good = {"request_id": new_request_id(), "card_no": ACTIVE, "amount_fen": 1000, "method": "cash"}
    body = {**who(client), **{k: v for k, v in good.items() if k in keep}, **fields}
    before = len(topup_events(store))
    answer = raw_post(server, "/v1/counters/2/cards/topup", json.dumps(body).encode())
    assert answer.status_code < 500, answer.text
    credited = len(topup_events(store)) - before
    if answer.status_code == 200:
        done = answer.json()["topup"]
        assert credited == (0 if done["repeat"] else 1)
        assert body["card_no"].upper() == ACTIVE and body["method"] in ("cash", "transfer")
        assert type(body["amount_fen"]) is int and 1 <= body["amount_fen"] <= 100_000
    else:
        assert credited == 0 and "error" in answer.json() and answer.json()["words_zh"]
