"""The ID card driver against the simulated reader over a real pty: readings equal the persona, faults are errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import select
import threading
import time

import pytest

from drivers.errors import DeviceDisconnected, DeviceTimeout, FrameError
from drivers.idcard import (
    CardReadError,
    IdCardDisconnected,
    IdCardError,
    IdCardReader,
    IdCardTimeout,
    IdFrameError,
    NoCardError,
    SamError,
)
from drivers.idcard.fields import NATIONS, check_digit
from hardware_sim.faults import FaultError
from hardware_sim.idcard import IdCardSim, reply_frame
from hardware_sim.personas import Persona, by_id, load
from hardware_sim.traffic import TrafficLog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

TIMEOUT_S = 0.5  # reader's thinking time allowed in tests: the simulator answers at once


def _date(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def with_name(base: Persona, persona_id: str, name: str) -> Persona:
    """A persona made for a test: another name, and an ID number with its own valid check digit."""
    first17 = base.id_number[:14] + "123"
    return dataclasses.replace(base, persona_id=persona_id, name=name, id_number=first17 + check_digit(first17))


@pytest.fixture
def traffic(tmp_path):
    return TrafficLog(tmp_path / "traffic")


@pytest.fixture
def sim(tmp_path, traffic):
    dev = IdCardSim("idcard", tmp_path / "idcard", traffic=traffic)
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def reader(sim):
    with IdCardReader(str(sim.link_path), baud=115200, timeout_s=TIMEOUT_S, name="idcard") as r:
        yield r


def assert_reading_is(card, p: Persona) -> None:
    assert card.name == p.name
    assert card.sex == p.sex
    assert card.nation_code == p.nation and card.nation_name == NATIONS[p.nation]
    assert card.birth == _date(p.birth)
    assert card.address == p.address
    assert card.id_number == p.id_number and card.id_valid
    assert card.authority == p.authority
    assert card.valid_from == _date(p.valid_from)
    assert card.valid_to == (None if p.valid_to == "长期" else _date(p.valid_to))
    assert card.photo == p.photo() and len(card.photo) == 1024


# -- readings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "persona",
    [
        by_id("P001"),  # 3-character name, dated validity
        by_id("P003"),  # 2-character name, 长期, check digit X
        by_id("P007"),  # nation 06 (苗), 长期
        by_id("P019"),  # 2-character name, dated validity
        with_name(by_id("P002"), "T901", "欧阳晓东"),  # 4-character name
        with_name(by_id("P004"), "T902", "买买提·艾力"),  # name with a middle dot
        dataclasses.replace(with_name(by_id("P005"), "T903", "阿" * 15), address="址" * 35,
                            authority="局" * 15),  # every text field at its full width
    ],
    ids=lambda p: p.persona_id,
)
def test_every_field_equals_the_persona(sim, reader, persona):
    sim.present(persona)
    card = reader.read_card()
    assert_reading_is(card, persona)
    assert card.long_term == (persona.valid_to == "长期")


def test_masked_forms_of_a_reading(sim, reader):
    sim.present("P003")
    card = reader.read_card()
    assert (card.masked_name, card.masked_id) == ("朱*", "310***********055X")
    assert "朱军" not in repr(card) and "31011319681206055X" not in repr(card)
    assert card.as_dict()["id_number"] == "310***********055X"
    assert card.as_dict(masked=False)["valid_to"] == "长期"


def test_all_personas_read_back(sim, reader):
    for persona in load():
        sim.present(persona)
        assert_reading_is(reader.read_card(), persona)
    assert reader.health()["reads"] == len(load())


def test_read_with_fingerprint_on_a_card_without_one(sim, reader):
    sim.present("P001")
    card = reader.read_card(with_fingerprint=True)
    assert_reading_is(card, by_id("P001"))
    assert card.fingerprint == b""


def test_the_driver_sends_exactly_the_published_frames(sim, reader, traffic):
    sim.present("P001")
    reader.read_card()
    sent = [e.data.hex(" ") for e in traffic.entries("idcard") if e.direction == "host>dev"]
    assert sent == ["aa aa aa 96 69 00 03 20 01 22", "aa aa aa 96 69 00 03 20 02 21", "aa aa aa 96 69 00 03 30 01 32"]


def test_sam_commands(reader):
    reader.reset_sam()
    status = reader.sam_status()
    assert status.ok and status.sw3 == 0x90
    assert reader.sam_id().text == "05.01-20240315-310106001-000000007"


# -- no card, card placed later -----------------------------------------------------------------
def test_no_card(reader):
    assert reader.find_card() is False
    with pytest.raises(NoCardError) as info:
        reader.read_card()
    assert info.value.code == 111 and isinstance(info.value, DeviceTimeout)
    with pytest.raises(NoCardError, match="within 0.3 s"):
        reader.read_once(0.3)


def test_read_once_waits_for_the_card(sim, reader):
    placed = threading.Timer(0.3, sim.present, args=("P019",))
    placed.start()
    try:
        assert_reading_is(reader.read_once(5.0), by_id("P019"))
    finally:
        placed.cancel()


# -- serial faults ------------------------------------------------------------------------------
def read_after_clear(sim, reader, persona_id="P001"):
    sim.faults.clear()
    assert_reading_is(reader.read_card(), by_id(persona_id))


@pytest.mark.parametrize(
    ("fault", "error", "generic", "message"),
    [
        ("no_answer", IdCardTimeout, DeviceTimeout, "no answer"),
        ("garbage", IdFrameError, FrameError, None),
        ("bad_checksum", IdFrameError, FrameError, "checksum"),
        ("truncated", IdFrameError, FrameError, "truncated"),
    ],
)
@pytest.mark.parametrize("step", ["find", "read"])
def test_serial_faults_are_the_drivers_errors(sim, reader, fault, error, generic, message, step):
    sim.present("P001")
    if step == "read":  # hit the 1295-byte reply rather than the short find answer
        assert reader.find_card()
        reader.select_card()
    sim.faults.set(fault)
    with pytest.raises(error, match=message) as info:
        reader.read_selected() if step == "read" else reader.read_card()
    assert isinstance(info.value, generic) and isinstance(info.value, IdCardError)
    assert str(info.value).startswith("idcard: ")
    assert reader.health()["last_error_code"] == info.value.code
    with pytest.raises(IdCardError):  # a fault stays until it is cleared
        reader.read_card()
    read_after_clear(sim, reader)


def test_slow_answer_times_out_then_the_late_answer_is_dropped(sim, reader):
    sim.present("P001")
    sim.faults.set("slow", count=1)
    with pytest.raises(IdCardTimeout):
        reader.read_card()
    assert sim.wait_idle(10)  # the late answer has gone out
    assert_reading_is(reader.read_card(), by_id("P001"))


def test_unplug_mid_read_then_replug(sim, reader):
    sim.present("P001")
    assert reader.find_card()
    reader.select_card()
    sim.faults.set("unplug_mid_read", count=1)
    with pytest.raises(IdCardDisconnected) as info:
        reader.read_selected()
    assert isinstance(info.value, DeviceDisconnected) and info.value.code == 101
    with pytest.raises(DeviceDisconnected):  # still unplugged: reported at once, no hang
        reader.read_once(5.0)
    assert reader.health()["connected"] is False
    sim.plug()
    reader.retry_now()
    assert_reading_is(reader.read_card(), by_id("P001"))
    assert reader.health()["reopens"] == 1


def test_plain_unplug_and_replug(sim, reader):
    sim.present("P003")
    reader.read_card()
    sim.unplug()
    with pytest.raises(IdCardDisconnected):
        reader.read_card()
    sim.plug()
    reader.retry_now()
    assert_reading_is(reader.read_card(), by_id("P003"))


# -- ID card faults -----------------------------------------------------------------------------
@pytest.mark.parametrize(("arg", "sw3", "words"), [("60", 0x60, "self-test failed"), ("66", 0x66, "not authorised"),
                                                   (None, 0x60, "self-test failed")])
def test_sam_failure(sim, reader, arg, sw3, words):
    sim.present("P001")
    sim.faults.set("sam_failure", arg)
    with pytest.raises(SamError, match=words) as info:
        reader.read_card()
    assert info.value.sw3 == sw3 and info.value.code == 112
    status = reader.sam_status()
    assert not status.ok and status.sw3 == sw3 and words in status.text
    with pytest.raises(SamError):
        reader.reset_sam()
    with pytest.raises(SamError):
        reader.read_once(1.0)  # a broken SAM is reported, not waited out
    assert sim.status()["sam"] == f"failure {sw3:02X}"
    read_after_clear(sim, reader)
    assert reader.sam_status().ok


def test_card_removed_mid_read(sim, reader):
    sim.present("P001")
    sim.faults.set("card_removed_mid_read")
    with pytest.raises(CardReadError, match="read failed") as info:
        reader.read_card()
    assert info.value.sw3 == 0x41 and info.value.code == 113
    assert sim.card is None and reader.find_card() is False
    with pytest.raises(NoCardError):
        reader.read_once(0.2)
    sim.faults.clear()
    sim.present("P001")
    assert_reading_is(reader.read_card(), by_id("P001"))


def test_unknown_fault_is_refused(sim):
    with pytest.raises(FaultError, match="paper_out"):
        sim.faults.set("paper_out")


def test_simulator_status_and_config(sim):
    sim.present("P007")
    status = sim.status()
    assert status["kind"] == "idcard" and status["card"] == "P007" and status["plugged"]
    assert sim.config_entry() == {"port": str(sim.link_path), "baud": 115200}
    sim.remove()
    assert sim.status()["card"] is None


# -- liberal in what the driver accepts: a scripted device on a bare pty -------------------------
class Scripted:
    """Answers each host frame with the next scripted bytes, written in the given chunks."""

    def __init__(self, master: int, answers: list[list[bytes]]):
        self.master, self.answers = master, answers
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for chunks in self.answers:
            got = b""
            while len(got) < 10:  # every command frame without data is 10 bytes
                ready, _, _ = select.select([self.master], [], [], 5)
                if not ready:
                    return
                got += os.read(self.master, 64)
            for chunk in chunks:
                os.write(self.master, chunk)
                time.sleep(0.005)


def test_junk_late_answers_split_frames_and_nonzero_sw1_are_accepted(raw_pty):
    from hardware_sim.idcard import read_reply

    persona = by_id("P005")
    read = read_reply(persona)
    Scripted(raw_pty.master, [
        [b"\x00\xff", reply_frame(0x9F, bytes(4))],  # junk before the frame
        [reply_frame(0x9F, bytes(4)), reply_frame(0x90, bytes(8))],  # a late find answer before ours
        [read[:5], read[5:600], read[600:]],  # the read reply in pieces
    ])
    reader = IdCardReader(raw_pty.slave_path, timeout_s=2.0)
    try:
        assert_reading_is(reader.read_card(), persona)
        assert reader.health()["stale_replies"] == 1
    finally:
        reader.close()


def test_status_sw1_sw2_are_kept_but_sw3_decides(raw_pty):
    frame = b"\xaa\xaa\xaa\x96\x69\x00\x04\x12\x34\x90"
    chk = 0
    for b in frame[5:]:
        chk ^= b
    Scripted(raw_pty.master, [[frame + bytes([chk])]])
    reader = IdCardReader(raw_pty.slave_path, timeout_s=2.0)
    try:
        assert reader.sam_status().ok
    finally:
        reader.close()


def test_missing_port_is_disconnected_not_a_hang(tmp_path):
    reader = IdCardReader(str(tmp_path / "nowhere"), timeout_s=0.2)
    with pytest.raises(IdCardDisconnected, match="cannot open"):
        reader.read_once(5.0)
    assert reader.health()["connected"] is False and reader.health()["last_error"]
