"""The deployment's person key: one keyed hash of an ID number, the same on terminals and the central.

A person is matched without keeping the ID number: :func:`person_key` is HMAC-SHA256 of the
normalised number under a per-deployment secret key (hex text in a 0600 file).  The hall's
priority register, visit log and open-ticket check use it (:mod:`kiosk.priority`), and the
central's Time Bank keys a volunteer's typed ID number with the same key, so a volunteer who
registered on a phone is the person whose ID card the hall kiosk reads.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

MIN_KEY_BYTES = 16  # shortest accepted deployment key, in bytes
_KEY_CHECK_INPUT = b"linfen-priority-register-key-check"


class PersonKeyError(ValueError):
    """A key file or key that cannot be used; the text says why."""


def normalise_id(id_number: str) -> str:
    """The ID number as hashed: surrounding blanks removed, a check letter ``x`` upper-cased."""
    return id_number.strip().upper()


def check_key(key: bytes) -> bytes:
    """``key`` as bytes when it is long enough; :class:`PersonKeyError` otherwise."""
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise PersonKeyError(f"the person key must be at least {MIN_KEY_BYTES} bytes")
    return bytes(key)


def person_key(id_number: str, key: bytes) -> str:
    """The keyed hash of an ID number (64 hex characters): HMAC-SHA256 under the deployment key."""
    digest = hmac.new(check_key(key), normalise_id(id_number).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()


def key_check(key: bytes) -> str:
    """A short fingerprint of the key, stored beside keyed data to detect a key mismatch."""
    return hmac.new(check_key(key), _KEY_CHECK_INPUT, hashlib.sha256).hexdigest()[:16]


def generate_key() -> bytes:
    """A new random 32-byte deployment key."""
    return secrets.token_bytes(32)


def load_key(path: str | os.PathLike[str]) -> bytes:
    """Read a deployment key file: hex text (at least 32 hex digits), blanks ignored."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PersonKeyError(f"{path}: not a readable hex key file ({type(exc).__name__})") from None
    return check_key(key)
