"""Community card authentication without a transport: the crypto, the key file, the config, the simulated applet.

docs/community-card.md §1.  The AES-CMAC wiring is proved by RFC 4493's known answers; the
rest checks that each rule can fail (a replayed answer, another UID, a weak or leaky key file).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivers import ccard_auth
from drivers.ccard_auth import (
    AID,
    SELECT_AID,
    MasterKeyError,
    aes_cmac,
    auth_message,
    card_answer,
    diversify_key,
    internal_authenticate,
    load_master_key,
    verify,
)
from drivers.pcsc_common import CardAuthError, DeviceRefused, PcscError, WrongCardError, exchange
from hardware_sim import personas
from hardware_sim.faults import FaultBoard
from hardware_sim.sscard import CCARD_FAULTS, DEV_MASTER_KEY, CommunityCard, make_ccard, make_clone_ccard
from hardware_sim.vpcd import CardVanished
from kiosk.config import ConfigError, load_config, parse_config
from kiosk.devices import card_master_key, driver_options

pytestmark = pytest.mark.unit

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
UID = bytes.fromhex("C5EEDA41")
RND = bytes(range(16))
P = personas.by_id("P001")

# RFC 4493 §4 test vectors (AES-128, key 2b7e1516...)
RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MSG = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710")


@pytest.mark.parametrize(("length", "mac"), [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
])
def test_aes_cmac_rfc4493_known_answers(length: int, mac: str) -> None:
    assert aes_cmac(RFC4493_KEY, RFC4493_MSG[:length]).hex() == mac


def test_diversify_key_is_the_documented_cmac() -> None:
    assert diversify_key(MASTER, UID) == aes_cmac(MASTER, b"\x01" + UID + AID + b"LINFEN")
    assert diversify_key(MASTER, UID) == diversify_key(MASTER, UID)  # deterministic
    assert len(diversify_key(MASTER, UID)) == 16


def test_different_uids_and_master_keys_give_different_card_keys() -> None:
    keys = {diversify_key(MASTER, bytes.fromhex(p.ccard_uid)) for p in personas.load()}
    assert len(keys) == len(personas.load())
    assert diversify_key(MASTER, UID) != diversify_key(bytes(reversed(MASTER)), UID)
    assert diversify_key(MASTER, UID) not in (MASTER, UID)
    seven = bytes.fromhex("04112233445566")
    assert diversify_key(MASTER, seven) != diversify_key(MASTER, seven + b"\x77\x88\x99")


def test_the_message_and_answer_follow_the_doc() -> None:
    assert auth_message(UID, RND) == b"LFCC-AUTH" + UID + RND
    card_key = diversify_key(MASTER, UID)
    assert card_answer(card_key, UID, RND) == aes_cmac(card_key, b"LFCC-AUTH" + UID + RND)
    assert SELECT_AID == bytes.fromhex("00A4040006F04C46434301")
    assert internal_authenticate(RND) == bytes.fromhex("0088000110") + RND + b"\x00"


def test_verify_accepts_the_genuine_answer_only() -> None:
    answer = card_answer(diversify_key(MASTER, UID), UID, RND)
    assert verify(MASTER, UID, RND, answer)
    assert not verify(MASTER, UID, RND, answer[:-1] + bytes([answer[-1] ^ 1]))  # one bit off
    assert not verify(MASTER, UID, RND, answer[:8])  # too short
    assert not verify(MASTER, UID, RND, b"")
    assert not verify(MASTER, bytes.fromhex("C5EEDA42"), RND, answer)  # another card's UID
    assert not verify(os.urandom(16), UID, RND, answer)  # the terminal holds another master key
    clone_key = os.urandom(16)  # a clone: right UID, a key of its own
    assert not verify(MASTER, UID, RND, card_answer(clone_key, UID, RND))


def test_a_replayed_answer_does_not_verify_against_a_new_challenge() -> None:
    recorded_rnd = os.urandom(16)
    recorded = card_answer(diversify_key(MASTER, UID), UID, recorded_rnd)
    assert verify(MASTER, UID, recorded_rnd, recorded)  # it was a genuine answer…
    for _ in range(20):
        fresh = os.urandom(16)
        if fresh != recorded_rnd:
            assert not verify(MASTER, UID, fresh, recorded)  # …to another challenge


@pytest.mark.parametrize(("fn", "args"), [
    (diversify_key, (MASTER, b"\x01\x02\x03")),  # a UID has 4, 7 or 10 bytes
    (diversify_key, (MASTER[:15], UID)),
    (auth_message, (UID, RND[:15])),
    (internal_authenticate, (RND + b"\x00",)),
])
def test_bad_lengths_are_refused(fn, args) -> None:
    with pytest.raises(ValueError, match="bytes"):
        fn(*args)


# -- the master key file ------------------------------------------------------------------------
def _key_file(tmp_path: Path, text: str | bytes, mode: int = 0o600, name: str = "card.hex") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(mode)
    return path


def test_a_private_hex_key_file_loads(tmp_path: Path) -> None:
    assert load_master_key(_key_file(tmp_path, f"  {MASTER.hex()}\n\n")) == MASTER
    assert load_master_key(str(_key_file(tmp_path, MASTER.hex().upper(), 0o400))) == MASTER


@pytest.mark.parametrize(("content", "mode", "expected"), [
    (MASTER.hex(), 0o644, "readable by group or others (mode 0644); the card master key is a secret: chmod 600"),
    (MASTER.hex(), 0o640, "readable by group or others (mode 0640)"),
    (MASTER.hex(), 0o602, "readable by group or others (mode 0602)"),
    ("not a key at all", 0o600, "not hex"),
    ("0x" + MASTER.hex()[2:], 0o600, "not hex"),
    (MASTER.hex()[:16] + " " + MASTER.hex()[16:], 0o600, "not hex"),
    ("", 0o600, "not hex"),
    (b"\xff\xfe" + MASTER.hex().encode(), 0o600, "not hex"),
    (MASTER.hex()[:30], 0o600, "30 hex digits, an AES-128 master key is 32 (16 bytes)"),
    (MASTER.hex() + "00", 0o600, "34 hex digits"),
    ("00" * 16, 0o600, "a weak key (every byte is 00)"),
    ("ff" * 16, 0o600, "a weak key (every byte is FF)"),
    ("7" * 32, 0o600, "a weak key (every byte is 77)"),
    ("a" * 300, 0o600, "300 bytes, a key file holds 32 hex digits"),
])
def test_bad_key_files_are_refused_in_one_line(tmp_path: Path, content: str | bytes, mode: int, expected: str) -> None:
    path = _key_file(tmp_path, content, mode)
    with pytest.raises(MasterKeyError) as info:
        load_master_key(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_a_missing_file_and_a_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="nope.hex: No such file"):
        load_master_key(tmp_path / "nope.hex")
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    with pytest.raises(MasterKeyError, match="keys: not a regular file"):
        load_master_key(folder)


# -- the terminal's config --------------------------------------------------------------------
CANTEEN = 'role = "canteen"\nterminal_id = "canteen-1"\nsite = "s"\n[devices.ccard]\nreader = "Canteen"\n'
COUNTER = ('role = "counter"\nterminal_id = "c1"\nsite = "s"\nhall_url = "http://127.0.0.1:8710"\n'
           '[lan]\nsecret = "Zq8vR2mXk9LwP4sTzB6nYc3jFd8gKe5u"\n[counter]\nwindow = 1\n'
           '[devices.ccard]\nreader = "Counter"\n')


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_card_keys_load_and_reach_the_canteen_reader(tmp_path: Path) -> None:
    key = _key_file(tmp_path, MASTER.hex())
    config = load_config(_config(tmp_path, CANTEEN + f'[card_keys]\nmaster_key_file = "{key}"\n'))
    assert config.card_keys.master_key_file == str(key)
    assert card_master_key(config) == MASTER
    assert driver_options(config, "ccard") == {"master_key": MASTER}
    assert driver_options(config, "printer") == {}
    cinema = load_config(_config(tmp_path, CANTEEN.replace('"canteen"', '"cinema"')
                                 + f'[devices.printer]\nport = "/dev/x"\n[card_keys]\nmaster_key_file = "{key}"\n'))
    assert driver_options(cinema, "ccard") == {"master_key": MASTER}


def test_the_counters_staff_card_reader_reads_uids_only(tmp_path: Path) -> None:
    key = _key_file(tmp_path, MASTER.hex())
    config = load_config(_config(tmp_path, COUNTER + f'[card_keys]\nmaster_key_file = "{key}"\n'))
    assert card_master_key(config) is None and driver_options(config, "ccard") == {}
    assert driver_options(load_config(_config(tmp_path, COUNTER)), "ccard") == {}


def test_a_canteen_without_card_keys_cannot_open_its_reader(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, CANTEEN))  # the table is optional at load…
    assert config.card_keys.master_key_file is None
    with pytest.raises(ConfigError, match="card_keys.master_key_file: missing; role 'canteen' authenticates"):
        driver_options(config, "ccard")  # …but the canteen's reader will not trust UIDs


@pytest.mark.parametrize(("content", "mode", "expected"), [
    (MASTER.hex(), 0o644, "readable by group or others"),
    ("00" * 16, 0o600, "a weak key"),
    ("abc", 0o600, "3 hex digits"),
    ("zz" * 16, 0o600, "not hex"),
])
def test_bad_key_files_are_refused_at_config_load(tmp_path: Path, content: str, mode: int, expected: str) -> None:
    key = _key_file(tmp_path, content, mode)
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, CANTEEN + f'[card_keys]\nmaster_key_file = "{key}"\n'))
    line = str(info.value)
    assert "card_keys.master_key_file: " in line and expected in line and "\n" not in line


def test_a_missing_key_file_and_unknown_keys_are_named(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, CANTEEN + f'[card_keys]\nmaster_key_file = "{tmp_path / "nope"}"\n'))
    with pytest.raises(ConfigError, match="card_keys.master_key_file: .*No such file"):
        card_master_key(config)  # not installed yet: named when the reader opens, as the person key is
    with pytest.raises(ConfigError, match=r"card_keys.master_key: unknown key \(allowed here: master_key_file\)"):
        parse_config({"role": "display", "terminal_id": "d", "site": "s", "card_keys": {"master_key": "00"}})


# -- the simulated card's application, command by command --------------------------------------
def sw(reply: bytes) -> str:
    return reply[-2:].hex().upper()


def genuine(**faults: str | None) -> CommunityCard:
    board = FaultBoard("ccard", CCARD_FAULTS)
    for kind, arg in faults.items():
        board.set(kind, arg=arg)
    card = make_ccard(P, board, master_key=MASTER)
    assert isinstance(card, CommunityCard)
    return card


def test_the_genuine_card_answers_with_its_diversified_key() -> None:
    card = genuine()
    uid = bytes.fromhex(P.ccard_uid)
    assert card.apdu(bytes.fromhex("FFCA000000")) == uid + b"\x90\x00"
    assert card.apdu(SELECT_AID) == b"\x90\x00"
    reply = card.apdu(internal_authenticate(RND))
    assert sw(reply) == "9000" and verify(MASTER, uid, RND, reply[:-2])
    assert reply[:-2] == card_answer(diversify_key(MASTER, uid), uid, RND)
    assert card.challenges == 1


@pytest.mark.parametrize(("cmd", "status"), [
    ("0088000110" + RND.hex() + "00", "6985"),  # INTERNAL AUTHENTICATE before SELECT
    ("00A4040006F04C46434302", "6A82"),  # another AID
    ("00A4040003F04C46", "6A82"),
    ("00A4040006F04C464343", "6700"),  # Lc 6, 5 bytes follow
    ("00A4040000", "6700"),  # no AID at all (Lc 0, as a case-2 command)
    ("00A4020002EF05", "6A86"),  # SELECT by file id: not offered
    ("80A4040006F04C46434301", "6E00"),  # proprietary class
    ("0084000008", "6D00"),  # GET CHALLENGE: unknown here
    ("00B2010400", "6D00"),
    ("00A4", "6700"),
])
def test_status_words_before_selection(cmd: str, status: str) -> None:
    assert sw(genuine().apdu(bytes.fromhex(cmd))) == status


@pytest.mark.parametrize(("cmd", "status"), [
    ("0088000110" + RND.hex(), "6700"),  # no Le
    ("008800010F" + RND.hex()[:30] + "00", "6700"),  # a 15-byte challenge
    ("0088000111" + RND.hex() + "AA00", "6700"),
    ("0088000110" + RND.hex()[:30] + "00", "6700"),  # Lc 16, 15 bytes (+ Le) follow: does not add up
    ("0088000210" + RND.hex() + "00", "6A88"),  # key version 2: the card has none
    ("0088010110" + RND.hex() + "00", "6A86"),
    ("0088000110" + RND.hex() + "08", "6C10"),  # Le too short: the right one in SW2
    ("8088000110" + RND.hex() + "00", "6E00"),
])
def test_status_words_after_selection(cmd: str, status: str) -> None:
    card = genuine()
    assert card.apdu(SELECT_AID) == b"\x90\x00"
    assert sw(card.apdu(bytes.fromhex(cmd))) == status


def test_power_cycle_and_reset_deselect_the_application() -> None:
    card = genuine()
    for cycle in (card.power_off, card.reset, card.power_on):
        card.apdu(SELECT_AID)
        cycle()
        assert sw(card.apdu(internal_authenticate(RND))) == "6985"


def test_a_clone_has_the_uid_and_not_the_key() -> None:
    uid = bytes.fromhex(P.ccard_uid)
    clone = make_ccard(personas.card_variant(P, "clone"), FaultBoard("ccard", CCARD_FAULTS), master_key=MASTER)
    assert clone.apdu(bytes.fromhex("FFCA000000")) == uid + b"\x90\x00"
    assert clone.apdu(SELECT_AID) == b"\x90\x00"
    reply = clone.apdu(internal_authenticate(RND))
    assert sw(reply) == "9000" and len(reply) == 18 and not verify(MASTER, uid, RND, reply[:-2])
    assert make_clone_ccard(uid).card_key != make_clone_ccard(uid).card_key  # each clone its own key


def test_a_card_without_the_application() -> None:
    uid = bytes.fromhex(P.ccard_uid)
    bare = make_ccard(personas.card_variant(P, "no_applet"), FaultBoard("ccard", CCARD_FAULTS))
    assert bare.apdu(bytes.fromhex("FFCA000000")) == uid + b"\x90\x00"
    assert sw(bare.apdu(SELECT_AID)) == "6A82"
    assert sw(bare.apdu(internal_authenticate(RND))) == "6985"


def test_card_variants_keep_the_uid_and_show_in_the_id() -> None:
    clone = personas.card_variant(P, "clone")
    assert clone.persona_id == "P001:clone" and clone.ccard_uid == P.ccard_uid
    assert personas.variant_of(clone) == "clone" and personas.variant_of(P) == "genuine"
    assert personas.card_variant(clone, "genuine") == P
    assert personas.variant_of(personas.card_variant(clone, "no_applet")) == "no_applet"
    with pytest.raises(ValueError, match="no card variant 'copy'"):
        personas.card_variant(P, "copy")


def test_make_ccard_defaults_to_the_development_master_key() -> None:
    uid = bytes.fromhex(P.ccard_uid)
    card = make_ccard(P, FaultBoard("ccard", CCARD_FAULTS))
    assert isinstance(card, CommunityCard) and card.card_key == diversify_key(DEV_MASTER_KEY, uid)


def test_faults_strike_at_the_step_their_argument_names() -> None:
    card = genuine(card_removed_mid_read="auth")
    assert sw(card.apdu(bytes.fromhex("FFCA000000"))) == "9000"  # not at the UID…
    assert card.apdu(SELECT_AID) == b"\x90\x00"  # …nor at SELECT…
    with pytest.raises(CardVanished):
        card.apdu(internal_authenticate(RND))  # …at the challenge
    card = genuine(card_removed_mid_read="select")
    card.apdu(bytes.fromhex("FFCA000000"))
    with pytest.raises(CardVanished):
        card.apdu(SELECT_AID)
    with pytest.raises(CardVanished):
        genuine(card_removed_mid_read=None).apdu(bytes.fromhex("FFCA000000"))  # default: at the UID


def test_wrong_le_and_garbage_at_the_challenge() -> None:
    uid = bytes.fromhex(P.ccard_uid)
    card = genuine(wrong_le=None)
    card.apdu(SELECT_AID)
    assert card.apdu(internal_authenticate(RND)) == b"\x6c\x10"  # Le 00 is not exact under the fault
    answer = exchange(card.apdu, internal_authenticate(RND))  # resent with Le 10
    assert answer.ok and verify(MASTER, uid, RND, answer.data)
    card = genuine(garbage="auth")
    assert sw(card.apdu(bytes.fromhex("FFCA000000"))) == "9000"  # the UID is fine
    card.apdu(SELECT_AID)
    assert card.apdu(internal_authenticate(RND)) == bytes(8) + b"\x90\x00"
    card = genuine(garbage="auth_sw")
    card.apdu(SELECT_AID)
    assert card.apdu(internal_authenticate(RND)) == b"\xa5\x5a"


def test_card_auth_error_is_a_card_error_in_words() -> None:
    error = CardAuthError("C5EEDA41", "wrong answer to the challenge", device="ccard")
    assert isinstance(error, WrongCardError) and isinstance(error, PcscError) and isinstance(error, DeviceRefused)
    assert str(error) == ("ccard: card C5EEDA41 failed authentication: not a genuine community card "
                          "(wrong answer to the challenge) [E196]")
    assert error.code == 196 and error.uid == "C5EEDA41" and error.sw == 0x9000


def test_constants_match_the_doc() -> None:
    assert ccard_auth.AID.hex().upper() == "F04C46434301" and ccard_auth.KEY_VERSION == 1
    assert ccard_auth.AUTH_LABEL == b"LFCC-AUTH" and ccard_auth.DIVERSIFY_SUFFIX == b"LINFEN"


# -- the simulator's key and its command line ---------------------------------------------------
def test_the_simulator_makes_a_private_key_once_and_refuses_a_leaky_one(tmp_path: Path) -> None:
    from hardware_sim.runner import Simulator

    sim = Simulator(tmp_path / "sim", devices=())
    key_file = tmp_path / "sim" / "card-master-key.hex"
    assert sim.card_master_key_file == key_file and key_file.stat().st_mode & 0o777 == 0o600
    assert load_master_key(key_file) == sim.card_master_key
    assert Simulator(tmp_path / "sim", devices=()).card_master_key == sim.card_master_key
    assert Simulator(tmp_path / "other", devices=()).card_master_key != sim.card_master_key
    given = _key_file(tmp_path, MASTER.hex())
    assert Simulator(tmp_path / "given", devices=(), card_master_key_file=given).card_master_key == MASTER
    given.chmod(0o644)
    with pytest.raises(MasterKeyError, match="readable by group or others"):
        Simulator(tmp_path / "given", devices=(), card_master_key_file=given)
    with pytest.raises(MasterKeyError, match="No such file"):  # a named file is never made up
        Simulator(tmp_path / "given", devices=(), card_master_key_file=tmp_path / "absent.hex")


def test_sim_ctl_presents_a_clone_or_a_bare_card() -> None:
    from linfen.cli import build_parser
    from linfen.sim_cli import ctl_call

    parser = build_parser()
    for argv, card in ((["present", "ccard", "P001"], "genuine"), (["present", "ccard", "P001", "--card", "clone"], "clone"),
                       (["present", "ccard", "P001", "--card", "no_applet"], "no_applet")):
        args = parser.parse_args(["sim", "ctl", *argv])
        assert ctl_call(args) == ("POST", "/present", {"device": "ccard", "persona": "P001", "card": card})
    with pytest.raises(SystemExit):
        parser.parse_args(["sim", "ctl", "present", "ccard", "P001", "--card", "copy"])
