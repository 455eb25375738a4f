"""The social-security card driver against the simulated card through the real stack: pyscard → pcscd → vpcd.

Readings are compared with the persona's data for all three card generations and for the
layouts and encodings real cards use; every fault of the simulated card ends in the
driver's own error or a recovery, and the driver reads again afterwards.  The simulated
card's answers are also checked command by command (no transport) at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest
from smartcard import scard

from drivers.pcsc_common import (
    CardDataError,
    CardRemovedError,
    CardResetError,
    NoCardError,
    ReaderNotFound,
    StatusWordError,
    WrongCardError,
)
from drivers.pcsc_link import CardLink, PcscContext
from drivers.sscard import SocialSecurityCardReader, SocialSecurityReading
from hardware_sim import personas
from hardware_sim.faults import FaultBoard
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.runner import SSCARD_READER
from hardware_sim.sscard import SSCARD_FAULTS, LoggedCard, SocialSecurityCard, make_sscard
from hardware_sim.sscard_files import CardProfile, persona_items
from hardware_sim.traffic import TrafficLog
from hardware_sim.vpcd import UidCard, VirtualCard
from tests.pcsc_fixtures import VirtualCardSlots

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

READER = SSCARD_READER
EVENT_TIMEOUT_S = 5.0  # pcscd polls presence every ~0.4 s
IDLE_POWER_OFF_WAIT_S = 10.0  # pcscd powers an idle card off after the last connection closed (≈1 s here, ≤5 s)
BY_GENERATION = {1: "P006", 2: "P001", 3: "P002"}  # one persona of each card generation


def check_reading(reading: SocialSecurityReading, p: personas.Persona) -> None:
    """The reading says what the persona's card holds."""
    assert reading.card_number == p.ss_card_number
    assert reading.card_id_code == p.ss_card_id_code and reading.region == p.ss_card_id_code[:6]
    assert reading.spec_version == p.ss_spec_version and reading.generation == int(p.ss_spec_version[0])
    assert reading.issue_date == dt.datetime.strptime(p.ss_issue_date, "%Y%m%d").date()
    assert reading.expiry_date == dt.datetime.strptime(p.ss_expiry_date, "%Y%m%d").date()
    assert reading.id_number == p.id_number and reading.id_valid
    assert reading.name == p.name and reading.sex == p.sex and reading.nation == p.nation
    assert reading.birth == dt.datetime.strptime(p.birth, "%Y%m%d").date()


@pytest.fixture
def driver(pcscd: PcscdHarness) -> Iterator[SocialSecurityCardReader]:
    reader = SocialSecurityCardReader(pcscd.pyscard_name(READER), timeout_s=EVENT_TIMEOUT_S)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
def slot(pcscd: PcscdHarness) -> Iterator[PcscCardSlot]:
    """The simulator's social-security reader slot (as the control API drives it)."""
    card_slot = PcscCardSlot("sscard", pcscd, READER, make_sscard, SSCARD_FAULTS)
    try:
        yield card_slot
    finally:
        card_slot.remove(wait=True)


# --- readings equal the persona's ----------------------------------------------------------------


@pytest.mark.parametrize("generation", [1, 2, 3])
def test_each_generation_reads_as_the_persona(
    generation: int, driver: SocialSecurityCardReader, slot: PcscCardSlot
) -> None:
    p = personas.by_id(BY_GENERATION[generation])
    slot.present(p)
    reading = driver.read_once(EVENT_TIMEOUT_S)
    check_reading(reading, p)
    assert reading.generation == generation


def test_many_personas_one_after_another(driver: SocialSecurityCardReader, slot: PcscCardSlot) -> None:
    for p in personas.load()[:60:7]:
        slot.remove(wait=True)
        slot.present(p)
        check_reading(driver.read_card(), p)
    assert driver.health()["reads"] == len(personas.load()[:60:7])


@pytest.mark.parametrize("profile", [
    CardProfile(layout="is_mf_unnamed"),  # the MF is the application and does not answer to the name
    CardProfile(layout="is_mf", numbering="sequential", reverse=True, record_size=48, pad=b"\x00"),
    CardProfile(layout="under_mf", t0=True, trailing=b"\x01", name_pad=b"\xff"),
    CardProfile(numbering="sequential", ascii_numbers=True, record_size=40),
    CardProfile(plain_6700=True, select_p1_00_only=True, name_pad=b"\x00"),  # spec lengths; EF by P1 00
], ids=["is_mf_unnamed", "reversed_zero_padded", "t0_trailing_junk", "ascii_numbers", "plain_6700"])
def test_card_variants_read_alike(
    profile: CardProfile, driver: SocialSecurityCardReader, virtual_cards: VirtualCardSlots
) -> None:
    p = personas.by_id("P010")
    virtual_cards.insert(READER, SocialSecurityCard(p, profile=profile))
    check_reading(driver.read_card(), p)


