"""The shared terminal composition: what open_base opens is closed again, whatever stops the role's start."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config
from kiosk.hall.checkin.setup import open_hall
from kiosk.runtime.compose import open_base
from kiosk.voice import Speaker

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent.parent / "config" / "examples"


def _hall_config(tmp_path: Path, bind: str):
    key = tmp_path / "person-key.hex"
    key.write_text(secrets.token_hex(32), encoding="ascii")
    text = (EXAMPLES / "hall.toml").read_text(encoding="utf-8")
    text = text.replace('path = "var/{terminal_id}/terminal.db"', f'path = "{tmp_path}/hall.db"')
    text = text.replace('person_key_file = "/etc/linfen/person-key.hex"', f'person_key_file = "{key}"')
    text = text.replace('bind = "0.0.0.0:8710"', f'bind = "{bind}"')
    text = text.replace('service_url = "https://code.example.sh.gov.cn"\n', "")
    text = text.replace('trust_keys = "var/reference/trust-keys.json"\n', "")
    text = text.replace('priority_register = "var/reference/priority-register.json"\n', "")
    (tmp_path / "hall.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path / "hall.toml")


def _our_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


def test_a_hall_that_cannot_bind_its_port_says_so_and_leaves_nothing_open(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _hall_config(tmp_path, f"127.0.0.1:{port}")
        before = _our_threads()
        with pytest.raises(ConfigError, match="hall.bind"):
            open_hall(config, speaker=Speaker(True, 0, player=None))
    deadline = time.monotonic() + 5
    while _our_threads() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _our_threads() - before == set()  # no loop, ticker, card loop, supervisor or watcher left running
    base = open_base(config, speaker=Speaker(True, 0, player=None))  # the store opens again: it was closed
    try:
        assert set(base.drivers) == {"idcard", "sscard", "qr_camera", "qr_scanner", "thermometer", "printer"}
        assert base.sync is None  # not enrolled: no token file in the config
    finally:
        base.close()
        base.close()  # closing twice is harmless
