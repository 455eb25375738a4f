"""Reference data for terminals run against the simulator: trust list, priority register, person key.

In the field these come from the central service (the sync issue); with the simulator
they are made here from the personas, so ``linfen sim --config-out`` writes a config
a terminal can use as is.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from kiosk.priority import write_register

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
    if role in ("hall", "counter", "display"):
        lines += ["", "[lan]", f'secret = "{DEMO_SECRET}"']
    return "\n".join(lines) + "\n"