class OneRecordCard(VirtualCard):
    """A card written apart from the simulator: each EF is one record holding all its items, SELECT
    always answers an FCI with 9000, any record but 1 is "end of file" (6282), P1 of SELECT ignored."""

    def __init__(self, p: personas.Persona) -> None:
        files = persona_items(p, CardProfile())
        self.records = {fid: b"".join(bytes([t, len(v)]) + v for t, v in sorted(items.items()))
                        for fid, items in files.items()}
        self.ef: int | None = None

    def atr(self) -> bytes:
        return bytes.fromhex("3B6800002494010301000100")

    def apdu(self, cmd: bytes) -> bytes:
        if cmd[1] == 0xA4:
            fid = int.from_bytes(cmd[5:7], "big")
            self.ef = fid if fid in self.records else self.ef
            return bytes.fromhex("6F03840100") + b"\x90\x00"
        if cmd[1] == 0xB2 and self.ef is not None:
            return self.records[self.ef] + b"\x90\x00" if cmd[2] == 1 else b"\x62\x82"
        return b"\x6d\x00"


def test_an_independent_card_with_one_record_per_ef(
    driver: SocialSecurityCardReader, virtual_cards: VirtualCardSlots
) -> None:
    p = personas.by_id("P015")
    virtual_cards.insert(READER, OneRecordCard(p))
    check_reading(driver.read_card(), p)


# --- faults: the driver's own error or a recovery, then reading again -----------------------------


def logged(p: personas.Persona, faults: FaultBoard, traffic: TrafficLog) -> LoggedCard:
    return LoggedCard(SocialSecurityCard(p, faults), traffic, "sscard")


def answers(traffic: TrafficLog) -> list[bytes]:
    return [e.data for e in traffic.entries("sscard", last=2000) if e.direction == "dev>host"]


def test_wrong_le_is_resent_with_the_right_le(driver: SocialSecurityCardReader, virtual_cards: VirtualCardSlots) -> None:
    p, traffic, faults = personas.by_id("P002"), TrafficLog(), FaultBoard("sscard", SSCARD_FAULTS)
    faults.set("wrong_le")
    virtual_cards.insert(READER, logged(p, faults, traffic))
    check_reading(driver.read_card(), p)
    assert any(a[0] == 0x6C for a in answers(traffic))


def test_get_response_chunks_are_fetched(driver: SocialSecurityCardReader, virtual_cards: VirtualCardSlots) -> None:
    p, traffic, faults = personas.by_id("P004"), TrafficLog(), FaultBoard("sscard", SSCARD_FAULTS)
    faults.set("get_response", arg="5")  # at most 5 bytes per GET RESPONSE
    virtual_cards.insert(READER, logged(p, faults, traffic))
    check_reading(driver.read_card(), p)
    assert sum(1 for a in answers(traffic) if len(a) > 2 and a[-2] == 0x61) >= 10


@pytest.mark.parametrize(("arg", "error"), [(None, CardDataError), ("sw", StatusWordError)])
def test_garbage_is_reported_then_reading_works(
    arg: str | None, error: type[Exception], driver: SocialSecurityCardReader, slot: PcscCardSlot
) -> None:
    p = personas.by_id("P003")
    slot.present(p)
    slot.faults.set("garbage", arg=arg)
    with pytest.raises(error) as info:
        driver.read_card()
    assert info.value.device == "sscard"
    if arg == "sw":
        assert "A55A" in str(info.value) and info.value.code == 195
    slot.faults.clear()
    check_reading(driver.read_card(), p)
    assert driver.health()["errors"] == 1


def test_card_removed_mid_read(driver: SocialSecurityCardReader, slot: PcscCardSlot, pcscd: PcscdHarness) -> None:
    p = personas.by_id("P005")
    slot.present(p)
    slot.faults.set("card_removed_mid_read", count=1)
    with pytest.raises(CardRemovedError) as info:
        driver.read_card()
    assert "b2" in str(info.value)  # during a READ RECORD, after the first record
    pcscd.wait_card(READER, present=False, timeout=EVENT_TIMEOUT_S)
    assert slot.status()["card"] is None
    with pytest.raises(NoCardError):
        driver.read_card()
    slot.present(p)
    check_reading(driver.read_once(EVENT_TIMEOUT_S), p)
    assert driver.health()["last_error"] == ""


