"""Community card authentication over the real stack: pyscard → pcscd → vpcd ← the simulated card.

A genuine persona card authenticates; a clone (right UID, no key), a card without the
application, a plain UID card and a card replaying a recorded answer are refused with
CardAuthError; a card pulled mid-authentication is the usual "card removed" error; a terminal
holding another master key refuses every card; the simulator's control API and ``linfen read
ccard`` on a canteen config written by the simulator show the same.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drivers import ccard_auth
from drivers.ccard import CommunityCardReader
from drivers.pcsc_common import (
    CardAuthError,
    CardDataError,
    CardRemovedError,
    DeviceDisconnected,
    StatusWordError,
    WrongCardError,
)
from drivers.pcsc_link import PcscContext
from hardware_sim import personas
from hardware_sim.control_api import ControlServer
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.runner import CCARD_READER, Simulator
from hardware_sim.sscard import CCARD_FAULTS, CommunityCard, make_ccard
from hardware_sim.vpcd import UidCard
from kiosk.config import load_config
from kiosk.devices import configured_driver
from tests.pcsc_fixtures import VirtualCardSlots

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

READER = CCARD_READER
EVENT_TIMEOUT_S = 5.0
MASTER = bytes.fromhex("3C1F9A0B7D2E4C6A8B5F0E1D2C3B4A59")


@pytest.fixture
def slot(pcscd: PcscdHarness) -> Iterator[PcscCardSlot]:
    """The simulator's community-card slot, its genuine cards keyed from MASTER."""
    card_slot = PcscCardSlot("ccard", pcscd, READER, functools.partial(make_ccard, master_key=MASTER), CCARD_FAULTS)
    try:
        yield card_slot
    finally:
        card_slot.remove(wait=True)


@pytest.fixture
def reader(pcscd: PcscdHarness) -> Iterator[CommunityCardReader]:
    """A canteen's reader: it holds the master key and authenticates every card."""
    with CommunityCardReader(pcscd.pyscard_name(READER), timeout_s=EVENT_TIMEOUT_S, master_key=MASTER) as driver:
        yield driver


def test_genuine_persona_cards_authenticate(reader: CommunityCardReader, slot: PcscCardSlot) -> None:
    for p in personas.load()[::15]:
        slot.remove(wait=True)
        slot.present(p)
        tap = reader.read_once(EVENT_TIMEOUT_S)
        assert tap.uid == p.ccard_uid and tap.authenticated is True
        assert tap.as_dict()["authenticated"] is True
    assert reader.health()["authenticating"] is True
    assert reader.health()["cards_authenticated"] == 4 and reader.health()["cards_refused"] == 0


def test_a_clone_with_the_right_uid_is_refused(reader: CommunityCardReader, slot: PcscCardSlot,
                                               pcscd: PcscdHarness) -> None:
    p = personas.by_id("P002")
    slot.present(personas.card_variant(p, "clone"))
    with pytest.raises(CardAuthError) as info:
        reader.read_card()
    assert f"card {p.ccard_uid} failed authentication: not a genuine community card" in str(info.value)
    assert "wrong answer to the challenge" in str(info.value) and info.value.code == 196
    assert slot.status()["card"] == "P002:clone"
    with CommunityCardReader(pcscd.pyscard_name(READER)) as uid_only:  # the UID alone cannot tell them apart
        tap = uid_only.read_card()
        assert tap.uid == p.ccard_uid and tap.authenticated is False
    slot.remove(wait=True)
    slot.present(p)  # the resident's own card still works
    assert reader.read_once(EVENT_TIMEOUT_S).authenticated is True
    assert reader.health()["cards_refused"] == 1 and reader.health()["last_error_code"] == 0


def test_a_card_without_the_application_is_refused(reader: CommunityCardReader, slot: PcscCardSlot) -> None:
    p = personas.by_id("P003")
    slot.present(personas.card_variant(p, "no_applet"))
    with pytest.raises(CardAuthError, match=f"card {p.ccard_uid} failed authentication: not a genuine community "
                                            r"card \(no community card application: SELECT answered 6A82") as info:
        reader.read_card()
    assert info.value.sw == 0x6A82 and isinstance(info.value, WrongCardError)
    assert reader.health()["last_error_code"] == 196


