"""Issue 10, findings 5, 7 and 9: hostile requests to the hall's LAN service get a 4xx with a reason, never a 500,
and a captured signed request is never accepted twice (not after a restart, not after the hall clock steps back)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.auth import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier, sign_headers
from kiosk.hall.errors import AuthError
from kiosk.hall.nonces import PRUNE_EVERY, StoreNonces
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import ScryptParams, StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = b"hostile-test-hall-secret-R4nd0m"
SERVICES = [{"code": "A", "name_zh": "综合受理", "name_en": "General", "daily_cap": 999}]
CARD, PIN = "C0FFEE01", "2580"


def _open(path: Path) -> tuple[Store, HallQueue, StaffRegistry]:
    store = Store.open(path, "hall-01", extra_migrations=(HALL_MIGRATIONS, STAFF_ALERT_MIGRATIONS))
    queue = HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict"))
    return store, queue, StaffRegistry(store, b"hostile-test-person-key-012345", kdf=ScryptParams(n=2**10))


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[HallServer, HallQueue]]:
    store, queue, staff = _open(tmp_path / "hall.db")
    staff.set("s001", "王*一", CARD, PIN)
    server = HallServer(create_app(queue, SECRET, staff=staff, keepalive_s=0.5))
    server.start()
    yield server, queue
    server.stop()
    store.close()


def signed(method: str, url: str, body: bytes = b"", headers: dict[str, bytes] | None = None) -> httpx.Request:
    request = httpx.Request(method, url, content=body, headers={"content-type": "application/json", **(headers or {})})
    request.headers.update(sign_headers(SECRET, method, request.url.raw_path, body))
    return request


@pytest.mark.parametrize("prefix", [b"\xa0", b"\x85", b"\xc2\xa0", b"+", b"0x"])
def test_a_timestamp_that_float_would_take_is_a_401_not_a_500(hall, prefix: bytes):
    """Finding 5: NBSP/NEL before the digits passed float() and crashed .encode('ascii') later."""
    server, _queue = hall
    stamp = prefix + f"{time.time():.3f}".encode()
    headers = [(TIMESTAMP_HEADER.encode(), stamp), (NONCE_HEADER.encode(), b"n" * 24),
               (SIGNATURE_HEADER.encode(), b"0" * 64)]
    answer = httpx.get(server.url + "/v1/health", headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "bad_timestamp"


@pytest.mark.parametrize("stamp", ["NaN", "inf", "1e9", "１７３３０４００００", "1733040000.", "-1733040000"])
def test_only_ascii_digits_are_a_timestamp(stamp: str):
    verifier = Verifier(SECRET, clock=lambda: 1733040000.0)
    with pytest.raises(AuthError) as info:
        verifier.verify("GET", b"/v1/health", {TIMESTAMP_HEADER: stamp, NONCE_HEADER: "n" * 24,
                                                SIGNATURE_HEADER: "0" * 64}, b"")
    assert info.value.reason == "bad_timestamp"


def test_a_signature_that_is_not_hex_is_refused_in_words(hall):
    server, _queue = hall
    good = signed("GET", server.url + "/v1/health")
    headers = [(k, v) for k, v in good.headers.raw if k.lower() != SIGNATURE_HEADER.lower().encode()]
    answer = httpx.get(server.url + "/v1/health", headers=[*headers, (SIGNATURE_HEADER.encode(), b"\xe9" * 64)])
    assert answer.status_code == 401 and answer.json()["error"] == "bad_signature"


def _login(client: httpx.Client, url: str) -> dict[str, str]:
    body = json.dumps({"card_uid": CARD, "pin": PIN, "services": ["A"]}).encode()
    answer = client.send(signed("POST", url + "/v1/counters/1/login", body))
    assert answer.status_code == 200, answer.text
    session = answer.json()["session"]
    return {"session": session["token"], "staff_id": session["staff_id"]}


@pytest.mark.parametrize(("method", "path", "body", "headers"), [
    ("POST", "/v1/counters/1/rate", {"ticket_id": 2**63, "level": "satisfied"}, {}),
    ("POST", "/v1/counters/1/rate", {"ticket_id": 1, "level": "²"}, {}),
    ("POST", "/v1/counters/1/rate", {"ticket_id": 1, "level": "１"}, {}),
    ("POST", "/v1/counters/1/rate", {"ticket_id": 1, "level": "x" * 5000}, {}),
    ("GET", f"/v1/display/events?after={2**63}", None, {}),
    ("GET", "/v1/display/events", None, {"Last-Event-ID": "\xb2"}),
    ("GET", "/v1/display/events", None, {"Last-Event-ID": "1e3"}),
    ("POST", f"/v1/counters/1/alerts/{2**63}/ack", "session", {}),
])
def test_out_of_range_ids_and_odd_digits_are_4xx_with_the_secret(hall, method, path, body, headers):
    """Finding 9: each of these was a 500 for a client holding the hall secret."""
    server, _queue = hall
    with httpx.Client(timeout=10) as client:
        if body == "session":
            body = _login(client, server.url)
        raw = json.dumps(body).encode() if body is not None else b""
        encoded = {k: v.encode("latin-1") for k, v in headers.items()}
        answer = client.send(signed(method, server.url + path, raw, encoded))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"] in ("bad_request", "bad_rating")


def test_a_captured_login_is_refused_after_the_hall_restarts(tmp_path: Path):
    """Finding 7: nonces lived in memory, so a restart forgot them."""
    store, queue, staff = _open(tmp_path / "hall.db")
    staff.set("s001", "王*一", CARD, PIN)
    body = json.dumps({"card_uid": CARD, "pin": PIN, "services": ["A"]}).encode()
    with HallServer(create_app(queue, SECRET, staff=staff)) as server:
        captured = signed("POST", server.url + "/v1/counters/1/login", body)
        assert httpx.Client().send(captured).status_code == 200
        port = server.port
    store.close()
    store, queue, staff = _open(tmp_path / "hall.db")
    with HallServer(create_app(queue, SECRET, staff=staff), port=port) as server:
        again = httpx.Client().send(httpx.Request("POST", server.url + "/v1/counters/1/login", content=body,
                                                  headers=captured.headers))
    store.close()
    assert again.status_code == 401 and again.json()["error"] == "replayed"


def test_old_nonces_forgotten_after_a_clock_step_back_do_not_replay(tmp_path: Path):
    """Finding 7: after 1,024 nonces and a clock step back, old requests were accepted again."""
    store, _queue, _staff = _open(tmp_path / "hall.db")
    now = [1_733_040_000.0]
    verifier = Verifier(SECRET, clock=lambda: now[0], nonces=StoreNonces(store, 30.0))
    first = sign_headers(SECRET, "GET", b"/v1/health", b"", now=now[0])
    verifier.verify("GET", b"/v1/health", first, b"")
    for _ in range(2 * PRUNE_EVERY + 1):  # time moves on; enough requests for old nonces to be forgotten
        now[0] += 0.5
        verifier.verify("GET", b"/v1/health", sign_headers(SECRET, "GET", b"/v1/health", b"", now=now[0]), b"")
    now[0] = 1_733_040_000.0 + 1  # the hall clock steps back to when `first` was fresh
    with pytest.raises(AuthError) as info:
        verifier.verify("GET", b"/v1/health", first, b"")
    assert info.value.reason in ("replayed", "stale_timestamp")
    rows = store.db.execute("SELECT count(*) FROM hall_nonces").fetchone()[0]
    assert rows < 2 * PRUNE_EVERY, "old nonces are forgotten: the table stays the size of the window"
    store.close()


def test_every_fresh_request_is_still_accepted_once(tmp_path: Path):
    store, _queue, _staff = _open(tmp_path / "hall.db")
    now = [1_733_040_000.0]
    verifier = Verifier(SECRET, clock=lambda: now[0], nonces=StoreNonces(store, 30.0))
    for _ in range(3 * PRUNE_EVERY):
        now[0] += 0.25
        headers = sign_headers(SECRET, "GET", b"/v1/health", b"", now=now[0] - 5)
        verifier.verify("GET", b"/v1/health", headers, b"")
        with pytest.raises(AuthError):
            verifier.verify("GET", b"/v1/health", headers, b"")
    store.close()


@pytest.mark.parametrize("body", [
    b'{"card_uid": "\\ud800AAAAAAAA", "pin": "2580", "services": ["A"]}',  # a lone surrogate in a value
    b'{"card_uid": "04A1B2C3", "pin": "25\\udc80", "services": ["A"]}',  # … in the PIN, before its hash
    b'{"card_uid": "04A1B2C3", "pin": "2580", "services": ["A"], "\\udfff": 1}',  # … in a key
    b'{"card_uid": "04A1B2C3", "pin": "2580", "services": [NaN]}',  # not a JSON number
])
def test_a_signed_body_that_is_not_strict_json_is_a_422_not_a_500(hall, body: bytes):
    """Strict JSON on the LAN API too: a lone surrogate reached the card hash's encode() as a 500."""
    server, _queue = hall
    with httpx.Client() as client:
        answer = client.send(signed("POST", server.url + "/v1/counters/1/login", body))
    assert answer.status_code == 422, answer.text