def test_a_card_without_the_application(driver: SocialSecurityCardReader, virtual_cards: VirtualCardSlots) -> None:
    virtual_cards.insert(READER, UidCard(bytes.fromhex("04A1B2C3")))
    with pytest.raises(WrongCardError, match="not a social-security card"):
        driver.read_card()


def test_no_card_within_the_wait(driver: SocialSecurityCardReader) -> None:
    with pytest.raises(NoCardError):
        driver.read_once(0.3)
    assert driver.health()["last_error_code"] == 193


def test_unknown_reader(pcscd: PcscdHarness) -> None:
    with SocialSecurityCardReader("No Such Reader") as reader:
        with pytest.raises(ReaderNotFound):
            reader.read_once(0.1)
        health = reader.health()
    assert health["connected"] is False and "No Such Reader" in health["last_error"]
    json.dumps(health)


# --- pcscd's idle power-off, resets, events ------------------------------------------------------


@pytest.mark.timeout(40)
def test_reading_after_pcscd_powered_the_idle_card_off(
    driver: SocialSecurityCardReader, virtual_cards: VirtualCardSlots
) -> None:
    p = personas.by_id("P006")
    card = SocialSecurityCard(p)
    virtual_cards.insert(READER, card)
    watcher = driver.watch()
    assert (event := watcher.get(EVENT_TIMEOUT_S)) is not None and event.kind == "inserted"
    check_reading(driver.read_card(), p)
    cycles = card.power_cycles
    deadline = time.monotonic() + IDLE_POWER_OFF_WAIT_S
    while card.power_cycles == cycles and time.monotonic() < deadline:
        time.sleep(0.1)
    assert card.power_cycles > cycles, "pcscd did not power the idle card off"
    check_reading(driver.read_card(), p)  # powered on afresh, nothing selected: the driver selects again
    assert watcher.get(0.3) is None  # a power cycle is no card event


def test_reset_under_a_connection_is_reported_and_reconnect_works(
    pcscd: PcscdHarness, virtual_cards: VirtualCardSlots
) -> None:
    virtual_cards.insert(READER, SocialSecurityCard(personas.by_id("P007")))
    name = pcscd.pyscard_name(READER)
    ours, theirs = PcscContext("ours"), PcscContext("theirs")
    try:
        link = ours.connect(name)
        other = theirs.connect(name)
        hresult, _ = scard.SCardReconnect(other._live(), scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0,
                                          scard.SCARD_RESET_CARD)
        assert hresult == scard.SCARD_S_SUCCESS
        other.close()
        with pytest.raises(CardResetError):
            link.transmit(bytes.fromhex("00A4020002EF05"))
        link.reconnect()
        assert link.exchange(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"), follow_61=False).ok
        link.close()
    finally:
        ours.release()
        theirs.release()


def test_a_read_starts_over_once_after_a_reset(pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
    class ResetOnce(SocialSecurityCardReader):
        def _read(self, link: CardLink) -> SocialSecurityReading:
            if not self.restarts:
                raise CardResetError("reset by another program")
            return super()._read(link)

    p = personas.by_id("P008")
    virtual_cards.insert(READER, SocialSecurityCard(p))
    with ResetOnce(pcscd.pyscard_name(READER)) as reader:
        check_reading(reader.read_card(), p)
        assert reader.restarts == 1


def test_insert_and_remove_events(driver: SocialSecurityCardReader, slot: PcscCardSlot) -> None:
    watcher = driver.watch()
    slot.present(personas.by_id("P009"), wait=False)
    inserted = watcher.get(EVENT_TIMEOUT_S)
    assert inserted is not None and inserted.kind == "inserted" and inserted.atr == SocialSecurityCard(
        personas.by_id("P009")).atr()
    assert driver.health()["watching"] is True and driver.health()["card_present"] is True
    slot.remove()
    removed = watcher.get(EVENT_TIMEOUT_S)
    assert removed is not None and removed.kind == "removed"
    driver.close()
    assert not watcher.running


def test_health_is_json(driver: SocialSecurityCardReader, slot: PcscCardSlot) -> None:
    slot.present(personas.by_id("P001"))
    driver.read_card()
    health = driver.health()
    json.dumps(health)
    assert health["connected"] and health["card_present"] and health["reads"] == 1 and driver.apdus >= 10
    assert slot.status()["card"] == "P001" and "wrong_le" in slot.status()["fault_kinds"]
    commands = [e.data for e in slot.traffic.entries("sscard") if e.direction == "host>dev"]
    assert commands[0] == bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")  # the traffic log has APDUs