def test_a_plain_uid_card_is_refused(reader: CommunityCardReader, virtual_cards: VirtualCardSlots) -> None:
    virtual_cards.insert(READER, UidCard(bytes.fromhex("0A0B0C0D")))  # knows GET DATA and nothing else
    with pytest.raises(CardAuthError, match="card 0A0B0C0D failed authentication.*SELECT answered 6700"):
        reader.read_card()


class ReplayingCard(CommunityCard):
    """A fake that answers every challenge with an answer recorded from the genuine card."""

    def __init__(self, uid: bytes, recorded: bytes):
        super().__init__(uid, card_key=os.urandom(16))
        self.recorded = recorded

    def apdu(self, cmd: bytes) -> bytes:
        reply = super().apdu(cmd)
        if cmd[:2] == b"\x00\x88" and reply[-2:] == b"\x90\x00":
            return self.recorded + b"\x90\x00"
        return reply


def test_a_recorded_answer_replayed_is_refused(reader: CommunityCardReader, slot: PcscCardSlot,
                                               virtual_cards: VirtualCardSlots, pcscd: PcscdHarness) -> None:
    p = personas.by_id("P004")
    slot.present(p)
    rnd_a = os.urandom(16)
    context = PcscContext("eavesdropper")  # records one genuine exchange on the wire
    try:
        with context.connect(pcscd.pyscard_name(READER)) as link:
            assert link.exchange(ccard_auth.SELECT_AID).ok
            recorded = link.exchange(ccard_auth.internal_authenticate(rnd_a))
    finally:
        context.release()
    assert recorded.ok and ccard_auth.verify(MASTER, bytes.fromhex(p.ccard_uid), rnd_a, recorded.data)
    slot.remove(wait=True)
    virtual_cards.insert(READER, ReplayingCard(bytes.fromhex(p.ccard_uid), recorded.data))
    with pytest.raises(CardAuthError, match="wrong answer to the challenge"):
        reader.read_card()  # the reader's RndA is fresh: the recorded answer is for another


@pytest.mark.parametrize("step", ["auth", "select"])
def test_card_pulled_mid_authentication(step: str, reader: CommunityCardReader, slot: PcscCardSlot,
                                        pcscd: PcscdHarness) -> None:
    p = personas.by_id("P005")
    slot.present(p)
    slot.faults.set("card_removed_mid_read", arg=step, count=1)
    with pytest.raises(CardRemovedError, match="taken away"):
        reader.read_card()
    pcscd.wait_card(READER, present=False, timeout=EVENT_TIMEOUT_S)
    slot.present(p)
    assert reader.read_once(EVENT_TIMEOUT_S).authenticated is True
    assert reader.health()["cards_refused"] == 0


def test_wrong_le_during_authentication_is_resent(reader: CommunityCardReader, slot: PcscCardSlot) -> None:
    p = personas.by_id("P006")
    slot.present(p)
    slot.faults.set("wrong_le")
    tap = reader.read_card()
    assert tap.uid == p.ccard_uid and tap.authenticated is True
    assert slot.faults.active() == ["wrong_le"]  # in force throughout: recovered, not avoided


@pytest.mark.parametrize(("arg", "error"), [("auth", CardDataError), ("auth_sw", StatusWordError)])
def test_garbage_answer_to_the_challenge(arg: str, error: type[Exception], reader: CommunityCardReader,
                                         slot: PcscCardSlot) -> None:
    slot.present(personas.by_id("P007"))
    slot.faults.set("garbage", arg=arg, count=1)
    with pytest.raises(error) as info:
        reader.read_card()
    assert not isinstance(info.value, CardAuthError)  # a bad transmission is "try again", not "fake card"
    assert reader.read_card().authenticated is True


def test_a_terminal_with_another_master_key_refuses_every_card(slot: PcscCardSlot, pcscd: PcscdHarness) -> None:
    with CommunityCardReader(pcscd.pyscard_name(READER), master_key=os.urandom(16)) as wrong:
        for p in personas.load()[1::20]:
            slot.remove(wait=True)
            slot.present(p)
            with pytest.raises(CardAuthError, match=f"card {p.ccard_uid} failed authentication"):
                wrong.read_card()
        assert wrong.health()["cards_refused"] == 3 and wrong.health()["cards_authenticated"] == 0


def test_a_bad_master_key_is_refused_by_the_driver(pcscd: PcscdHarness) -> None:
    with pytest.raises(ValueError, match="16 bytes, not 15"):
        CommunityCardReader(pcscd.pyscard_name(READER), master_key=bytes(15))


