"""The central's HTTP API on real uvicorn (both backends): push acks, gaps, heartbeat, admin, health, metrics."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from sync.protocol import PROTOCOL_HEADER, EnrolResponse, PushResponse
from tests.central_fixtures import event, push_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_push_stores_once_and_a_resend_returns_the_original_ack(central):
    token = central.enrol("hall-01")
    batch = [event("hall-01", s) for s in (1, 2, 3)]
    with central.client(token) as c:
        first = PushResponse.model_validate(c.post("/v1/events/push", json=push_body("hall-01", batch)).json())
        resent = c.post("/v1/events/push", json=push_body("hall-01", batch))
    assert resent.status_code == 200
    again = PushResponse.model_validate(resent.json())
    assert [a.status for a in first.acks] == ["stored"] * 3
    assert [a.status for a in again.acks] == ["duplicate"] * 3
    assert [a.stored_at for a in again.acks] == [a.stored_at for a in first.acks]
    assert [str(a.id) for a in again.acks] == [e["id"] for e in batch]
    assert central.store.event_count() == 3


def test_push_with_another_body_for_a_stored_id_is_refused_as_conflict_and_logged(central, caplog):
    token = central.enrol("hall-01")
    original = event("hall-01", 1, {"amount_fen": 300})
    forged = {**original, "payload": {"amount_fen": 3}}
    with central.client(token) as c, caplog.at_level(logging.WARNING, logger="linfen.central.events"):
        c.post("/v1/events/push", json=push_body("hall-01", [original]))
        r = c.post("/v1/events/push", json=push_body("hall-01", [forged]))
    ack = r.json()["acks"][0]
    assert (r.status_code, ack["status"], ack["stored_at"]) == (200, "conflict", None)
    assert any(getattr(rec, "event", "") == "push_conflict" for rec in caplog.records)
    assert central.store.event_count() == 1


def test_every_push_answer_reports_highest_seq_and_gaps(central):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", s) for s in (1, 4, 5, 8)])).json()
        assert (r["highest_seq"], r["gaps"]) == (8, [{"first": 2, "last": 3}, {"first": 6, "last": 7}])
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", s) for s in (2, 3, 6, 7)])).json()
        assert (r["highest_seq"], r["gaps"]) == (8, [])


def test_heartbeat_answers_server_time_and_shows_in_metrics(central):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/heartbeat", json={"terminal_id": "hall-01", "at": "2025-03-01T08:00:00+08:00",
                                          "outbox_pending": 12, "devices": {"printer": {"up": True}}})
        assert r.status_code == 200 and "server_time" in r.json()
        other = c.post("/v1/heartbeat", json={"terminal_id": "hall-99", "at": "2025-03-01T08:00:00+08:00"})
        assert (other.status_code, other.json()["reason"]) == (403, "terminal_mismatch")
        metrics = c.get("/metrics", headers={"Authorization": f"Bearer {central.admin_token}"}).text
    assert 'linfen_central_terminal_outbox_pending{terminal="hall-01",site="site-a"} 12' in metrics


def test_admin_enrols_and_revokes_over_http(central):
    admin = {"Authorization": f"Bearer {central.admin_token}"}
    with central.client() as c:
        r = c.post("/v1/admin/enrol", json={"terminal_id": "counter-07", "role": "counter", "site": "site-a"},
                   headers=admin)
        assert r.status_code == 200, r.text
        creds = EnrolResponse.model_validate(r.json())
        assert creds.token.startswith("counter-07.")
        dup = c.post("/v1/admin/enrol", json={"terminal_id": "counter-07", "role": "counter", "site": "site-a"},
                     headers=admin)
        assert (dup.status_code, dup.json()["reason"]) == (409, "already_enrolled")
        ok = c.post("/v1/events/push", json=push_body("counter-07", []),
                    headers={"Authorization": f"Bearer {creds.token}"})
        assert ok.status_code == 200
        rv = c.post("/v1/admin/revoke", json={"terminal_id": "counter-07", "reason": "replaced"}, headers=admin)
        assert rv.status_code == 200 and rv.json()["terminal_id"] == "counter-07"
        gone = c.post("/v1/admin/revoke", json={"terminal_id": "nobody"}, headers=admin)
        assert (gone.status_code, gone.json()["reason"]) == (404, "unknown_terminal")
        after = c.post("/v1/events/push", json=push_body("counter-07", []),
                       headers={"Authorization": f"Bearer {creds.token}"})
    assert (after.status_code, after.json()["reason"]) == (403, "revoked")


def test_admin_endpoints_refuse_terminal_tokens(central):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/admin/enrol", json={"terminal_id": "x-1", "role": "hall", "site": "site-a"})
    assert (r.status_code, r.json()["reason"]) == (403, "not_admin")
    assert central.store.terminal("x-1") is None


def test_wrong_protocol_version_is_a_400(central):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1)]),
                   headers={PROTOCOL_HEADER: "2"})
    assert (r.status_code, r.json()["reason"]) == (400, "unsupported_protocol")
    assert central.store.event_count() == 0


def test_health_and_metrics(central):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", s) for s in (1, 2, 4)]))
        c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1)]))  # new id, seq taken
        health = c.get("/health")
        r = c.get("/metrics", headers={"Authorization": f"Bearer {central.admin_token}"})
    assert health.status_code == 200
    assert health.json()["database"] == "ok" and health.json()["backend"] == central.store.backend
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert re.search(r"^linfen_central_events_stored_total 3$", text, re.M)
    assert re.search(r"^linfen_central_events_conflict_total 1$", text, re.M)
    assert re.search(r'^linfen_central_push_requests_total\{status="200"\} 2$', text, re.M)
    assert re.search(r"^linfen_central_push_seconds_count 2$", text, re.M)
    assert re.search(r'^linfen_central_push_seconds_bucket\{le="\+Inf"\} 2$', text, re.M)
    assert 'linfen_central_terminal_highest_seq{terminal="hall-01",site="site-a"} 4' in text
    assert 'linfen_central_terminal_missing_seqs{terminal="hall-01",site="site-a"} 1' in text


def test_unknown_path_is_an_error_body(central):
    with central.client() as c:
        r = c.get("/v1/nothing")
    assert r.status_code == 404 and set(r.json()) == {"reason", "detail"}


def test_health_is_503_with_an_error_body_when_the_database_is_unreachable():
    from sync.central.app import create_app
    from sync.central.db import open_engine
    from sync.central.server import CentralServer
    from sync.central.storage import CentralStore

    store = CentralStore(open_engine("postgresql://nobody:x@127.0.0.1:1/none?connect_timeout=2"))
    try:
        with CentralServer(create_app(store)) as server, httpx.Client(base_url=server.url, timeout=20) as c:
            health = c.get("/health")
            push = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1)]),
                          headers={"Authorization": "Bearer hall-01.abc"})
    finally:
        store.close()
    assert (health.status_code, health.json()["reason"]) == (503, "storage_unavailable")
    assert (push.status_code, push.json()["reason"]) == (503, "storage_unavailable")
