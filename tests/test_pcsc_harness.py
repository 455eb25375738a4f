"""The PC/SC test harness: virtual cards through vpcd and pcscd, as pyscard (and so the drivers) sees them.

Needs the ``pcscd`` and ``virtual_cards`` fixtures from ``tests/pcsc_fixtures.py``.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from smartcard.CardConnection import CardConnection
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

from hardware_sim.pcscd import (
    PcscdHarness,
    ReaderConf,
    parse_reader_conf,
    pcscd_config_dir,
    pyscard_reader_name,
    reader_conf_text,
)
from hardware_sim.vpcd import (
    MIFARE_CLASSIC_1K_ATR,
    VPCD_CTRL_ATR,
    VPCD_CTRL_OFF,
    VPCD_CTRL_ON,
    VPCD_CTRL_RESET,
    UidCard,
    VirtualCard,
    VpcdCardConnection,
    encode_frame,
    respond,
)
from tests.pcsc_fixtures import VirtualCardSlots

pytestmark = pytest.mark.timeout(60)

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]
UID_A = bytes.fromhex("04A1B2C3")
UID_B = bytes.fromhex("04112233445566")
SEEN_TIMEOUT = 5.0  # seconds for pcscd (polling every ~0.4 s) to notice a card change
APDU_SAMPLES = 200


class RecordingCard(UidCard):
    """A UidCard that counts power events and can be told to fail."""

    def __init__(self, uid: bytes = UID_A) -> None:
        super().__init__(uid)
        self.events: list[str] = []
        self.fail_apdu = False

    def power_on(self) -> None:
        self.events.append("on")

    def power_off(self) -> None:
        self.events.append("off")

    def reset(self) -> None:
        self.events.append("reset")

    def apdu(self, cmd: bytes) -> bytes:
        if self.fail_apdu:
            raise RuntimeError("simulated card fault")
        return super().apdu(cmd)


@contextmanager
def connected(pyscard_name: str) -> Iterator[CardConnection]:
    """A pyscard connection to the card in a reader, released afterwards."""
    (reader,) = [r for r in readers() if str(r) == pyscard_name]
    connection = reader.createConnection()
    connection.connect()
    try:
        yield connection
    finally:
        try:
            connection.disconnect()
        finally:
            connection.release()


def transmit(connection: CardConnection, apdu: list[int]) -> tuple[bytes, int]:
    """Send an APDU through pyscard; (data, SW1SW2)."""
    data, sw1, sw2 = connection.transmit(apdu)
    return bytes(data), (sw1 << 8) | sw2


# --- pure parts: no transport -----------------------------------------------------------------


@pytest.mark.unit
class TestUidCard:
    def test_get_uid(self) -> None:
        assert UidCard(UID_A).apdu(bytes(GET_UID)) == UID_A + b"\x90\x00"

    def test_get_uid_without_le_and_with_exact_le(self) -> None:
        card = UidCard(UID_B)
        assert card.apdu(bytes.fromhex("FFCA0000")) == UID_B + b"\x90\x00"
        assert card.apdu(bytes.fromhex("FFCA000007")) == UID_B + b"\x90\x00"

    @pytest.mark.parametrize(
        ("apdu", "sw"),
        [
            ("FFCA000002", "6C04"),  # Le too short: the right length in SW2
            ("FFCA010000", "6A81"),  # ATS historical bytes: MIFARE Classic has none
            ("FFCA020000", "6A86"),
            ("FFCA000100", "6A86"),
            ("FFB0000010", "6D00"),
            ("00A4040000", "6E00"),
            ("FFCA00", "6700"),
            ("FFCA00000000", "6700"),
        ],
    )
    def test_errors(self, apdu: str, sw: str) -> None:
        assert UidCard(UID_A).apdu(bytes.fromhex(apdu)) == bytes.fromhex(sw)

    def test_default_atr_is_mifare_classic_1k(self) -> None:
        assert UidCard(UID_A).atr().hex(" ").upper() == (
            "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A"
        )

    def test_rejects_odd_uid_length(self) -> None:
        with pytest.raises(ValueError):
            UidCard(b"\x01\x02\x03")


@pytest.mark.unit
class TestFrames:
    def test_encode_frame(self) -> None:
        assert encode_frame(b"\x3b\x00") == b"\x00\x02\x3b\x00"
        with pytest.raises(ValueError):
            encode_frame(bytes(0x10000))

    def test_control_messages(self) -> None:
        card = RecordingCard()
        assert respond(card, bytes([VPCD_CTRL_ATR])) == MIFARE_CLASSIC_1K_ATR
        assert respond(card, bytes([VPCD_CTRL_ON])) is None
        assert respond(card, bytes([VPCD_CTRL_RESET])) is None
        assert respond(card, bytes([VPCD_CTRL_OFF])) is None
        assert card.events == ["on", "reset", "off"]

    def test_unknown_control_and_empty_frame_are_ignored(self) -> None:
        card = RecordingCard()
        assert respond(card, b"\x07") is None
        assert respond(card, b"") is None
        assert card.events == []

    def test_failing_card_still_answers(self) -> None:
        card = RecordingCard()
        card.fail_apdu = True
        assert respond(card, bytes(GET_UID)) == b"\x6f\x00"

        class NoAtr(VirtualCard):
            def atr(self) -> bytes:
                raise RuntimeError("broken")

            def apdu(self, cmd: bytes) -> bytes:
                return b"\x90\x00"

        assert respond(NoAtr(), bytes([VPCD_CTRL_ATR])) == b""  # vpcd then treats the card as removed


@pytest.mark.unit
class TestReaderConfig:
    def test_round_trip(self) -> None:
        text = reader_conf_text("Test VPCD", 0x7530, "/tmp/x/libifdvpcd-00.so")
        assert parse_reader_conf(text) == [
            ReaderConf("Test VPCD", "/dev/null:0x7530", "/tmp/x/libifdvpcd-00.so", 0x7530)
        ]
        assert parse_reader_conf(text)[0].port == 30000

    def test_debian_default(self) -> None:
        debian = Path("/etc/reader.conf.d/vpcd")
        if not debian.exists():
            pytest.skip("vsmartcard-vpcd not installed")
        (reader,) = parse_reader_conf(debian.read_text())
        assert reader.port == 0x8C7B

    @pytest.mark.parametrize(
        ("argv", "folder"),
        [
            (["pcscd", "--foreground", "-c", "/a"], "/a"),
            (["pcscd", "--config", "/b", "-f"], "/b"),
            (["pcscd", "--config=/c"], "/c"),
            (["pcscd", "-fc", "/d"], "/d"),
            (["/usr/sbin/pcscd", "--foreground", "--auto-exit"], "/etc/reader.conf.d"),
        ],
    )
    def test_pcscd_config_dir(self, argv: list[str], folder: str) -> None:
        assert pcscd_config_dir(argv) == Path(folder)

    def test_pyscard_names(self) -> None:
        assert pyscard_reader_name("Test VPCD") == "Test VPCD 00 00"
        assert pyscard_reader_name("Test VPCD", slot=1) == "Test VPCD 00 01"

    @pytest.mark.parametrize(
        "names", [[], ["A", "A"], ['Bad "quote"'], [" padded"], [f"R{i}" for i in range(9)]]
    )
    def test_bad_reader_names(self, names: list[str]) -> None:
        with pytest.raises(ValueError):
            PcscdHarness(names)


# --- the card side over loopback TCP, with a scripted vpcd ------------------------------------


@pytest.fixture
def fake_vpcd() -> Iterator[socket.socket]:
    """A listening socket standing in for vpcd."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5.0)
    try:
        yield server
    finally:
        server.close()


