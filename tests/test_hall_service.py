"""The hall's LAN queue service on a real uvicorn over loopback: auth, staff login, counter flow, SSE push, races."""

from __future__ import annotations

import dataclasses
import json
import queue as stdqueue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.alerts import AlertBoard
from kiosk.hall.auth import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_headers
from kiosk.hall.client import HallAuthRefused, HallClient, HallRefused, HallUnavailable, ServerEvent, Session
from kiosk.hall.errors import HallConfigError
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import ScryptParams, StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = b"linfen-hall-secret-0123456789"
ALL_DAY = [
    {"code": "A", "name_zh": "社会保障卡", "name_en": "Social security card", "daily_cap": 999},
    {"code": "B", "name_zh": "医疗保险", "name_en": "Medical insurance", "daily_cap": 999},
]


PERSON_KEY = b"linfen-test-person-key-0123456789"
PIN = "2580"
FAST_KDF = ScryptParams(n=2**10)  # the tests' PINs; the default cost is checked in tests/test_hall_staff.py


def key(i: int) -> str:
    return f"pk-{i:04d}-0123456789abcdef"


def card(i: int) -> str:
    """The staff card UID of clerk ``s00i`` (4 bytes, hex)."""
    return f"C0FFEE{i:02X}"


@pytest.fixture
def hall_queue(tmp_path: Path) -> Iterator[HallQueue]:
    store = Store.open(tmp_path / "hall.db", "hall-01", extra_migrations=(HALL_MIGRATIONS, STAFF_ALERT_MIGRATIONS))
    yield HallQueue(store, ServiceCatalog.from_data(ALL_DAY), CallingRule("strict"))
    store.close()


@pytest.fixture
def staff(hall_queue: HallQueue) -> StaffRegistry:
    """Clerks s001..s004 enrolled with cards C0FFEE01..04 and PIN 2580."""
    registry = StaffRegistry(hall_queue.store, PERSON_KEY, kdf=FAST_KDF)
    for i in range(1, 5):
        registry.set(f"s00{i}", f"王*{i}", card(i), PIN)
    return registry


@pytest.fixture
def alerts(hall_queue: HallQueue) -> AlertBoard:
    return AlertBoard(hall_queue.store)


@pytest.fixture
def server(hall_queue: HallQueue, staff: StaffRegistry, alerts: AlertBoard) -> Iterator[HallServer]:
    srv = HallServer(create_app(hall_queue, SECRET, staff=staff, alerts=alerts, keepalive_s=0.5))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: HallServer) -> Iterator[HallClient]:
    with HallClient(server.url, SECRET) as c:
        yield c


def signed(secret: bytes, method: str, url: str, body: bytes = b"", now: float | None = None,
           headers: dict[str, str] | None = None) -> httpx.Request:
    request = httpx.Request(method, url, content=body, headers={"content-type": "application/json"})
    request.headers.update(headers if headers is not None else
                           sign_headers(secret, method, request.url.raw_path, body, now))
    return request


# -- auth -------------------------------------------------------------------------------------------------
def test_unsigned_wrong_secret_stale_tampered_and_replayed_requests_are_refused(server: HallServer):
    url = server.url + "/v1/counters/1/login"
    body = b'{"staff_id": "s001", "services": ["A"]}'
    good = sign_headers(SECRET, "POST", b"/v1/counters/1/login", body)
    with httpx.Client(timeout=5) as http:
        cases = {
            "missing_auth": signed(SECRET, "POST", url, body, headers={}),
            "bad_signature": signed(b"another-hall-secret-0000000", "POST", url, body),
            "stale_timestamp": signed(SECRET, "POST", url, body, now=time.time() - 120),
        }
        for reason, request in cases.items():
            answer = http.send(request)
            assert (answer.status_code, answer.json()["error"]) == (401, reason)
        tampered = http.send(signed(SECRET, "POST", url, b'{"staff_id": "boss", "services": ["A"]}', headers=good))
        assert (tampered.status_code, tampered.json()["error"]) == (401, "bad_signature")
        other_path = http.send(signed(SECRET, "GET", server.url + "/v1/health", headers=sign_headers(
            SECRET, "GET", b"/v1/counters/1", b"")))
        assert (other_path.status_code, other_path.json()["error"]) == (401, "bad_signature")
        replay_headers = sign_headers(SECRET, "GET", b"/v1/health", b"")
        assert http.send(signed(SECRET, "GET", server.url + "/v1/health", headers=replay_headers)).status_code == 200
        again = http.send(signed(SECRET, "GET", server.url + "/v1/health", headers=replay_headers))
        assert (again.status_code, again.json()["error"]) == (401, "replayed")
        assert {TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER} <= set(replay_headers)


