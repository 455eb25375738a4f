"""Issue 10 (2, 3, 4): a poisoned row never stops the sync client.

Pull: a change already stored in the central that the terminal cannot apply (``NaN`` in its data,
so ``CHECK (json_valid(data))`` fails; or a change outside the protocol) is skipped, recorded,
logged and counted; the rest of the page is applied and the cursor moves past it.
Push: an event the central refuses for good (a lone surrogate, a raw ID number) is quarantined
alone and the rest are delivered; it is never retried for ever.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import insert, update

from drivers.idcard.fields import check_digit
from kiosk.store import Store
from sync import apply
from sync.central.db import now_text, write_transaction
from sync.central.sync_api.schema import reference, sites
from sync.client import SyncClient, SyncSettings
from tests.sync_support import CentralHarness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SITE = "linfen-road"
FAST = SyncSettings(idle_interval_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.5, connect_timeout_s=1.0)
ID17 = "11010519491231002"
RAW_ID = ID17 + check_digit(ID17)


@pytest.fixture
def central(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    harness.start()
    yield harness
    harness.stop()


def open_store(tmp_path, terminal_id: str = "hall-01") -> Store:
    return Store.open(tmp_path / f"{terminal_id}.db", terminal_id, extra_migrations=[apply.MIGRATIONS])


def poison(central: CentralHarness, kind: str, key: str, data_text: str) -> int:
    """Store a feed row as an older central would have (no strict check); returns its cursor."""
    with write_transaction(central.store.engine) as conn:
        conn.execute(update(sites).where(sites.c.site == SITE).values(last_cursor=sites.c.last_cursor + 1))
        cursor = int(conn.execute(sites.select().where(sites.c.site == SITE)).one().last_cursor)
        conn.execute(insert(reference).values(site=SITE, kind=kind, key=key, cursor=cursor, op="upsert",
                                              data=data_text, changed_at=now_text()))
    return cursor


def test_a_poisoned_reference_row_is_skipped_recorded_and_the_pull_goes_on(tmp_path, central, caplog):
    token = central.enrol("hall-01", SITE)
    central.load(SITE, "card", [("C1", {"card_no": "C1", "status": "active"})])
    nan_cursor = poison(central, "card", "C2", '{"card_no":"C2","limit":NaN}')
    inf_cursor = poison(central, "blacklist", "C3", '{"card_no":"C3","n":-Infinity}')
    bogus_cursor = poison(central, "bogus_kind", "K", '{"x":1}')
    central.load(SITE, "card", [("C4", {"card_no": "C4", "status": "lost"})])
    store = open_store(tmp_path)
    client = SyncClient(store, central.url, token, settings=FAST)
    with caplog.at_level(logging.ERROR, logger="sync.client"):
        assert client.pull_changes() == 2
    assert apply.reference_get(store, "card", "C1") == {"card_no": "C1", "status": "active"}
    assert apply.reference_get(store, "card", "C4") == {"card_no": "C4", "status": "lost"}
    assert apply.reference_get(store, "card", "C2") is None and apply.reference_get(store, "blacklist", "C3") is None
    rejected = apply.rejected_changes(store)
    assert [(r.cursor, r.kind, r.key) for r in rejected] == [
        (nan_cursor, "card", "C2"), (inf_cursor, "blacklist", "C3"), (bogus_cursor, "bogus_kind", "K")]
    assert "non_finite_number" in rejected[0].reason and "outside the protocol" in rejected[2].reason
    status = client.status()
    assert status.reference_rejected == 3 and "3 reference rows skipped" in status.text
    assert status.cursor == apply.read_cursor(store) == 5
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 3
    client.send_heartbeat()  # the central learns of it
    state = central.terminal_state("hall-01")
    assert (state.skipped_changes, state.quarantined_events) == (3, 0)
    central.load(SITE, "card", [("C2", {"card_no": "C2", "status": "active"})])  # the central fixes it
    assert client.pull_changes() == 1 and apply.reference_get(store, "card", "C2")["status"] == "active"
    client.stop()
    again = SyncClient(store, central.url, token, settings=FAST)  # a restart remembers the count
    assert again.status().reference_rejected == 3
    again.stop()


def test_a_row_sqlite_refuses_is_skipped_even_when_it_looks_like_json(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    central.load(SITE, "card", [(f"C{i}", {"card_no": f"C{i}", "status": "active"}) for i in range(5)])
    store = open_store(tmp_path)
    with store.action() as act:  # a terminal-side rule the row breaks: its kind/key pair is locked
        act.db.execute("CREATE TRIGGER no_c3 BEFORE INSERT ON reference_data WHEN new.key = 'C3' "
                       "BEGIN SELECT RAISE(ABORT, 'C3 is locked'); END")
    client = SyncClient(store, central.url, token, settings=FAST)
    assert client.pull_changes() == 4
    assert [(r.key, "C3 is locked" in r.reason) for r in apply.rejected_changes(store)] == [("C3", True)]
    assert apply.reference_count(store, "card") == 4 and apply.read_cursor(store) == 5
    client.stop()


def test_an_event_with_a_lone_surrogate_is_quarantined_locally_and_the_rest_are_pushed(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path)
    for i in range(4):
        with store.action() as act:
            act.emit("test.sale", {"i": i})
    conn = sqlite3.connect(tmp_path / "hall-01.db")  # as an older build, without today's checks, could have
    conn.execute("DROP TRIGGER outbox_envelope_immutable")  # written it
    conn.execute("UPDATE outbox SET payload = ? WHERE seq = 2", ['{"note":"\\ud800"}'])
    conn.commit()
    conn.close()
    problems = []
    client = SyncClient(store, central.url, token, settings=FAST, on_problem=problems.append)
    client.sync_once()
    assert [(p.seq, p.reason) for p in problems] == [(2, "rejected")] and "lone_surrogate" in problems[0].detail
    assert central.seqs("hall-01") == [1, 3, 4]
    client.sync_once()
    assert len(problems) == 1 and client.status().quarantined == 1 and client.status().state == "ok"
    client.send_heartbeat()
    assert central.terminal_state("hall-01").quarantined_events == 1
    client.stop()


def test_an_event_the_central_refuses_as_personal_data_is_quarantined_alone(tmp_path, central):
    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path)
    for i in range(8):
        with store.action() as act:
            act.emit("test.sale", {"i": i, "card_no": RAW_ID} if i == 5 else {"i": i})
    problems = []
    client = SyncClient(store, central.url, token, settings=FAST, on_problem=problems.append)
    client.sync_once()
    assert [(p.seq, p.reason) for p in problems] == [(6, "rejected")]
    assert "personal_data" in problems[0].detail and "payload.card_no" in problems[0].detail
    assert central.seqs("hall-01") == [1, 2, 3, 4, 5, 7, 8]
    client.sync_once()  # not retried: the next cycle is quiet and ok
    assert len(problems) == 1 and client.status().state == "ok"
    client.stop()


def test_a_device_named_with_a_lone_surrogate_never_stops_the_heartbeat(tmp_path, central):
    from sync.protocol import DeviceState

    token = central.enrol("hall-01", SITE)
    store = open_store(tmp_path)

    def devices() -> dict[str, DeviceState]:  # a driver's name read from a device, undecodable
        return {"print\ud800er": DeviceState(up=False, reason="paper out"), "reader": DeviceState(up=True)}

    client = SyncClient(store, central.url, token, settings=FAST, device_status=devices)
    client.sync_once(pull=False, heartbeat=True)
    assert client.status().state == "ok"
    assert central.heartbeat_devices("hall-01") == {"print\\ud800er": {"up": False, "reason": "paper out"},
                                                    "reader": {"up": True, "reason": ""}}
    client.stop()