def _exchange(sock: socket.socket, payload: bytes, reply: bool = True) -> bytes | None:
    """Send one vpcd frame; read the card's reply frame if one is due."""
    sock.sendall(encode_frame(payload))
    if not reply:
        return None
    header = sock.recv(2, socket.MSG_WAITALL)
    (length,) = struct.unpack(">H", header)
    return sock.recv(length, socket.MSG_WAITALL) if length else b""


@pytest.mark.integration
class TestCardConnectionLoopback:
    def test_bad_frames_do_not_kill_the_card(self, fake_vpcd: socket.socket) -> None:
        card = RecordingCard()
        connection = VpcdCardConnection(fake_vpcd.getsockname()[1])
        connection.insert(card)
        vpcd, _ = fake_vpcd.accept()
        vpcd.settimeout(5.0)
        try:
            _exchange(vpcd, b"", reply=False)  # empty frame
            _exchange(vpcd, b"\x09", reply=False)  # unknown control byte
            card.fail_apdu = True
            assert _exchange(vpcd, bytes(GET_UID)) == b"\x6f\x00"
            card.fail_apdu = False
            assert _exchange(vpcd, bytes([VPCD_CTRL_ATR])) == MIFARE_CLASSIC_1K_ATR
            assert _exchange(vpcd, bytes(GET_UID)) == UID_A + b"\x90\x00"
            assert connection.inserted
        finally:
            vpcd.close()
            connection.remove()
        assert not connection.inserted

    def test_truncated_frame_ends_the_thread_cleanly(self, fake_vpcd: socket.socket) -> None:
        connection = VpcdCardConnection(fake_vpcd.getsockname()[1])
        connection.insert(UidCard(UID_A))
        vpcd, _ = fake_vpcd.accept()
        vpcd.sendall(b"\x00\x05\xff\xca")  # says 5 bytes, sends 2, then vpcd goes away
        vpcd.close()
        deadline = time.monotonic() + 5.0
        while connection.inserted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not connection.inserted
        connection.remove()

    def test_remove_closes_the_socket_and_insert_reconnects(self, fake_vpcd: socket.socket) -> None:
        connection = VpcdCardConnection(fake_vpcd.getsockname()[1])
        connection.insert(UidCard(UID_A))
        first, _ = fake_vpcd.accept()
        first.settimeout(5.0)
        connection.remove()
        assert first.recv(1) == b""  # the card side closed: card removed
        first.close()
        connection.insert(UidCard(UID_B))
        second, _ = fake_vpcd.accept()
        second.settimeout(5.0)
        try:
            assert _exchange(second, bytes(GET_UID)) == UID_B + b"\x90\x00"
        finally:
            second.close()
            connection.remove()

    def test_double_insert_is_refused(self, fake_vpcd: socket.socket) -> None:
        connection = VpcdCardConnection(fake_vpcd.getsockname()[1])
        with connection:
            connection.insert(UidCard(UID_A))
            with pytest.raises(Exception, match="already inserted"):
                connection.insert(UidCard(UID_B))

    def test_no_threads_left_behind(self, fake_vpcd: socket.socket) -> None:
        connection = VpcdCardConnection(fake_vpcd.getsockname()[1])
        connection.insert(UidCard(UID_A))
        vpcd, _ = fake_vpcd.accept()
        connection.remove()
        vpcd.close()
        assert not [t for t in threading.enumerate() if t.name == f"vpcd-card-{connection.port}"]


