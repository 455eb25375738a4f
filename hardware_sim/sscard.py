"""The simulated social-security card and community card, played into a vpcd reader (DESIGN §4).

:class:`SocialSecurityCard` is the card's file system as a :class:`~hardware_sim.vpcd.VirtualCard`:
SELECT by name and by file id, READ RECORD (P1 = record number, P2 = ``04`` or an SFI),
GET RESPONSE, each answering with the status words a real card gives (``6A82`` file not
found, ``6A83`` record not found, ``6700`` malformed length, ``6Cxx`` wrong Le, ``6986`` no
current EF, ``6A86`` bad P1/P2, ``6D00``/``6E00`` unknown instruction/class, ``6985`` GET
RESPONSE with nothing waiting).  Where the application sits and how the data is stored comes
from a :class:`~hardware_sim.sscard_files.CardProfile`.  Power off/on and reset clear the
card's state (selected files, waiting response), as pcscd's idle power-off does to a real card.

Faults come from the slot's :class:`~hardware_sim.faults.FaultBoard` at each command:

* ``card_removed_mid_read``: once a record has been answered since the application was
  selected, the next command other than SELECT finds the card gone (it raises
  :class:`~hardware_sim.vpcd.CardVanished`, so vpcd sees the card leave mid-command);
* ``wrong_le``: READ RECORD answers ``6C xx`` whenever Le is not the record's exact length;
* ``get_response``: answers with data become ``61 xx`` (T=0 style); ``arg`` = bytes per GET RESPONSE;
* ``garbage``: READ RECORD answers a malformed TLV record (``arg`` "tlv", the default) or a
  status word that is no ISO 7816 one (``arg`` "sw": ``A5 5A``).

``no_answer`` is not offered: vpcd waits for the card's answer without a timeout, so pcscd,
and with it every PC/SC client, would hang.  :class:`CommunityCard` is the MIFARE UID card
with the community card application (challenge–response, docs/community-card.md §1) and the
faults that make sense for it; :func:`make_sscard` and :func:`make_ccard` are the factories
:class:`~hardware_sim.pcsc_slot.PcscCardSlot` takes, with :data:`SSCARD_FAULTS` and
:data:`CCARD_FAULTS` (``make_ccard`` also plays a persona's cloned card and a card without the
application: :func:`hardware_sim.personas.card_variant`).
"""

from __future__ import annotations

import hashlib
import os
import time

from drivers import ccard_auth
from hardware_sim.faults import ActiveFault, FaultBoard
from hardware_sim.personas import Persona, variant_of
from hardware_sim.sscard_files import SS_AID, CardProfile, card_files, profile_for
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog
from hardware_sim.vpcd import CardVanished, UidCard, VirtualCard

SSCARD_FAULTS = frozenset({"card_removed_mid_read", "wrong_le", "get_response", "garbage"})
CCARD_FAULTS = frozenset({"card_removed_mid_read", "wrong_le", "garbage"})

# The master key of cards made without one (tests, benches): published, so never a terminal's key in the
# field.  The simulator itself generates a random key per work folder (hardware_sim.runner).
DEV_MASTER_KEY = hashlib.sha256(b"linfen simulator: development community card master key").digest()[:16]

SS_ATR = bytes.fromhex("3B6800005348535343415244")  # T=0 contact card, historical bytes "SHSSCARD"
MF = 0x3F00
GARBAGE_SW = b"\xa5\x5a"  # not an ISO 7816 status word
GARBAGE_RECORD = bytes.fromhex("07FE4A31")  # tag 07 claims 254 bytes, 2 follow

OK = b"\x90\x00"
WRONG_LENGTH = b"\x67\x00"
NOT_ALLOWED_NO_EF = b"\x69\x86"
CONDITIONS_NOT_SATISFIED = b"\x69\x85"
FILE_NOT_FOUND = b"\x6a\x82"
RECORD_NOT_FOUND = b"\x6a\x83"
WRONG_P1P2 = b"\x6a\x86"
REFERENCED_DATA_NOT_FOUND = b"\x6a\x88"
INS_NOT_SUPPORTED = b"\x6d\x00"
CLA_NOT_SUPPORTED = b"\x6e\x00"


