"""Reference data for terminals run against the simulator: trust list, priority register, person key.

In the field these come from the central service: a terminal reads what sync pulled
(:mod:`kiosk.reference`), and the files named in ``[reference]`` are only its offline seed.
With the simulator they are made here from the personas: :func:`write_sim_reference` writes
the seed files and the config lines (``linfen sim --config-out``), :func:`write_central_import`
writes the same data as files for ``linfen central ... import KIND FILE --site SITE``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from common.roles import ROLES
from kiosk.priority import build_register, key_check, write_register
from kiosk.reference import PERSON_KEY_CHECK

DEMO_SECRET = "linfen-demo-hall-secret-0001"  # the simulated hall's LAN secret (demo and tests only)


def write_sim_reference(sim: Any, folder: Path, role: str = "hall") -> str:
    """Write the reference files for ``sim``'s personas into ``folder``; return the TOML that points at them."""
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "person-key.hex"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        key_file.chmod(0o600)
    key = bytes.fromhex(key_file.read_text(encoding="ascii").strip())
    trust = folder / "trust-keys.json"
    trust.write_text(json.dumps(sim.trust_list(), ensure_ascii=False, indent=1), encoding="utf-8")
    register = write_register(folder / "priority-register.json", sim.population, key)
    lines = [
        "",
        "[reference]",
        f'trust_keys = "{trust}"',
        f'priority_register = "{register}"',
        "",
        "[privacy]",
        f'person_key_file = "{key_file}"',
    ]
    if ROLES[role].on_hall_lan:
        lines += ["", "[lan]", f'secret = "{DEMO_SECRET}"']
    return "\n".join(lines) + "\n"


def issuer_key_rows(trust_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A trust-list document's keys as ``issuer_key`` import rows (``key_id``, ``public_key``, ...)."""
    return [{"key_id": k["kid"], "public_key": k["public_key"], "issuer": k.get("issuer", ""),
             "alg": k.get("alg", "Ed25519")} for k in trust_doc.get("keys", [])]


def write_central_import(sim: Any, folder: Path, key: bytes) -> dict[str, Path]:
    """Write ``sim``'s register, issuer keys and key check as central import files; kind → file.

    The operator then runs, per kind, ``linfen central --db DB import KIND FILE --site SITE``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "priority_register": folder / "priority_register.json",
        "issuer_key": folder / "issuer_key.json",
        "terminal_config": folder / "terminal_config.json",
    }
    docs: dict[str, Any] = {
        "priority_register": build_register(sim.population, key),
        "issuer_key": issuer_key_rows(sim.trust_list()),
        "terminal_config": [{"name": PERSON_KEY_CHECK, "value": key_check(key)}],
    }
    for kind, path in files.items():
        path.write_text(json.dumps(docs[kind], ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return files
