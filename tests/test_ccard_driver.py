"""The community/staff card driver against simulated contactless cards through pyscard → pcscd → vpcd.

UIDs equal the persona's; each fault ends in the driver's own error or a recovery, then
the driver reads again; insert/remove events arrive and the watcher stops promptly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.ccard import CardTap, CommunityCardReader
from drivers.pcsc_common import CardDataError, CardRemovedError, NoCardError, StatusWordError, WrongCardError
from drivers.pcsc_watch import CardEvent, CardWatcher
from hardware_sim import personas
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.runner import CCARD_READER
from hardware_sim.sscard import CCARD_FAULTS, SocialSecurityCard, make_ccard
from hardware_sim.vpcd import MIFARE_CLASSIC_1K_ATR, UidCard
from tests.pcsc_fixtures import VirtualCardSlots

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

READER = CCARD_READER
EVENT_TIMEOUT_S = 5.0  # pcscd polls presence every ~0.4 s


@pytest.fixture
def driver(pcscd: PcscdHarness) -> Iterator[CommunityCardReader]:
    reader = CommunityCardReader(pcscd.pyscard_name(READER), timeout_s=EVENT_TIMEOUT_S)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
def slot(pcscd: PcscdHarness) -> Iterator[PcscCardSlot]:
    """The simulator's community-card reader slot (as the control API drives it)."""
    card_slot = PcscCardSlot("ccard", pcscd, READER, make_ccard, CCARD_FAULTS)
    try:
        yield card_slot
    finally:
        card_slot.remove(wait=True)


def test_uids_equal_the_personas(driver: CommunityCardReader, slot: PcscCardSlot, pcscd: PcscdHarness) -> None:
    for p in personas.load()[::12]:
        slot.remove(wait=True)
        slot.present(p)
        tap = driver.read_once(EVENT_TIMEOUT_S)
        assert tap == CardTap(p.ccard_uid, MIFARE_CLASSIC_1K_ATR, pcscd.pyscard_name(READER))
        assert tap.uid_bytes == bytes.fromhex(p.ccard_uid)


@pytest.mark.parametrize("uid", ["04112233445566", "0411223344556677889A"])
def test_staff_cards_with_longer_uids(uid: str, driver: CommunityCardReader, virtual_cards: VirtualCardSlots) -> None:
    virtual_cards.insert(READER, UidCard(bytes.fromhex(uid)))
    assert driver.read_card().uid == uid.upper()
    assert driver.read_card().as_dict()["uid"] == uid.upper()  # the same card, read again


def test_reader_found_by_a_part_of_its_name(virtual_cards: VirtualCardSlots) -> None:
    virtual_cards.insert(READER, UidCard(bytes.fromhex("C5EEDA41")))
    with CommunityCardReader(f"{READER} 00 00"[7:]) as reader:  # "CC VPCD 00 00"
        assert reader.read_card().uid == "C5EEDA41"


def test_wrong_le_is_resent(driver: CommunityCardReader, slot: PcscCardSlot) -> None:
    p = personas.by_id("P011")
    slot.present(p)
    slot.faults.set("wrong_le")
    assert driver.read_card().uid == p.ccard_uid
    assert slot.faults.active() == ["wrong_le"]  # in force throughout: recovered, not avoided


@pytest.mark.parametrize(("arg", "error"), [(None, CardDataError), ("sw", StatusWordError)])
def test_garbage_then_reading_again(
    arg: str | None, error: type[Exception], driver: CommunityCardReader, slot: PcscCardSlot
) -> None:
    p = personas.by_id("P012")
    slot.present(p)
    slot.faults.set("garbage", arg=arg)
    with pytest.raises(error):
        driver.read_card()
    slot.faults.clear()
    assert driver.read_card().uid == p.ccard_uid


def test_card_removed_mid_read(driver: CommunityCardReader, slot: PcscCardSlot, pcscd: PcscdHarness) -> None:
    p = personas.by_id("P013")
    slot.present(p)
    slot.faults.set("card_removed_mid_read", count=1)
    with pytest.raises(CardRemovedError):
        driver.read_card()
    pcscd.wait_card(READER, present=False, timeout=EVENT_TIMEOUT_S)
    slot.present(p)
    assert driver.read_once(EVENT_TIMEOUT_S).uid == p.ccard_uid


def test_a_contact_card_on_the_contactless_reader(driver: CommunityCardReader, virtual_cards: VirtualCardSlots) -> None:
    virtual_cards.insert(READER, SocialSecurityCard(personas.by_id("P001")))
    with pytest.raises(WrongCardError, match="6E00"):
        driver.read_card()


