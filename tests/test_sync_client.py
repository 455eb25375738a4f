"""The edge sync client against the real central: delivery exactly once, offline catch-up, the
reference feed applied page by page with its cursor, and the states the status strip shows."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from itertools import count

import httpx
import pytest

from kiosk.store import Store
from sync import apply
from sync.client import AuthRefused, CentralUnavailable, SyncClient, SyncSettings
from sync.protocol import MAX_BATCH, MAX_BODY_BYTES, DeviceState
from tests.chaos_proxy import ChaosConfig, ChaosProxy
from tests.sync_fixtures import WarmProcess, free_port, wait_until
from tests.sync_support import CentralHarness

pytestmark = pytest.mark.integration

SITE = "linfen-road"
FAST = SyncSettings(
    idle_interval_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.5, connect_timeout_s=1.0,
    read_timeout_s=10.0, write_timeout_s=10.0, pool_timeout_s=1.0,
)


class Recording(httpx.HTTPTransport):
    """A real HTTP transport that keeps every request it sent (method, URL, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return super().handle_request(request)

    def pushes(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.url.path == "/v1/events/push"]


class MaxJitter(random.Random):
    """Always draws the top of the range: the backoff delay is exactly its ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def central(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    harness.start()
    yield harness
    harness.stop()


def open_store(tmp_path, terminal_id: str) -> Store:
    return Store.open(tmp_path / f"{terminal_id}.db", terminal_id, extra_migrations=[apply.MIGRATIONS])


def write(store: Store, n: int, per_action: int = 100, payload: dict | None = None) -> None:
    for start in range(0, n, per_action):
        with store.action() as act:
            for i in range(start, min(n, start + per_action)):
                act.emit("test.sale", payload if payload is not None else {"i": i, "note": "午餐"})


def pending_rows(store: Store) -> list[tuple]:
    with store.action() as act:
        return act.db.execute(
            "SELECT seq, attempts, last_error FROM outbox WHERE acked_at IS NULL ORDER BY seq"
        ).fetchall()


# -- push ------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_push_in_batches_marks_rows_only_after_ack(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 1234)
    rec = Recording()
    client = SyncClient(store, central.url, token, settings=FAST, transport=rec)
    client.sync_once()
    pushes = rec.pushes()
    assert len(pushes) == 3 and all(len(p["events"]) <= MAX_BATCH for p in pushes)
    assert central.seqs("hall-01") == list(range(1, 1235))
    assert pending_rows(store) == []
    status = client.status()
    assert (status.state, status.queue_length, status.pushed, status.central_highest_seq) == ("ok", 0, 1234, 1234)
    assert status.last_success_at is not None and status.central_gaps == ()
    client.stop()


@pytest.mark.timeout(60)
def test_timeout_after_the_central_committed_is_resent_and_comes_back_duplicate(tmp_path, central):
    """The Odoo POS failure: the central committed, the answer was lost.  Nothing is marked, and
    the resend stores nothing twice."""
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 300)
    proxy = ChaosProxy(central.address, ChaosConfig(drop_response=1.0)).start()
    try:
        client = SyncClient(store, proxy.url, token, settings=FAST)
        with pytest.raises(CentralUnavailable):
            client.sync_once(pull=False, heartbeat=False)
        assert central.seqs("hall-01") == list(range(1, 301))  # committed centrally ...
        rows = pending_rows(store)
        assert len(rows) == 300 and rows[0][1] == 1 and "RemoteProtocolError" in rows[0][2]  # ... not marked
        proxy.set_config(ChaosConfig())
        client.sync_once(pull=False, heartbeat=False)
    finally:
        proxy.stop()
    assert pending_rows(store) == []
    assert central.seqs("hall-01") == list(range(1, 301))
    client.stop()


@pytest.mark.timeout(60)
def test_batches_stay_under_the_body_limit(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 600, payload={"blob": "x" * 15_000})
    rec = Recording()
    client = SyncClient(store, central.url, token, settings=FAST, transport=rec)
    client.sync_once()
    sizes = [len(r.content) for r in rec.requests if r.url.path == "/v1/events/push"]
    assert len(sizes) >= 3 and max(sizes) <= MAX_BODY_BYTES
    assert central.seqs("hall-01") == list(range(1, 601))
    client.stop()


@pytest.mark.timeout(90)
def test_offline_seven_days_catches_up_by_itself(tmp_path, monkeypatch):
    """10,000 events over a simulated week while the central is down; it comes back and the
    client's own thread delivers them all, with no call from outside."""
    harness = CentralHarness(tmp_path / "central.db")
    token = harness.enrol("canteen-01", SITE)
    store = open_store(tmp_path, "canteen-01")
    week_ago = datetime.now(UTC) - timedelta(days=7)
    ticks = count()
    monkeypatch.setattr(
        "kiosk.store.outbox.utc_now_iso",
        lambda: (week_ago + timedelta(seconds=60.48 * next(ticks))).isoformat(timespec="milliseconds"),
    )
    write(store, 10_000, per_action=200)
    monkeypatch.undo()
    port = free_port()
    settings = SyncSettings(idle_interval_s=0.2, backoff_base_s=0.2, backoff_cap_s=2.0, connect_timeout_s=1.0)
    client = SyncClient(store, f"http://127.0.0.1:{port}", token, settings=settings)
    client.start()
    try:
        wait_until(lambda: client.status().state == "offline", 20, what="offline state")
        status = client.status()
        assert status.text.startswith("offline since ") and status.queue_length == 10_000
        harness.start(port=port)
        back = harness.started_at
        wait_until(lambda: client.status().queue_length == 0, 60, step_s=0.05, what="caught up")
        took = harness.clock() - back
        print(f"caught up 10,000 events in {took:.2f} s after the central returned")
        assert client.status().state == "ok"
        stored = harness.events("canteen-01")
        assert [row[1] for row in stored] == list(range(1, 10_001))
        first, last = datetime.fromisoformat(stored[0][3]), datetime.fromisoformat(stored[-1][3])
        assert timedelta(days=6, hours=23) < last - first < timedelta(days=7)
    finally:
        client.stop()
        harness.stop()


@pytest.mark.timeout(60)
def test_wake_ends_a_backoff_wait_at_once(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    token = harness.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 10)
    port = free_port()
    settings = SyncSettings(backoff_base_s=60.0, backoff_cap_s=60.0, connect_timeout_s=1.0)
    client = SyncClient(store, f"http://127.0.0.1:{port}", token, settings=settings, rng=MaxJitter())
    client.start()
    try:
        wait_until(lambda: client.status().state == "offline", 20, what="offline state")
        harness.start(port=port)
        client.wake()  # without it the client would sleep a full minute
        wait_until(lambda: client.status().queue_length == 0, 20, what="delivered after wake()")
    finally:
        client.stop()
        harness.stop()


def test_backoff_is_full_jitter_under_a_cap(tmp_path):
    store = open_store(tmp_path, "hall-01")
    client = SyncClient(store, "http://127.0.0.1:9", "t", settings=SyncSettings(backoff_base_s=0.5, backoff_cap_s=60))
    draws = [client.backoff_delay(n) for n in range(1, 40) for _ in range(20)]
    assert all(0.0 <= d <= 60.0 for d in draws)
    assert all(0.0 <= client.backoff_delay(1) <= 0.5 for _ in range(50))
    late = [client.backoff_delay(30) for _ in range(200)]
    assert min(late) < 20 and max(late) > 40  # spread over the whole range, not a fixed step
    client.stop()
    ceiling = SyncClient(store, "http://127.0.0.1:9", "t", rng=MaxJitter())
    assert [ceiling.backoff_delay(n) for n in (1, 2, 3, 100)] == [0.5, 1.0, 2.0, 60.0]
    ceiling.stop()


class Meddling(httpx.HTTPTransport):
    """The real transport, except that pushes holding ``culprit`` get a 422 and, with ``version``,
    every request names another protocol version."""

    def __init__(self, culprit: str = "", version: str = "") -> None:
        super().__init__()
        self.culprit, self.version, self.pushes = culprit, version, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if request.url.path == "/v1/events/push":
            self.pushes += 1
            if self.culprit and self.culprit.encode() in request.content:
                return httpx.Response(422, json={"reason": "malformed_request", "detail": "no"})
        if self.version:
            request.headers["X-Linfen-Protocol"] = self.version
        return super().handle_request(request)


@pytest.mark.timeout(60)
def test_a_refused_batch_is_split_until_only_the_culprit_is_quarantined(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 64)
    culprit = store.pending_events(64)[40]
    meddling = Meddling(culprit=culprit.id)
    problems = []
    client = SyncClient(store, central.url, token, settings=FAST, transport=meddling, on_problem=problems.append)
    client.sync_once()
    assert [(p.seq, p.reason) for p in problems] == [(41, "rejected")] and "422" in problems[0].detail
    assert central.seqs("hall-01") == [s for s in range(1, 65) if s != 41]
    assert meddling.pushes <= 2 * 7 + 1  # halving: about two pushes per level of a 64-event batch
    client.stop()


@pytest.mark.timeout(60)
def test_a_protocol_version_refusal_quarantines_nothing(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 5)
    client = SyncClient(store, central.url, token, settings=FAST, transport=Meddling(version="2"))
    with pytest.raises(CentralUnavailable, match="400"):
        client.sync_once()
    assert client.status().quarantined == 0 and len(pending_rows(store)) == 5
    assert central.seqs("hall-01") == []
    client.stop()


# -- conflicts and refusals ----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_conflict_is_quarantined_reported_and_not_resent(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 5)
    third = store.pending_events(5)[2].to_dict()
    doctored = {**third, "payload": {"i": 999}}
    answer = httpx.post(
        central.url + "/v1/events/push",
        json={"terminal_id": "hall-01", "events": [doctored]},
        headers={"Authorization": f"Bearer {token}", "X-Linfen-Protocol": "1"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["acks"][0]["status"] == "stored"
    problems = []
    rec = Recording()
    client = SyncClient(store, central.url, token, settings=FAST, transport=rec, on_problem=problems.append)
    client.sync_once()
    assert [(p.seq, p.reason) for p in problems] == [(3, "conflict")]
    rows = pending_rows(store)
    assert len(rows) == 1 and rows[0][0] == 3 and rows[0][1] == 1 and rows[0][2].startswith("conflict")
    status = client.status()
    assert status.quarantined == 1 and status.queue_length == 1 and "1 refused" in status.text
    write(store, 3)
    client.sync_once()
    client.sync_once()
    sent_after = [e["seq"] for p in rec.pushes()[1:] for e in p["events"]]
    assert sent_after == [6, 7, 8]  # the conflicted event is never pushed again as if new
    assert len(problems) == 1 and pending_rows(store)[0][1] == 1
    client.stop()
    again = SyncClient(store, central.url, token, settings=FAST)  # a restart remembers the quarantine
    assert again.status().quarantined == 1
    again.sync_once()
    assert pending_rows(store)[0][1] == 1
    assert [q.seq for q in apply.quarantined(store)] == [3]
    again.stop()


@pytest.mark.timeout(60)
def test_an_event_protocol_v1_cannot_carry_is_quarantined_locally(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 2)
    with store.action() as act:
        act.emit("Not A V1 Type", {"i": 1})
    write(store, 2)
    rec = Recording()
    problems = []
    client = SyncClient(store, central.url, token, settings=FAST, transport=rec, on_problem=problems.append)
    client.sync_once()
    assert [(p.seq, p.reason) for p in problems] == [(3, "rejected")] and "type" in problems[0].detail
    assert [e["seq"] for p in rec.pushes() for e in p["events"]] == [1, 2, 4, 5]
    assert central.seqs("hall-01") == [1, 2, 4, 5]
    assert client.status().central_gaps[0].first == 3  # the central reports the hole, not hidden
    client.stop()


@pytest.mark.timeout(60)
def test_wrong_token_shows_auth_refused(tmp_path, central):
    central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 3)
    client = SyncClient(store, central.url, "hall-01.not-the-token", settings=FAST)
    with pytest.raises(AuthRefused):
        client.sync_once()
    client.start()
    wait_until(lambda: client.status().state == "auth refused", 20, what="auth refused state")
    status = client.status()
    assert status.text.startswith("auth refused") and not status.up and status.queue_length == 3
    assert "401" in status.last_error
    assert central.seqs("hall-01") == []
    client.stop()


@pytest.mark.timeout(60)
def test_revoked_terminal_goes_from_ok_to_auth_refused(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    write(store, 3)
    client = SyncClient(store, central.url, token, settings=FAST)
    client.start()
    try:
        wait_until(lambda: client.status().state == "ok" and client.status().queue_length == 0, 20)
        central.revoke("hall-01")
        write(store, 2)
        client.wake()
        wait_until(lambda: client.status().state == "auth refused", 20, what="auth refused state")
        assert client.status().queue_length == 2 and central.seqs("hall-01") == [1, 2, 3]
    finally:
        client.stop()


# -- heartbeat and status -----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_heartbeat_carries_devices_and_queue_length(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path, "hall-01")
    devices = {"printer": DeviceState(up=False, reason="paper out"), "idcard": DeviceState(up=True)}
    client = SyncClient(store, central.url, token, settings=FAST, device_status=lambda: devices)
    client.sync_once()
    state = central.terminal_state("hall-01")
    assert state.last_heartbeat is not None and state.outbox_pending == 0
    assert central.heartbeat_devices("hall-01")["printer"] == {"up": False, "reason": "paper out"}
    assert client.status().clock_skew_s is not None
    client.stop()


@pytest.mark.timeout(30)
def test_status_answers_while_the_store_is_busy(tmp_path):
    store = open_store(tmp_path, "hall-01")
    client = SyncClient(store, "http://127.0.0.1:9", "t")
    got = []
    with store.action():  # the store's lock is held by a long business action
        reader = threading.Thread(target=lambda: got.append(client.status()))
        reader.start()
        reader.join(5)
    assert got and got[0].state == "starting"
    client.stop()


# -- pull --------------------------------------------------------------------------------------


def load_cards(central: CentralHarness, n: int, site: str = SITE, version: int = 1) -> None:
    central.load(site, "card", [(f"C{i:06d}", {"card": f"C{i:06d}", "v": version}) for i in range(n)])


@pytest.mark.timeout(60)
def test_pull_applies_pages_and_a_restart_resumes_from_the_cursor(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    load_cards(central, 5000)
    load_cards(central, 3, site="other-site")
    store = open_store(tmp_path, "hall-01")
    settings = SyncSettings(pull_page_size=1000)
    first = SyncClient(store, central.url, token, settings=settings)
    assert first.pull_changes(max_pages=2) == 2000
    cursor = apply.read_cursor(store)
    assert first.status().cursor == cursor and apply.reference_count(store) == 2000
    first.stop()
    store.close()

    store = open_store(tmp_path, "hall-01")  # the terminal restarts
    rec = Recording()
    second = SyncClient(store, central.url, token, settings=settings, transport=rec)
    assert second.pull_changes() == 3000  # only what the first run had not applied
    cursors = [int(r.url.params["cursor"]) for r in rec.requests if r.url.path == "/v1/reference/changes"]
    assert cursors[0] == cursor and cursors == sorted(cursors)
    assert apply.reference_count(store, "card") == 5000  # and none of the other site's
    assert apply.reference_get(store, "card", "C004999") == {"card": "C004999", "v": 1}

    central.load(SITE, "card", [("C000007", {"card": "C000007", "v": 2})])
    central.load(SITE, "card", [("C000008", None)])
    assert second.pull_changes() == 2
    assert apply.reference_get(store, "card", "C000007")["v"] == 2
    assert apply.reference_get(store, "card", "C000008") is None
    assert second.pull_changes() == 0
    second.stop()


APPLY_CHILD = """
import sys, time, httpx
from kiosk.store import Store
from sync import apply
from sync.protocol import ChangesResponse
db, url, token = sys.argv[1:4]
store = Store.open(db, "hall-01", extra_migrations=[apply.MIGRATIONS])
cursor = apply.read_cursor(store)
page = ChangesResponse.model_validate_json(httpx.get(
    url + "/v1/reference/changes", params={"cursor": cursor, "limit": 5000},
    headers={"Authorization": "Bearer " + token, "X-Linfen-Protocol": "1"}, timeout=30).content)
print("ready", flush=True)
def progress(n):
    print(f"progress {n}", flush=True)
    time.sleep(60)
apply.apply_page(store, page, cursor, progress=progress)
"""


@pytest.mark.timeout(90)
def test_kill_mid_page_leaves_no_partial_page_and_the_cursor_consistent(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    load_cards(central, 1500)
    store = open_store(tmp_path, "hall-01")
    client = SyncClient(store, central.url, token, settings=SyncSettings(pull_page_size=1000))
    assert client.pull_changes(max_pages=1) == 1000
    client.stop()
    store.close()
    load_cards(central, 4000, version=2)  # 4,000 changed cards after the cursor

    child = WarmProcess("", str(tmp_path / "hall-01.db"), central.url, token, code=APPLY_CHILD).wait_ready()
    child.expect("progress", 30)  # inside the page's transaction, rows written, not committed
    child.kill()

    store = open_store(tmp_path, "hall-01")
    assert apply.read_cursor(store) == 1000
    assert apply.reference_count(store) == 1000
    assert apply.reference_get(store, "card", "C000001")["v"] == 1  # no row of the killed page
    client = SyncClient(store, central.url, token, settings=SyncSettings(pull_page_size=1000))
    assert client.pull_changes() == 4000
    assert apply.reference_count(store) == 4000 and apply.reference_get(store, "card", "C003999")["v"] == 2
    client.stop()