def split_command(cmd: bytes) -> tuple[bytes, int | None] | None:
    """(data, Le) of a short command APDU (Le 00 → 256); None when its length fields do not add up."""
    n = len(cmd)
    if n < 4:
        return None
    if n == 4:
        return b"", None
    if n == 5:
        return b"", cmd[4] or 256
    lc = cmd[4]
    if lc and n == 5 + lc:
        return cmd[5:], None
    if lc and n == 6 + lc:
        return cmd[5:-1], cmd[-1] or 256
    return None


class SocialSecurityCard(VirtualCard):
    """A persona's social-security card: MF, the application, EF05 and EF06."""

    def __init__(self, persona: Persona, faults: FaultBoard | None = None, profile: CardProfile | None = None,
                 atr: bytes = SS_ATR, timing: Timing = Timing.FAST):
        self.persona = persona
        self.delay_s = timing.delay("sscard.apdu")  # seconds before each answer
        self.faults = faults if faults is not None else FaultBoard("sscard", SSCARD_FAULTS)
        self.profile = profile or profile_for(persona)
        self.files = card_files(persona, self.profile)
        self._atr = atr
        self.power_cycles = 0  # times the reader powered the card off
        self.records_answered = 0  # READ RECORDs answered with data, in all
        self._records_since_select = 0  # …since the application or MF was selected
        self._df = "mf"  # "mf" or "app": the current DF
        self._ef: int | None = None  # the current EF
        self._waiting = b""  # response data waiting for GET RESPONSE

    def __repr__(self) -> str:
        return f"SocialSecurityCard({self.persona.persona_id}, {self.profile.layout})"

    def atr(self) -> bytes:
        """The card's ATR (a T=0 contact card)."""
        return self._atr

    def power_on(self) -> None:
        """Fresh state after power-up."""
        self._clear()

    def power_off(self) -> None:
        """Power lost: everything selected is forgotten."""
        self.power_cycles += 1
        self._clear()

    def reset(self) -> None:
        """Warm reset: as after power-up."""
        self._clear()

    def _clear(self) -> None:
        self._df, self._ef, self._waiting = "mf", None, b""
        self._records_since_select = 0

    @property
    def _app_df(self) -> str:
        """The DF holding EF05/EF06: the application DF, or the MF when the application is the MF."""
        return "app" if self.profile.layout == "under_mf" else "mf"

    # -- commands -----------------------------------------------------------------------------
    def apdu(self, cmd: bytes) -> bytes:
        """Answer one command APDU."""
        if cmd[1:2] != b"\xa4" and self._records_since_select and self.faults.peek("card_removed_mid_read"):
            self.faults.take("card_removed_mid_read")
            raise CardVanished("card taken away after the first record")
        waiting, self._waiting = self._waiting, b""  # any command but GET RESPONSE drops it
        if self.delay_s:
            time.sleep(self.delay_s)
        if len(cmd) < 4:
            return WRONG_LENGTH
        cla, ins = cmd[0], cmd[1]
        if cla != 0x00:
            return CLA_NOT_SUPPORTED
        parts = split_command(cmd)
        if parts is None:
            return WRONG_LENGTH
        data, le = parts
        if ins == 0xA4:
            return self._select(cmd[2], cmd[3], data, le)
        if ins == 0xB2:
            return self._read_record(cmd[2], cmd[3], data, le)
        if ins == 0xC0:
            return self._get_response(cmd[2], cmd[3], data, le, waiting)
        return INS_NOT_SUPPORTED

    def _answer(self, data: bytes) -> bytes:
        """Data with 9000, or ``61 xx`` with the data waiting (T=0 style, or the get_response fault)."""
        if self.profile.t0 or self.faults.take("get_response"):
            self._waiting = data
            return bytes([0x61, len(data) & 0xFF])
        return data + OK

    def _select(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p2 & ~0x0C:
            return WRONG_P1P2
        if p1 == 0x04:
            if data != SS_AID or self.profile.layout == "is_mf_unnamed":
                return FILE_NOT_FOUND
            self._df, self._ef, self._records_since_select = self._app_df, None, 0
            fci = bytes([0x6F, len(SS_AID) + 2, 0x84, len(SS_AID)]) + SS_AID
        elif p1 == 0x02 and self.profile.select_p1_00_only:
            return WRONG_P1P2
        elif p1 in (0x00, 0x02) and len(data) == 2:
            fid = int.from_bytes(data, "big")
            if p1 == 0x00 and fid == MF:
                self._df, self._ef, self._records_since_select = "mf", None, 0
            elif self._df == self._app_df and fid in self.files:
                self._ef = fid
            else:
                return FILE_NOT_FOUND
            fci = bytes([0x62, 0x04, 0x83, 0x02]) + data
        elif p1 == 0x00 and not data:
            self._df, self._ef, self._records_since_select = "mf", None, 0
            fci = bytes([0x62, 0x04, 0x83, 0x02, 0x3F, 0x00])
        elif p1 in (0x00, 0x01, 0x02, 0x04):
            return WRONG_LENGTH
        else:
            return WRONG_P1P2
        if p2 & 0x0C == 0x0C:
            return OK  # no response data asked for
        if le is None and not (self.profile.t0 or self.faults.peek("get_response")):
            return OK  # case 3 on T=1: the FCI is not sent
        return self._answer(fci)

    def _read_record(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if data or le is None:
            return WRONG_LENGTH
        if p2 & 0x07 != 0x04:
            return WRONG_P1P2  # only "record number in P1" is supported
        sfi = p2 >> 3
        if sfi:
            fid = 0xEF00 | sfi
            if self._df != self._app_df or fid not in self.files:
                return FILE_NOT_FOUND
            self._ef = fid
        if self._ef is None:
            return NOT_ALLOWED_NO_EF
        record = self.files[self._ef].get(p1)
        if record is None:
            return RECORD_NOT_FOUND
        garbage = self.faults.take("garbage")
        if garbage is not None:
            self._count_record()
            return GARBAGE_SW if garbage.arg == "sw" else GARBAGE_RECORD + OK
        exact = len(record)
        if le != exact and (le != 256 or self.profile.t0 or self.profile.plain_6700 or self.faults.take("wrong_le")):
            return WRONG_LENGTH if self.profile.plain_6700 else bytes([0x6C, exact & 0xFF])
        self._count_record()
        return self._answer(record)

    def _count_record(self) -> None:
        self.records_answered += 1
        self._records_since_select += 1

    def _get_response(self, p1: int, p2: int, data: bytes, le: int | None, waiting: bytes) -> bytes:
        if p1 or p2:
            return WRONG_P1P2
        if data or le is None:
            return WRONG_LENGTH
        if not waiting:
            return CONDITIONS_NOT_SATISFIED
        if le > len(waiting):
            self._waiting = waiting
            return bytes([0x6C, len(waiting) & 0xFF])
        fault = self.faults.peek("get_response")
        chunk = int(fault.arg) if fault is not None and fault.arg and fault.arg.isdigit() else 256
        part, rest = waiting[:min(le, max(1, chunk))], waiting[min(le, max(1, chunk)):]
        if rest:
            self._waiting = rest
            return part + bytes([0x61, len(rest) & 0xFF])
        return part + OK


class CommunityCard(UidCard):
    """A community (MIFARE-style) card: its UID, and the community card application when it has a key.

    ``card_key`` is the card's 16-byte AES key: the application answers SELECT (AID
    ``F04C46434301``) and INTERNAL AUTHENTICATE ``00 88 00 01 10 <RndA> Le`` with
    ``AES-CMAC(card_key, "LFCC-AUTH" || UID || RndA)`` (docs/community-card.md §1).  A genuine
    card's key is diversified from the simulator's master key (:func:`make_ccard`); a clone has
    the right UID and a key of its own (:func:`make_clone_ccard`); ``card_key=None`` is a card with
    no application at all (SELECT answers ``6A 82``).  Status words: unknown INS ``6D 00``, CLA
    other than ``00``/``FF`` ``6E 00``, Lc that does not match ``67 00``, unknown AID ``6A 82``,
    INTERNAL AUTHENTICATE before SELECT ``69 85``, another key version than 1 ``6A 88``, bad P1/P2
    ``6A 86``, Le below 16 ``6C 10``.  Power off/on and reset deselect the application.

    Faults (``CCARD_FAULTS``), each striking at one step — ``uid`` (GET DATA, the default),
    ``select`` or ``auth`` (INTERNAL AUTHENTICATE), named by the fault's ``arg``:

    * ``card_removed_mid_read``: the card leaves at that step (arg ``uid``, ``select``, ``auth``);
    * ``wrong_le``: GET DATA and INTERNAL AUTHENTICATE answer ``6C xx`` whenever Le is not exact;
    * ``garbage``: a malformed answer — at GET DATA a 3-byte UID (no arg) or the status word
      ``A5 5A`` (arg ``sw``); at INTERNAL AUTHENTICATE an 8-byte answer (arg ``auth``) or ``A5 5A``
      (arg ``auth_sw``).
    """

    def __init__(self, uid: bytes, faults: FaultBoard | None = None, timing: Timing = Timing.FAST,
                 card_key: bytes | None = None):
        super().__init__(uid)
        if card_key is not None and len(card_key) != ccard_auth.KEY_BYTES:
            raise ValueError(f"a card key has {ccard_auth.KEY_BYTES} bytes, not {len(card_key)}")
        self.faults = faults if faults is not None else FaultBoard("ccard", CCARD_FAULTS)
        self.delay_s = timing.delay("card.apdu")  # seconds before each answer
        self.auth_delay_s = timing.delay("ccard.auth")  # the card's AES-CMAC over the challenge, on top
        self.card_key = card_key
        self._selected = False  # the community card application is selected
        self.challenges = 0  # INTERNAL AUTHENTICATEs answered

    def __repr__(self) -> str:
        applet = "no application" if self.card_key is None else "application"
        return f"CommunityCard({self.uid.hex().upper()}, {applet})"

    def power_on(self) -> None:
        """Fresh state after power-up: nothing selected."""
        self._selected = False

    def power_off(self) -> None:
        """Power lost: the application is deselected."""
        self._selected = False

    def reset(self) -> None:
        """Warm reset: as after power-up."""
        self._selected = False

    def _strikes(self, kind: str, step: str) -> ActiveFault | None:
        """Use up fault ``kind`` if it is in force for ``step`` (faults without a step strike at ``uid``)."""
        fault = self.faults.peek(kind)
        if fault is None or _fault_step(kind, fault.arg) != step:
            return None
        return self.faults.take(kind)

    def apdu(self, cmd: bytes) -> bytes:
        """Answer GET DATA (as :class:`UidCard`), SELECT and INTERNAL AUTHENTICATE, faults applied."""
        if self.delay_s:
            time.sleep(self.delay_s)
        if len(cmd) < 4:
            return WRONG_LENGTH
        cla, ins = cmd[0], cmd[1]
        step = "uid" if cla == 0xFF else {0xA4: "select", 0x88: "auth"}.get(ins, "")
        if self._strikes("card_removed_mid_read", step):
            raise CardVanished(f"card taken away at the {step} step")
        if cla == 0xFF:
            return self._get_data(cmd)
        if cla != 0x00:
            return CLA_NOT_SUPPORTED
        parts = split_command(cmd)
        if parts is None:
            return WRONG_LENGTH
        data, le = parts
        if ins == 0xA4:
            return self._select(cmd[2], cmd[3], data)
        if ins == 0x88:
            if self.auth_delay_s:
                time.sleep(self.auth_delay_s)
            return self._internal_authenticate(cmd[2], cmd[3], data, le)
        return INS_NOT_SUPPORTED

    def _get_data(self, cmd: bytes) -> bytes:
        garbage = self._strikes("garbage", "uid")
        if garbage is not None:
            return GARBAGE_SW if garbage.arg == "sw" else self.uid[:3] + OK
        if len(cmd) == 5 and cmd[4] != len(self.uid) and self.faults.take("wrong_le"):
            return bytes([0x6C, len(self.uid)])
        return super().apdu(cmd)

    def _select(self, p1: int, p2: int, data: bytes) -> bytes:
        self._selected = False
        if p1 != 0x04 or p2 & ~0x0C:
            return WRONG_P1P2
        if not data:
            return WRONG_LENGTH
        if self.card_key is None or data != ccard_auth.AID:
            return FILE_NOT_FOUND
        self._selected = True
        return OK

    def _internal_authenticate(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if len(data) != ccard_auth.RND_BYTES or le is None:
            return WRONG_LENGTH
        if p1 != 0x00:
            return WRONG_P1P2
        if not self._selected or self.card_key is None:
            return CONDITIONS_NOT_SATISFIED
        if p2 != ccard_auth.KEY_VERSION:
            return REFERENCED_DATA_NOT_FOUND
        exact = ccard_auth.ANSWER_BYTES
        if le < exact or (le != exact and self.faults.take("wrong_le")):
            return bytes([0x6C, exact])
        garbage = self._strikes("garbage", "auth")
        if garbage is not None:
            return GARBAGE_SW if garbage.arg == "auth_sw" else bytes(8) + OK
        self.challenges += 1
        return ccard_auth.card_answer(self.card_key, self.uid, data) + OK


def _fault_step(kind: str, arg: str | None) -> str:
    """The step (``uid``, ``select``, ``auth``) a community card fault strikes at, from its argument."""
    if kind == "garbage":
        return "auth" if arg in ("auth", "auth_sw") else "uid"
    return arg if arg in ("select", "auth") else "uid"


class LoggedCard(VirtualCard):
    """Wraps a card so every command and answer lands in a :class:`TrafficLog` (hex, timestamped)."""

    def __init__(self, card: VirtualCard, traffic: TrafficLog, device: str):
        self.card, self.traffic, self.device = card, traffic, device

    def atr(self) -> bytes:
        """The wrapped card's ATR."""
        return self.card.atr()

    def power_on(self) -> None:
        """Pass power-up on, noted in the log."""
        self.traffic.event(self.device, "card powered on")
        self.card.power_on()

    def power_off(self) -> None:
        """Pass power-off on, noted in the log."""
        self.traffic.event(self.device, "card powered off")
        self.card.power_off()

    def reset(self) -> None:
        """Pass a reset on, noted in the log."""
        self.traffic.event(self.device, "card reset")
        self.card.reset()

    def apdu(self, cmd: bytes) -> bytes:
        """Log the command, let the card answer, log the answer."""
        self.traffic.record(self.device, "host>dev", cmd)
        try:
            reply = self.card.apdu(cmd)
        except CardVanished:
            self.traffic.event(self.device, "card left the reader mid-command")
            raise
        self.traffic.record(self.device, "dev>host", reply)
        return reply


def make_sscard(persona: Persona, faults: FaultBoard, timing: Timing = Timing.FAST) -> VirtualCard:
    """The persona's social-security card, profile by card generation (the PcscCardSlot factory;
    ``functools.partial(make_sscard, timing=Timing.REALISTIC)`` for real-card pace)."""
    return SocialSecurityCard(persona, faults, timing=timing)


def make_ccard(persona: Persona, faults: FaultBoard, timing: Timing = Timing.FAST,
               master_key: bytes = DEV_MASTER_KEY) -> VirtualCard:
    """The card ``persona`` (or a variant of it, :func:`hardware_sim.personas.card_variant`) carries, from
    ``persona.ccard_uid`` (the PcscCardSlot factory): genuine — its key diversified from ``master_key``;
    ``clone`` — the same UID and a random key; ``no_applet`` — the same UID and no application."""
    uid = bytes.fromhex(persona.ccard_uid)
    variant = variant_of(persona)
    if variant == "clone":
        return make_clone_ccard(uid, faults, timing)
    if variant == "no_applet":
        return CommunityCard(uid, faults, timing=timing, card_key=None)
    return CommunityCard(uid, faults, timing=timing, card_key=ccard_auth.diversify_key(master_key, uid))


def make_clone_ccard(uid: bytes, faults: FaultBoard | None = None, timing: Timing = Timing.FAST) -> CommunityCard:
    """A copy of card ``uid`` made without its key: the application answers with a random key of its own."""
    return CommunityCard(uid, faults, timing=timing, card_key=os.urandom(ccard_auth.KEY_BYTES))
