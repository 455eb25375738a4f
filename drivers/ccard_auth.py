"""Community card authentication: challenge–response with a per-card diversified AES key (pure functions).

This is docs/community-card.md §1, the one place its crypto and APDUs are written down in code;
the terminal's driver (:mod:`drivers.ccard`) and the simulated card (:mod:`hardware_sim.sscard`)
both use it.

1. ``FF CA 00 00 00`` → UID (4, 7 or 10 bytes) ``90 00``.
2. ``00 A4 04 00 06 F0 4C 46 43 43 01`` SELECT the application (AID ``F04C46434301``, "LFCC" v1)
   → ``90 00``; a card without it answers ``6A 82``: not a community card.
3. ``00 88 00 01 10 <RndA> 00`` INTERNAL AUTHENTICATE with key version 1 (P2) → ``<16 bytes> 90 00``:
   ``AES-CMAC(K_card, "LFCC-AUTH" || UID || RndA)``, recomputed by the terminal and compared in
   constant time.  RndA is 16 fresh random bytes per tap, so a recorded answer is useless.
4. ``K_card = AES-CMAC(master_key, 0x01 || UID || AID || "LINFEN")`` (diversification in the
   manner of NXP AN10922).  The 16-byte master key is read (hex) from the file named by the
   terminal's ``[card_keys] master_key_file`` (mode 0600, like the token file).

AES-CMAC is RFC 4493, from the ``cryptography`` package.
"""

from __future__ import annotations

import hmac
import os
import stat
import string
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from drivers.pcsc_common import build_apdu

AID = bytes.fromhex("F04C46434301")  # "LFCC" application, version 1
KEY_VERSION = 1  # P2 of INTERNAL AUTHENTICATE: the card key's version
KEY_BYTES = 16  # AES-128: master key and card keys
RND_BYTES = 16  # length of the terminal's challenge RndA
ANSWER_BYTES = 16  # length of the card's answer (a full AES-CMAC)
UID_LENGTHS = (4, 7, 10)  # ISO 14443-3 UIDs, in bytes
AUTH_LABEL = b"LFCC-AUTH"  # prefix of the authenticated message
DIVERSIFY_PREFIX = b"\x01"  # AN10922 diversification constant for an AES-128 key
DIVERSIFY_SUFFIX = b"LINFEN"  # system identifier closing the diversification input
MAX_KEY_FILE_BYTES = 256  # a key file holds 32 hex digits and some whitespace

CLA = 0x00
INS_SELECT = 0xA4
INS_INTERNAL_AUTHENTICATE = 0x88
SELECT_AID = build_apdu(CLA, INS_SELECT, 0x04, 0x00, AID)  # 00 A4 04 00 06 F04C46434301


class MasterKeyError(ValueError):
    """The master key file cannot be used; ``str()`` is one line naming the file and what to do."""


def internal_authenticate(rnd_a: bytes) -> bytes:
    """The INTERNAL AUTHENTICATE command ``00 88 00 01 10 <RndA> 00`` for challenge ``rnd_a``."""
    _check_len("RndA", rnd_a, (RND_BYTES,))
    return build_apdu(CLA, INS_INTERNAL_AUTHENTICATE, 0x00, KEY_VERSION, rnd_a, le=256)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (RFC 4493) of ``data`` under a 16-byte ``key``: 16 bytes."""
    _check_len("AES-128 key", key, (KEY_BYTES,))
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def diversify_key(master_key: bytes, uid: bytes) -> bytes:
    """The card key of card ``uid``: ``AES-CMAC(master_key, 0x01 || UID || AID || "LINFEN")``."""
    _check_len("card UID", uid, UID_LENGTHS)
    return aes_cmac(master_key, DIVERSIFY_PREFIX + uid + AID + DIVERSIFY_SUFFIX)


def auth_message(uid: bytes, rnd_a: bytes) -> bytes:
    """What the card MACs to answer a challenge: ``"LFCC-AUTH" || UID || RndA``."""
    _check_len("card UID", uid, UID_LENGTHS)
    _check_len("RndA", rnd_a, (RND_BYTES,))
    return AUTH_LABEL + uid + rnd_a


def card_answer(card_key: bytes, uid: bytes, rnd_a: bytes) -> bytes:
    """The 16-byte answer a card holding ``card_key`` gives to challenge ``rnd_a``."""
    return aes_cmac(card_key, auth_message(uid, rnd_a))


def verify(master_key: bytes, uid: bytes, rnd_a: bytes, answer: bytes) -> bool:
    """True if ``answer`` is what the genuine card ``uid`` (key diversified from ``master_key``) gives to ``rnd_a``.

    The comparison takes the same time wherever the answer differs (``hmac.compare_digest``).
    """
    expected = card_answer(diversify_key(master_key, uid), uid, rnd_a)
    return hmac.compare_digest(expected, bytes(answer))


def parse_master_key(text: str, source: str = "master key") -> bytes:
    """The 16-byte key written as 32 hex digits in ``text`` (surrounding whitespace ignored); MasterKeyError else."""
    digits = text.strip()
    if not digits or any(c not in string.hexdigits for c in digits):
        raise MasterKeyError(f"{source}: not hex; the file holds the key as {KEY_BYTES * 2} hex digits "
                             "(make one with: python3 -c 'import secrets; print(secrets.token_hex(16))')")
    if len(digits) != KEY_BYTES * 2:
        raise MasterKeyError(f"{source}: {len(digits)} hex digits, an AES-128 master key is {KEY_BYTES * 2} "
                             f"({KEY_BYTES} bytes)")
    key = bytes.fromhex(digits)
    if len(set(key)) == 1:
        raise MasterKeyError(f"{source}: a weak key (every byte is {key[0]:02X}); use a random key "
                             "(python3 -c 'import secrets; print(secrets.token_hex(16))')")
    return key


def load_master_key(path: str | Path) -> bytes:
    """The master key from the hex file at ``path``; :class:`MasterKeyError` with one line if it cannot be used.

    Refused: a missing file, not a regular file, readable (or writable) by group or others,
    not hex, not 32 hex digits, or a key whose bytes are all the same.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise MasterKeyError(f"{path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise MasterKeyError(f"{path}: not a regular file")
    if info.st_mode & 0o077:
        raise MasterKeyError(f"{path}: readable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
                             f"the card master key is a secret: chmod 600 {path}")
    if info.st_size > MAX_KEY_FILE_BYTES:
        raise MasterKeyError(f"{path}: {info.st_size} bytes, a key file holds {KEY_BYTES * 2} hex digits")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MasterKeyError(f"{path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise MasterKeyError(f"{path}: not hex; the file holds the key as {KEY_BYTES * 2} hex digits") from None
    return parse_master_key(text, str(path))


def _check_len(what: str, value: bytes, lengths: tuple[int, ...]) -> None:
    if len(value) not in lengths:
        allowed = " or ".join(map(str, lengths))
        raise ValueError(f"{what} of {len(value)} bytes: it has {allowed}")