# -- the simulator, its control API, its canteen config and `linfen read ccard` ----------------------
@pytest.fixture
def sim(pcscd: PcscdHarness, tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(tmp_path / "sim", harness=pcscd, devices=("ccard",))
    server = ControlServer(simulator)
    with simulator:
        simulator.control_url = server.start()
        try:
            yield simulator
        finally:
            server.stop()
            simulator.device("ccard").remove(wait=True)


def _canteen_config(sim: Simulator, tmp_path: Path) -> Path:
    path = tmp_path / "canteen.toml"
    path.write_text(sim.terminal_config("canteen"), encoding="utf-8")
    return path


def test_the_simulator_keys_its_cards_and_the_canteen_config_names_the_key(sim: Simulator, tmp_path: Path) -> None:
    key_file = sim.workdir / "card-master-key.hex"
    assert sim.card_master_key_file == key_file and key_file.stat().st_mode & 0o777 == 0o600
    assert ccard_auth.load_master_key(key_file) == sim.card_master_key
    config = load_config(_canteen_config(sim, tmp_path))
    assert config.card_keys.master_key_file == str(key_file)
    assert "[card_keys]" not in sim.terminal_config("counter")  # the counter's staff cards: UID only
    again = Simulator(sim.workdir, devices=())  # the same folder keeps its key
    assert again.card_master_key == sim.card_master_key


def test_control_api_presents_genuine_clone_and_bare_cards(sim: Simulator, tmp_path: Path) -> None:
    config = load_config(_canteen_config(sim, tmp_path))
    p = personas.by_id("P008")
    with configured_driver(config, "ccard") as driver:
        assert driver.authenticating
        answer = httpx.post(f"{sim.control_url}/present", json={"device": "ccard", "persona": "P008"}).json()
        assert answer["card"] == "P008"
        assert driver.read_once(EVENT_TIMEOUT_S).authenticated is True
        for card, reason in (("clone", "wrong answer"), ("no_applet", "no community card application")):
            answer = httpx.post(f"{sim.control_url}/present",
                                json={"device": "ccard", "persona": "P008", "card": card}).json()
            assert answer["card"] == f"P008:{card}"
            with pytest.raises(CardAuthError, match=f"card {p.ccard_uid} failed authentication.*{reason}"):
                driver.read_once(EVENT_TIMEOUT_S)
    refused = httpx.post(f"{sim.control_url}/present", json={"device": "ccard", "persona": "P008", "card": "copy"})
    assert refused.status_code == 422
    refused = httpx.post(f"{sim.control_url}/present", json={"device": "sscard", "persona": "P008", "card": "clone"})
    assert refused.status_code == 400 and "present it on ccard" in refused.json()["detail"]


def test_linfen_read_ccard_says_whether_the_card_authenticated(sim: Simulator, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from linfen.cli import main

    config = _canteen_config(sim, tmp_path)
    sim.present("ccard", "P009")
    assert main(["read", "ccard", "--config", str(config), "--json", "--timeout", "5"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["uid"] == personas.by_id("P009").ccard_uid and shown["authenticated"] is True
    sim.present("ccard", "P009", card="clone")
    assert main(["read", "ccard", "--config", str(config), "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "failed authentication: not a genuine community card" in err and "\n" == err[-1] and err.count("\n") == 1
    counter_like = tmp_path / "no-key.toml"  # a canteen without [card_keys] does not fall back to UIDs
    counter_like.write_text(config.read_text(encoding="utf-8").split("[card_keys]")[0], encoding="utf-8")
    assert main(["read", "ccard", "--config", str(counter_like), "--timeout", "5"]) == 2  # a config problem
    assert "card_keys.master_key_file: missing; role 'canteen'" in capsys.readouterr().err


def test_read_failures_are_not_reader_faults(reader: CommunityCardReader, slot: PcscCardSlot) -> None:
    """The card loop tells a refused card (the resident's business) from a broken reader (the technician's)."""
    from kiosk.runtime.health import classify_error
    from kiosk.runtime.readers import CardReadFailed, _poll_pcsc_reader

    slot.present(personas.card_variant(personas.by_id("P010"), "clone"))
    with pytest.raises(CardReadFailed) as info:
        _poll_pcsc_reader(reader)
    assert isinstance(info.value.error, CardAuthError) and not isinstance(info.value.error, DeviceDisconnected)
    assert classify_error(info.value.error) == "ok"  # the reader answered: it stays up
