"""Refusals (both backends): each with a clear status and reason, and nothing stored.

Wrong or missing token, revoked terminal, terminal A pushing as B (body and envelope), another
site's data, oversized body (declared, actual and chunked), malformed JSON.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from sync.protocol import MAX_BODY_BYTES, MAX_PAYLOAD_BYTES
from tests.central_fixtures import event, push_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def refused(response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason and body["detail"]


@pytest.mark.parametrize(("header", "reason"), [
    (None, "no_token"),
    ("Bearer hall-01.not-the-token", "bad_token"),
    ("Bearer nodot", "bad_token"),
    ("Basic aGFsbDpwdw==", "no_token"),
])
def test_missing_or_wrong_token_is_401_and_nothing_stored(central, header, reason):
    central.enrol("hall-01")
    with central.client() as c:
        headers = {"Authorization": header} if header else {}
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1)]), headers=headers)
        pull = c.get("/v1/reference/changes", headers=headers)
    refused(r, 401, reason)
    assert r.headers["www-authenticate"] == "Bearer"
    refused(pull, 401, reason)
    assert central.store.event_count() == 0


def test_revoked_terminal_is_403_and_nothing_stored(central):
    token = central.enrol("hall-01")
    central.store.revoke("hall-01", "reported stolen")
    with central.client(token) as c:
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1)]))
        pull = c.get("/v1/reference/changes")
    refused(r, 403, "revoked")
    assert "reported stolen" in r.json()["detail"]
    refused(pull, 403, "revoked")
    assert central.store.event_count() == 0


def test_terminal_a_cannot_push_as_b_in_the_body(central):
    token_a = central.enrol("hall-a")
    central.enrol("hall-b")
    with central.client(token_a) as c:
        r = c.post("/v1/events/push", json=push_body("hall-b", [event("hall-b", 1)]))
    refused(r, 403, "terminal_mismatch")
    assert central.store.event_count() == 0


def test_terminal_a_cannot_slip_an_event_of_b_into_its_own_batch(central):
    token_a = central.enrol("hall-a")
    central.enrol("hall-b")
    with central.client(token_a) as c:
        r = c.post("/v1/events/push", json=push_body("hall-a", [event("hall-a", 1), event("hall-b", 1)]))
    refused(r, 403, "terminal_mismatch")
    assert central.store.event_count() == 0


def test_a_terminal_reads_only_its_own_sites_reference_data(central):
    from sync.central.reference import RowChange

    token = central.enrol("hall-a", site="site-a")
    central.store.apply_reference("site-b", "blacklist", [RowChange("C1", "upsert", {"card_no": "C1", "reason": "x"})])
    with central.client(token) as c:
        r = c.get("/v1/reference/changes", params={"site": "site-b"})
    assert r.json() == {"changes": [], "cursor": 0, "more": False}


def test_declared_oversized_body_is_413_before_the_body_is_sent(central):
    token = central.enrol("hall-01")
    parts = urlsplit(central.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall((f"POST /v1/events/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["reason"] == "body_too_large"
    assert central.store.event_count() == 0


def test_oversized_body_sent_in_full_or_chunked_is_413_and_nothing_stored(central):
    token = central.enrol("hall-01")
    events = [event("hall-01", s, {"pad": "x" * 9000}) for s in range(1, 501)]
    body = json.dumps(push_body("hall-01", events)).encode()
    assert len(body) > MAX_BODY_BYTES
    with central.client(token) as c:
        full = c.post("/v1/events/push", content=body, headers={"Content-Type": "application/json"})
        chunked = c.post("/v1/events/push", content=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                         headers={"Content-Type": "application/json"})
        after = c.get("/health")
    refused(full, 413, "body_too_large")
    refused(chunked, 413, "body_too_large")
    assert after.status_code == 200
    assert central.store.event_count() == 0


@pytest.mark.parametrize("body", [b"{not json", b"", b"[]", b'{"terminal_id": "hall-01"}',
                                  b'{"terminal_id": "hall-01", "events": [{"id": "nope"}]}',
                                  b"\xff\xfe binary"])
def test_malformed_request_is_422_with_an_error_body(central, body):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/events/push", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["reason"] in ("malformed_json", "malformed_request") and r.json()["detail"]
    assert central.store.event_count() == 0


def test_a_payload_over_the_protocol_limit_refuses_the_batch(central):
    token = central.enrol("hall-01")
    big = event("hall-01", 2, {"pad": "x" * (MAX_PAYLOAD_BYTES + 1)})
    with central.client(token) as c:
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1), big]))
    refused(r, 422, "payload_too_large")
    assert central.store.event_count() == 0


def test_admin_endpoints_refuse_without_the_admin_token_or_when_admin_is_off(central):
    with central.client() as c:
        r = c.post("/v1/admin/enrol", json={"terminal_id": "x-1", "role": "hall", "site": "s"},
                   headers={"Authorization": "Bearer wrong-admin-token-xxxxxxxx"})
    refused(r, 403, "not_admin")
    central.app.state.admin_token = None
    with central.client() as c:
        r = c.post("/v1/admin/enrol", json={"terminal_id": "x-1", "role": "hall", "site": "s"},
                   headers={"Authorization": f"Bearer {central.admin_token}"})
    refused(r, 403, "admin_disabled")
    assert central.store.terminal("x-1") is None