def test_client_with_the_wrong_secret_gets_a_clear_refusal(server: HallServer):
    with HallClient(server.url, b"not-this-hall-secret-000") as wrong, pytest.raises(HallAuthRefused) as info:
        wrong.health()
    assert info.value.reason == "bad_signature" and "hall secret" in str(info.value)


def test_short_secrets_are_refused_at_start(hall_queue: HallQueue):
    with pytest.raises(HallConfigError, match="at least 16 bytes"):
        create_app(hall_queue, "short")


def _session(window: int, staff_id: str) -> Session:
    return Session(window, staff_id, "", "x" * 43)


# -- counter flow -----------------------------------------------------------------------------------------
def test_counter_flow_over_http(client: HallClient, hall_queue: HallQueue):
    hall_queue.take_ticket("A", key(1), masked_name="张*明")
    hall_queue.take_ticket("A", key(2), priority_reasons=("veteran",))
    hall_queue.take_ticket("A", key(3))
    assert client.health()["services"] == ["A", "B"]
    counter = client.login(3, card(3), PIN, ["A", "B"])
    assert counter.services == ("A", "B") and counter.staff_id == "s003"
    call = client.call_next(3)
    assert call is not None and (call.number, call.window, call.priority) == ("A002", 3, True)
    assert client.recall(3).kind == "recall"
    assert client.start(3).state == "serving"
    done = client.finish(3)
    rating = client.rate(3, done.id, "满意")
    assert (rating.level, rating.score) == ("satisfied", 4)
    with pytest.raises(HallRefused) as twice:
        client.rate(3, done.id, "满意")
    assert twice.value.reason == "already_rated" and twice.value.words_zh == "A002 号已评价过"
    assert client.call_next(3).number == "A001"
    moved = client.transfer(3, "B")
    assert (moved.number, moved.service, moved.state) == ("A001", "B", "waiting")
    assert client.call_next(3).number == "A001"
    assert client.no_show(3).state == "no_show"
    assert client.call_specific(3, "A001").kind == "specific"
    _counter, current = client.counter(3)
    assert current is not None and current.masked_name == "张*明"
    client.finish(3)
    assert client.call_next(3).number == "A003"
    client.finish(3)
    assert client.call_next(3) is None
    token = client.session(3).token
    client.logout(3)
    with pytest.raises(HallRefused) as gone:
        client.call_next(3)
    assert gone.value.reason == "no_session"
    client.sessions[3] = dataclasses.replace(client.sessions.get(3) or _session(3, "s003"), token=token)
    with pytest.raises(HallRefused) as ended:  # the old token after logout: refused by the hall itself
        client.call_next(3)
    assert ended.value.reason == "session_ended" and client.session(3) is None