# --- the real stack: pyscard → pcscd → vpcd ← virtual card -------------------------------------


@pytest.mark.integration
class TestThroughPcscd:
    def test_pyscard_lists_our_readers(self, pcscd: PcscdHarness) -> None:
        names = {str(r) for r in readers()}
        for reader in ("Test VPCD", "Canteen VPCD"):
            assert pcscd.pyscard_name(reader) in names
            assert pcscd.pyscard_name(reader, slot=1) in names
        assert pcscd.pyscard_name("Test VPCD") == "Test VPCD 00 00"

    def test_uid_and_atr(self, pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
        card = RecordingCard(UID_A)
        virtual_cards.insert("Test VPCD", card)
        with connected(pcscd.pyscard_name("Test VPCD")) as connection:
            assert transmit(connection, GET_UID) == (UID_A, 0x9000)
            assert bytes(connection.getATR()) == card.atr()
            assert transmit(connection, [0xFF, 0xB0, 0x00, 0x04, 0x10]) == (b"", 0x6D00)
        assert "on" in card.events  # pcscd powered the card up

    def test_removal_is_seen_and_reinsert_works(
        self, pcscd: PcscdHarness, virtual_cards: VirtualCardSlots
    ) -> None:
        name = pcscd.pyscard_name("Test VPCD")
        virtual_cards.insert("Test VPCD", UidCard(UID_A))
        with connected(name) as connection:
            assert transmit(connection, GET_UID) == (UID_A, 0x9000)
            virtual_cards.remove("Test VPCD", wait=False)
            removed_at = time.monotonic()
            pcscd.wait_card("Test VPCD", present=False, timeout=SEEN_TIMEOUT)
            seen_after = time.monotonic() - removed_at
            with pytest.raises(CardConnectionException):
                connection.transmit(GET_UID)
        (reader,) = [r for r in readers() if str(r) == name]
        with pytest.raises(NoCardException):
            reader.createConnection().connect()
        print(f"card removal seen by pcscd after {seen_after * 1000:.0f} ms")

        virtual_cards.insert("Test VPCD", UidCard(UID_B))
        with connected(name) as connection:
            assert transmit(connection, GET_UID) == (UID_B, 0x9000)

    def test_readers_are_independent(self, pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
        virtual_cards.insert("Test VPCD", UidCard(UID_A))
        virtual_cards.insert("Canteen VPCD", UidCard(UID_B))
        test_name, canteen_name = pcscd.pyscard_name("Test VPCD"), pcscd.pyscard_name("Canteen VPCD")
        with connected(test_name) as test_reader, connected(canteen_name) as canteen:
            for _ in range(20):  # interleaved: no cross-talk between the two driver copies
                assert transmit(test_reader, GET_UID) == (UID_A, 0x9000)
                assert transmit(canteen, GET_UID) == (UID_B, 0x9000)
        virtual_cards.remove("Test VPCD")
        with connected(canteen_name) as canteen:
            assert transmit(canteen, GET_UID) == (UID_B, 0x9000)

    def test_second_slot(self, pcscd: PcscdHarness, virtual_cards: VirtualCardSlots) -> None:
        virtual_cards.insert("Canteen VPCD", UidCard(UID_B), slot=1)
        assert pcscd.port_for("Canteen VPCD", slot=1) == pcscd.port_for("Canteen VPCD") + 1
        with connected(pcscd.pyscard_name("Canteen VPCD", slot=1)) as connection:
            assert transmit(connection, GET_UID) == (UID_B, 0x9000)

    def test_apdu_round_trip_time(
        self, pcscd: PcscdHarness, virtual_cards: VirtualCardSlots, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Prints the mean APDU time through pcscd; asserts answers, never wall-clock time."""
        figures = {}
        for low_latency, samples in ((True, APDU_SAMPLES), (False, 20)):
            virtual_cards.insert("Test VPCD", UidCard(UID_A), low_latency=low_latency)
            with connected(pcscd.pyscard_name("Test VPCD")) as connection:
                transmit(connection, GET_UID)  # warm-up
                started = time.perf_counter()
                for _ in range(samples):
                    assert transmit(connection, GET_UID) == (UID_A, 0x9000)
                figures[low_latency] = (time.perf_counter() - started) / samples
            virtual_cards.remove("Test VPCD")
        with capsys.disabled():
            print(
                f"\nAPDU round trip through pcscd: {figures[True] * 1000:.3f} ms mean over {APDU_SAMPLES} "
                f"(TCP_NODELAY + TCP_QUICKACK); {figures[False] * 1000:.1f} ms mean over 20 without"
            )