def test_no_card(driver: CommunityCardReader) -> None:
    with pytest.raises(NoCardError):
        driver.read_once(0.3)
    with pytest.raises(NoCardError):
        driver.read_card()
    assert driver.card_present() is False
    json.dumps(driver.health())


def test_events_reach_a_callback_and_the_queue(driver: CommunityCardReader, slot: PcscCardSlot) -> None:
    seen: list[CardEvent] = []
    both = threading.Event()

    def on_event(event: CardEvent) -> None:
        seen.append(event)
        if len(seen) == 2:
            both.set()

    watcher = driver.watch(on_event, report_present=False)
    slot.present(personas.by_id("P014"), wait=False)
    first = watcher.get(EVENT_TIMEOUT_S)
    assert first is not None and first.kind == "inserted" and first.atr == MIFARE_CLASSIC_1K_ATR
    assert driver.read_card().uid == personas.by_id("P014").ccard_uid  # reading makes no event
    slot.remove()
    second = watcher.get(EVENT_TIMEOUT_S)
    assert second is not None and second.kind == "removed"
    assert both.wait(EVENT_TIMEOUT_S) and [e.kind for e in seen] == ["inserted", "removed"]
    assert watcher.health()["events"] == 2 and json.dumps(first.as_dict())


def test_a_card_already_there_is_reported(pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
    virtual_cards.insert(READER, UidCard(bytes.fromhex("0A0B0C0D")))
    with CardWatcher(pcscd.pyscard_name(READER), name="ccard") as watcher:
        event = watcher.get(EVENT_TIMEOUT_S)
        assert event is not None and event.kind == "inserted"
        assert watcher.get(0.6) is None  # nothing more while the card stays
    assert not watcher.running


def test_a_failing_listener_does_not_stop_the_watcher(pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
    def broken(event: CardEvent) -> None:
        raise RuntimeError("listener bug")

    with CardWatcher(pcscd.pyscard_name(READER), broken, name="ccard") as watcher:
        virtual_cards.insert(READER, UidCard(bytes.fromhex("0A0B0C0D")), wait=False)
        assert (event := watcher.get(EVENT_TIMEOUT_S)) is not None and event.kind == "inserted"
        virtual_cards.remove(READER, wait=False)
        assert (event := watcher.get(EVENT_TIMEOUT_S)) is not None and event.kind == "removed"
        assert watcher.running


def test_watcher_on_a_missing_reader_keeps_trying_and_stops(pcscd: PcscdHarness) -> None:
    watcher = CardWatcher("No Such Reader", name="ccard").start()
    try:
        assert watcher.get(0.8) is None
        assert "no reader" in watcher.health()["last_error"]
    finally:
        watcher.stop()
    assert not watcher.running


def test_health_answers_while_read_once_waits(pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
    with CommunityCardReader(pcscd.pyscard_name(READER)) as reader:
        result: list[CardTap] = []
        waiting = threading.Thread(target=lambda: result.append(reader.read_once(EVENT_TIMEOUT_S)))
        waiting.start()
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while not (busy := reader.health()["busy"]) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the thread is inside read_once
        assert busy is True
        virtual_cards.insert(READER, UidCard(bytes.fromhex("01020304")), wait=False)
        waiting.join(EVENT_TIMEOUT_S + 1)
        assert result and result[0].uid == "01020304"
        assert reader.health()["busy"] is False


PCSCD_MISSING_CHILD = """
import json
from drivers.ccard import CommunityCardReader
from drivers.pcsc_common import PcscServiceError
from drivers.pcsc_watch import CardWatcher
reader = CommunityCardReader("Any Reader")
try:
    reader.read_once(0.2)
except PcscServiceError as exc:
    error = {"code": exc.code, "text": str(exc)}
watcher = CardWatcher("Any Reader").start()
event = watcher.get(0.7)
watcher.stop()
print(json.dumps({"error": error, "health": reader.health(), "event": event,
                  "watch_error": watcher.health()["last_error"], "running": watcher.running}))
"""


def test_pcscd_not_running_is_said_plainly(tmp_path: Path) -> None:
    """The PC/SC client library follows PCSCLITE_CSOCK_NAME: point it where no pcscd listens."""
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    child = subprocess.run([sys.executable, "-c", PCSCD_MISSING_CHILD], env=env, capture_output=True, text=True,
                           timeout=30, cwd=Path(__file__).resolve().parent.parent)
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout.splitlines()[-1])
    assert out["error"]["code"] == 191 and "is pcscd running?" in out["error"]["text"]
    assert out["health"]["connected"] is False and out["health"]["last_error_code"] == 191
    assert out["event"] is None and "pcscd" in out["watch_error"] and out["running"] is False