def test_refusals_and_malformed_requests_get_reasons(client: HallClient, hall_queue: HallQueue, server: HallServer):
    hall_queue.take_ticket("A", key(1))
    hall_queue.take_ticket("A", key(2))
    client.login(1, card(1), PIN, ["A"])
    client.call_next(1)
    with pytest.raises(HallRefused) as busy:
        client.call_next(1)
    assert busy.value.reason == "window_busy"
    body = json.dumps(client._who(1)).encode()
    bad_window = httpx.post(server.url + "/v1/counters/0/next", content=body, timeout=5,
                            headers=sign_headers(SECRET, "POST", b"/v1/counters/0/next", body))
    assert (bad_window.status_code, bad_window.json()["error"]) == (422, "bad_request")
    with pytest.raises(HallRefused) as unknown:
        client.login(2, card(2), PIN, ["Z"])
    assert unknown.value.reason == "unknown_service" and client.session(2) is None
    big = b"{" + b" " * 20000 + b"}"
    answer = httpx.post(server.url + "/v1/counters/1/call", content=big, timeout=5,
                        headers=sign_headers(SECRET, "POST", b"/v1/counters/1/call", big))
    assert (answer.status_code, answer.json()["error"]) == (413, "too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"number": "A001"}'

    chunked = httpx.post(server.url + "/v1/counters/1/call", content=chunks(), timeout=5)
    assert (chunked.status_code, chunked.json()["error"]) == (413, "too_large")


def test_client_says_clearly_when_the_hall_service_is_down(hall_queue: HallQueue):
    srv = HallServer(create_app(hall_queue, SECRET))
    url = srv.start()
    srv.stop()
    with HallClient(url, SECRET, timeout=httpx.Timeout(2.0)) as c, pytest.raises(HallUnavailable) as info:
        c.sessions[1] = _session(1, "s001")
        c.call_next(1)
    assert info.value.reason == "unreachable" and url in str(info.value) and info.value.words_zh


# -- display ----------------------------------------------------------------------------------------------
def read_events(c: HallClient, stop: threading.Event, after: int | None = None) -> stdqueue.Queue[ServerEvent]:
    out: stdqueue.Queue[ServerEvent] = stdqueue.Queue()

    def run() -> None:
        for event in c.events(after=after, stop=stop, retry_s=0.05, max_retry_s=0.2, read_timeout_s=5):
            out.put(event)

    threading.Thread(target=run, daemon=True).start()
    return out


def next_event(events: stdqueue.Queue[ServerEvent], kind: str, timeout: float = 20) -> ServerEvent:
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if event.event == kind:
            return event


def test_display_snapshot_and_sse_call_event(client: HallClient, hall_queue: HallQueue, server: HallServer):
    for i in range(3):
        hall_queue.take_ticket("AB"[i % 2], key(i))
    client.login(2, card(2), PIN, ["A"])
    snap = client.snapshot()
    assert snap.waiting == {"A": 2, "B": 1} and snap.current == () and snap.last_call_id == 0
    stop = threading.Event()
    with HallClient(server.url, SECRET) as display:
        events = read_events(display, stop)
        next_event(events, "connected")
        assert next_event(events, "counts").data == {"waiting": {"A": 2, "B": 1}}
        call = client.call_next(2)
        pushed = next_event(events, "call")
        assert pushed.id == call.id and pushed.call == call
        assert pushed.call.service_name_zh == "社会保障卡"
        assert next_event(events, "counts").data["waiting"] == {"A": 1, "B": 1}
        stop.set()
        client.recall(2)  # wakes the reader so it sees the stop
    snap = client.snapshot()
    assert [c.number for c in snap.current] == ["A001"] and len(snap.recent) == 2


def test_sse_reconnects_and_replays_the_calls_it_missed(hall_queue: HallQueue):
    for i in range(4):
        hall_queue.take_ticket("A", key(i))
    hall_queue.login(1, "s001", ["A"])
    srv = HallServer(create_app(hall_queue, SECRET, keepalive_s=0.5))
    url = srv.start()
    port = srv.port
    stop = threading.Event()
    display = HallClient(url, SECRET)
    try:
        events = read_events(display, stop)
        next_event(events, "connected")
        first = hall_queue.call_next(1)
        assert next_event(events, "call").id == first.id
        srv.stop()
        assert next_event(events, "disconnected").data["error"]
        hall_queue.finish(1)
        missed = hall_queue.call_next(1)  # made while the display was cut off
        srv = HallServer(create_app(hall_queue, SECRET, keepalive_s=0.5), port=port)
        srv.start()
        next_event(events, "connected")
        assert next_event(events, "call").id == missed.id
        hall_queue.finish(1)
        live = hall_queue.call_next(1)
        assert next_event(events, "call").id == live.id
    finally:
        stop.set()
        srv.stop()
        display.close()


# -- the race ---------------------------------------------------------------------------------------------
def test_two_counters_racing_next_200_times_over_http_never_share_a_ticket(server: HallServer,
                                                                           hall_queue: HallQueue):
    for i in range(400):
        hall_queue.take_ticket("AB"[i % 2], key(i), priority_reasons=("age80",) if i % 5 == 0 else ())
    rounds = 200
    barrier = threading.Barrier(2)
    got: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def counter(index: int) -> None:
        window = index + 1
        try:
            with HallClient(server.url, SECRET) as c:
                c.login(window, card(window), PIN, ["A", "B"])
                for _ in range(rounds):
                    barrier.wait(timeout=30)
                    call = c.call_next(window)
                    if call is not None:
                        got[index].append(call.number)
                        c.finish(window)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=counter, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    assert not errors, errors
    everyone = got[0] + got[1]
    assert len(everyone) == 400 and len(set(everyone)) == 400
    assert not set(got[0]) & set(got[1])
    assert hall_queue.waiting_counts() == {"A": 0, "B": 0}


def test_sse_parser_follows_the_event_stream_rules():
    from kiosk.hall.client import _parse_sse

    lines = [": keep-alive", "", "retry: 1000", "event: hello", 'data: {"after": 3}', "",
             "id: 4", "event: call", 'data: {"a":', 'data: 1}', "", "event: call", "data: not json", "",
             "data: [1, 2]", "", 'data: {"x": 2}', ""]
    events = list(_parse_sse(iter(lines)))
    assert events == [ServerEvent("hello", {"after": 3}), ServerEvent("call", {"a": 1}, 4),
                      ServerEvent("message", {"x": 2})]


def test_display_reader_reports_a_dead_service_and_stops_when_told(hall_queue: HallQueue):
    srv = HallServer(create_app(hall_queue, SECRET))
    url = srv.start()
    srv.stop()
    stop = threading.Event()
    with HallClient(url, SECRET) as display:
        reader = display.events(stop=stop, retry_s=0.01, max_retry_s=0.02)
        first, second = next(reader), next(reader)
        assert first.event == second.event == "disconnected" and "ConnectError" in first.data["error"]
        stop.set()
        assert list(reader) == []
