"""Signed health-code QR tokens the simulated city code service issues for personas.

Format (compact, EU-DCC-like: a signed claim set verified offline with Ed25519)::

    LFHC1.<base64url(JSON claims)>.<base64url(Ed25519 signature over "LFHC1." + claims part)>

Claims: ``v`` (1), ``iss`` issuer, ``kid`` key id, ``sub`` the resident's ID number (a
real city code carries identity; terminals hash it at once and never store it),
``col`` green/yellow/red, ``iat``/``exp`` (Unix seconds).  The simulator's issuer key
is derived from a fixed seed so tests, the demo and reference data agree on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "LFHC1"
DEFAULT_VALIDITY_S = 24 * 3600  # a code token is valid one day, in seconds


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Issuer:
    """A code issuer: key id, name, and its Ed25519 private key."""

    kid: str
    name: str
    key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, kid: str, name: str, seed: str) -> Issuer:
        """A deterministic issuer (simulator and tests)."""
        return cls(kid, name, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest()))

    def public_key_b64(self) -> str:
        """The raw 32-byte public key, base64url: what reference data's trust list holds."""
        return b64url(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def issue(self, id_number: str, colour: str, issued_at: float | None = None,
              validity_s: float = DEFAULT_VALIDITY_S) -> str:
        """A signed token for one resident and code colour."""
        iat = int(time.time() if issued_at is None else issued_at)
        claims = {"v": 1, "iss": self.name, "kid": self.kid, "sub": id_number, "col": colour,
                  "iat": iat, "exp": iat + int(validity_s)}
        body = b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{PREFIX}.{body}"
        return f"{signed}.{b64url(self.key.sign(signed.encode('ascii')))}"


SIM_ISSUER = Issuer.from_seed("sim-2026", "上海市健康码(模拟)", "linfen-sim-issuer-2026")
"""The simulated city code service's issuer; its public key goes into the terminals' trust list."""
