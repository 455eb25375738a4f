"""A top-up taken at a counter reaches a real central on loopback, posted to the card's ledger under the clerk.

Hall store (journal, outbox, pulled cards) + the hall's LAN service + a counter's HallClient +
the hall's sync client pushing to a :class:`tests.sync_support.CentralHarness`; the card's
statement is read back with the admin token.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from kiosk.hall import CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.checkin.setup import hall_topups
from kiosk.hall.client import HallClient, new_request_id
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import ScryptParams, StaffRegistry
from kiosk.reference import ReferenceData
from sync.client import SyncClient, SyncSettings
from tests.sync_support import CentralHarness
from tests.test_hall_topup import ACTIVE, PERSON_KEY, PIN, SECRET, SERVICES, open_hall_store, staff_card

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SITE = "linfen"
FAST = SyncSettings(pull_interval_s=3600, heartbeat_interval_s=3600)


def statement(central: CentralHarness, card_no: str) -> dict:
    answer = httpx.get(f"{central.url}/v1/card/{card_no}/statement", timeout=5,
                       headers={"Authorization": f"Bearer {central.admin_token}", "X-Linfen-Protocol": "1"})
    answer.raise_for_status()
    return answer.json()


def test_a_counter_top_up_is_posted_at_the_central_attributed_to_the_clerk(tmp_path: Path):
    central = CentralHarness(tmp_path / "central.db")
    central.start()
    store = open_hall_store(tmp_path / "hall.db")
    sync = SyncClient(store, central.url, central.enrol("hall-01", SITE, role="hall"), settings=FAST)
    ref = ReferenceData(store, watch=False)
    try:
        central.load(SITE, "card", [(ACTIVE, {"card_no": ACTIVE, "status": "active", "masked_name": "陈*英"})])
        sync.sync_once(pull=True, heartbeat=False)  # the hall pulls its site's cards
        staff = StaffRegistry(store, PERSON_KEY, kdf=ScryptParams(n=2**10))
        staff.set("s007", "周*芳", staff_card(7), PIN)
        queue = HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict"))
        topups = hall_topups(SimpleNamespace(store=store, reference=ref))
        with HallServer(create_app(queue, SECRET, staff=staff, topups=topups)) as srv, \
                HallClient(srv.url, SECRET) as counter:
            counter.login(4, staff_card(7), PIN, ["A"])
            assert counter.card_info(4, ACTIVE).masked_name == "陈*英"
            rid = new_request_id()
            done = counter.topup(4, ACTIVE, 20_000, "cash", rid)
            assert counter.topup(4, ACTIVE, 20_000, "cash", rid).repeat  # a retry changes nothing at the central
            transfer = counter.topup(4, ACTIVE, 5_000, "transfer", new_request_id())
        sync.sync_once(pull=False, heartbeat=False)
        assert store.pending_events(100) == []  # acknowledged
        s = statement(central, ACTIVE)
        assert s["balance_fen"] == 25_000
        lines = [(line["entry_id"], line["entry_type"], line["amount_fen"], line["terminal_id"]) for line in s["lines"]]
        assert lines == [(done.entry_id, "topup", 20_000, "hall-01"), (transfer.entry_id, "topup", 5_000, "hall-01")]
        assert "staff s007" in s["lines"][0]["note"] and "cash" in s["lines"][0]["note"]
        assert "transfer" in s["lines"][1]["note"]
        assert s["totals"]["given_fen"] == 25_000
        problems = httpx.get(f"{central.url}/v1/card/problems", timeout=5, headers={
            "Authorization": f"Bearer {central.admin_token}", "X-Linfen-Protocol": "1"}).json()
        assert problems["problems"] == []
    finally:
        sync.stop()
        ref.close()
        store.close()
        central.stop()
