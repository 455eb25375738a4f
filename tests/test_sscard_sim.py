"""The simulated social-security and community cards, command by command (no transport).

What a real card answers is what the driver is built against, so the status words are
checked here one by one, along with power-cycle state, faults and the traffic wrapper.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.pcsc_common import exchange
from drivers.sscard_codec import parse_tlvs, read_record, select_by_name, select_ef, select_mf
from hardware_sim import personas
from hardware_sim.faults import FaultBoard, FaultError
from hardware_sim.sscard import (
    CCARD_FAULTS,
    SSCARD_FAULTS,
    CommunityCard,
    LoggedCard,
    SocialSecurityCard,
    make_ccard,
    make_sscard,
    split_command,
)
from hardware_sim.sscard_files import EF05, PROFILE_BY_GENERATION, CardProfile, bcd, card_files
from hardware_sim.timing import REALISTIC_DELAYS_S, Timing
from hardware_sim.traffic import TrafficLog
from hardware_sim.vpcd import CardVanished, respond

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

P = personas.by_id("P001")


def sw(reply: bytes) -> str:
    return reply[-2:].hex().upper()


def card(profile: CardProfile | None = None, **faults: str | None) -> SocialSecurityCard:
    board = FaultBoard("sscard", SSCARD_FAULTS)
    for kind, arg in faults.items():
        board.set(kind, arg=arg)
    return SocialSecurityCard(P, board, profile or CardProfile())


def test_select_and_read_under_the_mf() -> None:
    c = card()
    assert sw(c.apdu(select_ef(EF05))) == "6A82"  # EF05 is in the application, not the MF
    assert sw(c.apdu(read_record(1))) == "6986"  # no current EF
    assert sw(c.apdu(select_by_name())) == "9000"
    assert sw(c.apdu(select_ef(EF05))) == "9000"
    reply = c.apdu(read_record(7))
    assert sw(reply) == "9000" and parse_tlvs(reply[:-2]) == [(0x07, P.ss_card_number.encode())]
    assert sw(c.apdu(read_record(8))) == "6A83"  # EF06's record, not EF05's
    assert sw(c.apdu(select_ef(0xEF07))) == "6A82"


@pytest.mark.parametrize(("cmd", "status"), [
    ("00B20704", "6700"),  # READ RECORD without Le
    ("00B2070401AA00", "6700"),  # with data
    ("00B2070500", "6A86"),  # P2 asks for something other than "record number in P1"
    ("00B2070C00", "6A82"),  # P2 0C: SFI 1, no such EF
    ("00B2073C00", "6A82"),  # SFI 7: no such EF
    ("00B207040B", "9000"),  # exact Le: tag, length and 9 digits
    ("00B2070405", "6C0B"),  # Le too short: the right one in SW2
    ("00B2070420", "6C0B"),  # Le too long
    ("80B2070400", "6E00"),
    ("00B0000000", "6D00"),
    ("00C0000010", "6985"),  # GET RESPONSE with nothing waiting
    ("00A4080002EF05", "6A86"),
    ("00A404000F7378", "6700"),  # Lc says 15, 2 bytes follow
    ("00A4", "6700"),
])
def test_status_words(cmd: str, status: str) -> None:
    c = card()
    c.apdu(select_by_name())
    c.apdu(select_ef(EF05))
    assert sw(c.apdu(bytes.fromhex(cmd))) == status


def test_sfi_selects_the_ef() -> None:
    c = card()
    c.apdu(select_by_name())
    assert parse_tlvs(c.apdu(bytes.fromhex("00B2072C00"))[:-2])[0][0] == 0x07  # P2 2C: SFI 5, record in P1
    assert parse_tlvs(c.apdu(bytes.fromhex("00B2083400"))[:-2])[0][0] == 0x08  # P2 34: SFI 6


def test_application_as_the_mf() -> None:
    named, unnamed = card(CardProfile(layout="is_mf")), card(CardProfile(layout="is_mf_unnamed"))
    assert sw(named.apdu(select_by_name())) == "9000" and sw(named.apdu(select_ef(EF05))) == "9000"
    assert sw(unnamed.apdu(select_by_name())) == "6A82"
    assert sw(unnamed.apdu(select_ef(EF05))) == "9000"  # straight under the MF
    assert sw(unnamed.apdu(select_mf())) == "9000"


def test_t0_style_answers() -> None:
    c = card(CardProfile(t0=True))
    assert sw(c.apdu(select_by_name())) == "6113"  # FCI waiting: 6F 11 84 0F name
    assert c.apdu(bytes.fromhex("00C0000013"))[:4] == b"\x6f\x11\x84\x0f"
    c.apdu(select_ef(EF05))
    assert sw(c.apdu(read_record(7))) == "6C0B"  # Le 00 is 256 on T=0
    assert sw(c.apdu(bytes.fromhex("00B207040B"))) == "610B"
    assert sw(c.apdu(bytes.fromhex("00C0000020"))) == "6C0B"
    assert c.apdu(bytes.fromhex("00C000000B"))[2:-2] == P.ss_card_number.encode()


def test_plain_6700_and_p1_00_only_profile() -> None:
    c = card(CardProfile(plain_6700=True, select_p1_00_only=True))
    c.apdu(select_by_name())
    assert sw(c.apdu(select_ef(EF05))) == "6A86"
    assert sw(c.apdu(bytes.fromhex("00A4000002EF05"))) == "9000"
    assert sw(c.apdu(read_record(7))) == "6700"
    assert sw(c.apdu(bytes.fromhex("00B207040B"))) == "9000"


def test_power_cycle_forgets_the_selection() -> None:
    c = card()
    c.apdu(select_by_name())
    c.apdu(select_ef(EF05))
    c.power_off()
    c.power_on()
    assert sw(c.apdu(read_record(7))) == "6986" and c.power_cycles == 1


def test_faults() -> None:
    c = card(wrong_le=None)
    c.apdu(select_by_name())
    c.apdu(select_ef(EF05))
    assert sw(c.apdu(read_record(7))) == "6C0B"
    c.faults.clear()
    c.faults.set("garbage", arg="sw")
    assert c.apdu(read_record(7)) == b"\xa5\x5a"
    c.faults.set("garbage")
    assert sw(c.apdu(read_record(7))) == "9000"
    c.faults.clear()
    c.faults.set("card_removed_mid_read", count=1)
    c.apdu(select_by_name())  # a new read: nothing answered yet
    c.apdu(select_ef(EF05))
    assert sw(c.apdu(read_record(1))) == "9000"
    with pytest.raises(CardVanished):
        c.apdu(read_record(2))
    assert c.faults.active() == []
    with pytest.raises(FaultError):
        c.faults.set("no_answer")  # vpcd would wait for ever: not offered


def test_vpcd_passes_a_vanishing_card_on() -> None:
    """respond() answers 6F00 for a failing card but lets CardVanished through, so the connection drops."""
    board = FaultBoard("ccard", CCARD_FAULTS)
    board.set("card_removed_mid_read")
    with pytest.raises(CardVanished):
        respond(CommunityCard(b"\x01\x02\x03\x04", board), bytes.fromhex("FFCA000000"))


def test_get_response_fault_hands_out_chunks() -> None:
    c = card(get_response="4")
    c.apdu(select_by_name())
    c.apdu(select_ef(EF05))
    assert exchange(c.apdu, read_record(7)).data == bytes([0x07, 0x09]) + P.ss_card_number.encode()


def test_profiles_number_and_pad_records() -> None:
    seq = card_files(P, CardProfile(numbering="sequential", reverse=True, record_size=40, pad=b"\x00"))[EF05]
    assert sorted(seq) == [1, 2, 3, 4, 5, 6, 7] and seq[1][0] == 0x07 and all(len(r) == 40 for r in seq.values())
    by_tag = card_files(P, PROFILE_BY_GENERATION[3])[0xEF06]
    assert sorted(by_tag) == [8, 9, 10, 11, 12, 13] and by_tag[9][2:] == P.name.encode("gbk").ljust(30, b"\0")
    assert bcd("01") == b"\x01" and bcd("123") == b"\x12\x3f"
    with pytest.raises(ValueError):
        CardProfile(layout="nowhere")


def test_community_card_faults_and_factories() -> None:
    board = FaultBoard("ccard", CCARD_FAULTS)
    c = make_ccard(P, board)
    assert isinstance(c, CommunityCard) and c.apdu(bytes.fromhex("FFCA000000")) == bytes.fromhex(P.ccard_uid) + b"\x90\x00"
    board.set("wrong_le", count=1)
    assert c.apdu(bytes.fromhex("FFCA000000")) == b"\x6c\x04"
    board.set("garbage")
    assert len(c.apdu(bytes.fromhex("FFCA000000"))) == 5  # 3-byte "UID"
    board.set("garbage", arg="sw")
    assert c.apdu(bytes.fromhex("FFCA000000")) == b"\xa5\x5a"
    board.clear()
    board.set("card_removed_mid_read")
    with pytest.raises(CardVanished):
        c.apdu(bytes.fromhex("FFCA000000"))
    assert isinstance(make_sscard(P, FaultBoard("sscard", SSCARD_FAULTS)), SocialSecurityCard)
    slow = make_sscard(P, FaultBoard("sscard", SSCARD_FAULTS), timing=Timing.REALISTIC)
    assert isinstance(slow, SocialSecurityCard) and slow.delay_s == REALISTIC_DELAYS_S["sscard.apdu"]
    assert isinstance(c, CommunityCard) and c.delay_s == 0.0


def test_logged_card_records_both_ways() -> None:
    traffic = TrafficLog()
    c = LoggedCard(card(), traffic, "sscard")
    c.power_on()
    c.apdu(select_by_name())
    entries = traffic.entries("sscard")
    assert [e.direction for e in entries] == ["event", "host>dev", "dev>host"]
    assert entries[2].data == b"\x90\x00" and c.atr() == card().atr()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_the_card_always_answers_with_a_status_word(cmd: bytes) -> None:
    for c in (card(), card(CardProfile(t0=True, layout="is_mf"))):
        c.apdu(select_by_name())
        reply = c.apdu(cmd)
        assert len(reply) >= 2
    assert split_command(cmd) is None or isinstance(split_command(cmd), tuple)
