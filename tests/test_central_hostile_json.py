"""Issue 10 (2, 3, 4, 12): what enters the central over HTTP is strict JSON, free of raw ID numbers
and unmasked names, with strict integers; each refusal is a 422 naming the reason and field, and
nothing is stored (both backends)."""

from __future__ import annotations

import json

import pytest

from drivers.idcard.fields import check_digit
from tests.central_fixtures import event, push_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ID17 = "11010519491231002"
RAW_ID = ID17 + check_digit(ID17)


def post_raw(central, token: str, path: str, text: str):
    with central.client(token) as c:
        return c.post(path, content=text.encode("utf-8"), headers={"Content-Type": "application/json"})


def push_text(payload_text: str, seq: int = 1, seq_text: str | None = None) -> str:
    envelope = json.dumps(event("hall-01", seq, {"x": 1}))
    envelope = envelope.replace('{"x": 1}', payload_text)
    if seq_text is not None:
        envelope = envelope.replace(f'"seq": {seq}', f'"seq": {seq_text}')
    return '{"terminal_id": "hall-01", "events": [' + envelope + "]}"


@pytest.mark.parametrize(("payload", "reason"), [
    ('{"amount": NaN}', "non_finite_number"),
    ('{"amount": Infinity}', "non_finite_number"),
    ('{"amount": -Infinity}', "non_finite_number"),
    ('{"amount": 1e400}', "non_finite_number"),
    ('{"note": "\\ud800"}', "lone_surrogate"),
    ('{"\\udfff": 1}', "lone_surrogate"),
    ('{"deep": ' + "[" * 100000 + "]" * 100000 + "}", "too_deep"),
])
def test_a_push_that_is_not_strict_json_is_a_422_with_the_reason_and_nothing_is_stored(central, payload, reason):
    token = central.enrol("hall-01")
    r = post_raw(central, token, "/v1/events/push", push_text(payload))
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == reason and r.json()["detail"]
    assert central.store.event_count() == 0
    assert central.app.state.metrics.refusals.value(reason) == 1


def test_a_non_strict_number_is_named_by_its_field(central):
    token = central.enrol("hall-01")
    r = post_raw(central, token, "/v1/events/push", push_text('{"a": {"b": [1, NaN]}}'))
    assert r.status_code == 422 and "events[0].payload.a.b[1]" in r.json()["detail"]


@pytest.mark.parametrize("beat", [
    '{"terminal_id": "hall-01", "at": "2025-03-01T08:00:00+00:00", "devices": {"\\ud800": {"up": true}}}',
    '{"terminal_id": "hall-01", "at": "2025-03-01T08:00:00+00:00", "devices": {"printer": {"up": true, '
    '"reason": "\\udc00"}}}',
    '{"terminal_id": "hall-01", "at": "2025-03-01T08:00:00+00:00", "outbox_pending": NaN}',
])
def test_a_heartbeat_with_a_lone_surrogate_or_nan_is_a_422_not_a_500(central, beat):
    token = central.enrol("hall-01")
    r = post_raw(central, token, "/v1/heartbeat", beat)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] in ("lone_surrogate", "non_finite_number")


@pytest.mark.parametrize("seq_text", ['"5"', "true", "5.0"])
def test_seq_must_be_a_json_integer_not_a_string_or_a_boolean(central, seq_text):
    token = central.enrol("hall-01")
    r = post_raw(central, token, "/v1/events/push", push_text('{"x": 1}', seq=5, seq_text=seq_text))
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "malformed_request" and "seq" in r.json()["detail"]
    assert central.store.event_count() == 0


def test_outbox_pending_must_be_a_json_integer(central):
    token = central.enrol("hall-01")
    r = post_raw(central, token, "/v1/heartbeat",
                 '{"terminal_id": "hall-01", "at": "2025-03-01T08:00:00+00:00", "outbox_pending": "7"}')
    assert r.status_code == 422 and "outbox_pending" in r.json()["detail"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"ID_NUMBER": "x"}, "payload.ID_NUMBER"),
    ({"idNumber": "x"}, "payload.idNumber"),
    ({"sfz": "x"}, "payload.sfz"),
    ({"身份证": "x"}, "payload.身份证"),
    ({"extra": {"holder_id": "x"}}, "payload.extra.holder_id"),
    ({"card_no": RAW_ID}, "payload.card_no"),
    ({"note": f"resident {RAW_ID} came"}, "payload.note"),
    ({"card_no": "310101400101123"}, "payload.card_no"),
    ({"name": "张三丰"}, "payload.name"),
    ({"items": [{"holder_name": "欧阳小明"}]}, "payload.items[0].holder_name"),
])
def test_a_push_carrying_personal_data_is_refused_with_the_event_and_field(central, payload, field):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1), event("hall-01", 2, payload)]))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert r.json()["reason"] == "personal_data" and "events[1]" in detail and field in detail
    assert central.store.event_count() == 0


@pytest.mark.parametrize("payload", [
    {"name": "张*丰"}, {"holder_name": "欧**明"}, {"姓名": "张*"}, {"masked_id": "110***********002X"},
    {"person_key": "0123456789abcdef" * 4}, {"card_no": ID17 + ("0" if RAW_ID[-1] != "0" else "1")},
    {"service_name_zh": "社保"}, {"amount_fen": 1200, "note": "午餐"},
])
def test_masked_forms_and_ordinary_payloads_pass_the_gate(central, payload):
    token = central.enrol("hall-01")
    with central.client(token) as c:
        r = c.post("/v1/events/push", json=push_body("hall-01", [event("hall-01", 1, payload)]))
    assert r.status_code == 200, r.text
    assert r.json()["acks"][0]["status"] == "stored"
