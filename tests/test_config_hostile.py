"""Issue 10, findings 8 and 11: weak secrets, clear-text central URLs and broken files are refused at load, in one line.

Each of these loaded before and failed later (at start, at the first sync) or never: the
example ``change-me`` secret, sixteen identical characters, ``http://`` to a LAN central,
``http://``, ``http://[::1``, port 99999, ``store.path = "{0}"``, deeply nested TOML, a token
file that is not UTF-8 / not ASCII / readable by others.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, Lan, load_config, parse_config
from kiosk.config_checks import PUBLISHED_SECRETS, weak_secret
from kiosk.hall.auth import secret_bytes
from kiosk.hall.errors import HallConfigError, HallError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
BASE = {"role": "display", "terminal_id": "d1", "site": "linfen-hall", "hall_url": "http://192.168.1.10:8710",
        "lan": {"secret": "Zp4-wQ9rLm2vX8cTn6yB"}}


@pytest.mark.parametrize("secret", ["change-me-per-hall-0123456789", "CHANGE_ME_PLEASE_12345", "a" * 16, "ab" * 12,
                                    "abcabcabcabcabcabc", "example-secret-for-the-hall", "replace-me-0123456789",
                                    "short-secret"])
def test_weak_and_default_secrets_are_refused_at_load_naming_the_setting(secret: str):
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, "lan": {"secret": secret}}, "d.toml")
    line = str(info.value)
    assert line.startswith("d.toml: lan.secret: ") and "\n" not in line
    assert "secrets.token_urlsafe" in line
    assert secret not in line, "the refused secret is not written to the log"
    with pytest.raises(HallConfigError):
        secret_bytes(secret)


@pytest.mark.parametrize("secret", ["Zp4-wQ9rLm2vX8cTn6yB", "linfen-demo-hall-secret-0001",
                                    "linfen-hall-secret-0123456789", "0f3a9c1d7e52b864"])
def test_chosen_secrets_load(secret: str):
    assert weak_secret(secret) is None
    assert Lan(secret=secret).secret == secret


@pytest.mark.parametrize(("url", "expected"), [
    ("http://10.0.0.5:8720", "must be https:// for 10.0.0.5: the bearer token would cross the network in clear"),
    ("http://central.example", "must be https://"),
    ("http://", "has no host"),
    ("http://[::1", "not a URL"),
    ("https://central.example:99999", "not a URL"),
    ("https://central.example:0", "port 0"),
    ("ftp://central.example", "must start with http:// or https://"),
    ("https://central example", "must not contain spaces"),
    ("https://user:pw@central.example", "without user"),
])
def test_bad_central_urls_are_refused_at_load(url: str, expected: str):
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, "central_url": url}, "d.toml")
    assert str(info.value).startswith("d.toml: central_url: ") and expected in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8720", "http://localhost:8720", "http://[::1]:8720",
                                 "https://10.0.0.5:8720", "https://central.example/linfen"])
def test_https_or_loopback_central_urls_load(url: str):
    assert parse_config({**BASE, "central_url": url}).central_url == url


@pytest.mark.parametrize("url", ["http://", "http://[::1", "http://hall:99999"])
def test_bad_hall_urls_are_refused_at_load(url: str):
    with pytest.raises(ConfigError, match="hall_url: "):
        parse_config({**BASE, "hall_url": url})


def test_the_lan_hall_url_may_stay_plain_http_because_every_request_is_signed():
    assert parse_config(BASE).hall_url == "http://192.168.1.10:8710"


@pytest.mark.parametrize(("path", "expected"), [
    ("{0}", "{0} is not a field here"), ("var/{terminal}/t.db", "{terminal} is not a field here"),
    ("var/{terminal_id!r}.db", "is not a field here"), ("var/{terminal_id:>9}.db", "is not a field here"),
    ("var/{terminal_id.upper}.db", "is not a field here"), ("var/{.db", "literal braces"),
    ("var/}.db", "literal braces"), ("var/\x00.db", "NUL"),
])
def test_store_paths_with_other_fields_are_refused_at_load_not_at_start(path: str, expected: str):
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, "store": {"path": path}}, "d.toml")
    assert str(info.value).startswith("d.toml: store.path: ") and expected in str(info.value)


def test_literal_braces_and_the_terminal_id_field_still_work():
    config = parse_config({**BASE, "store": {"path": "var/{{x}}/{terminal_id}.db"}})
    assert str(config.store_path()) == "var/{x}/d1.db"


def test_hall_bind_port_out_of_range_is_refused():
    data = {**BASE, "role": "hall", "hall": {"bind": "0.0.0.0:99999"}}
    data.pop("hall_url")
    with pytest.raises(ConfigError, match="hall.bind: port must be 0-65535"):
        parse_config(data)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_deeply_nested_toml_is_one_line_not_a_recursion_error(tmp_path: Path):
    path = _write(tmp_path, 'role = "display"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path)
    path = _write(tmp_path, 'role = "display"\nx = ' + "{a=" * 5_000 + "1" + "}" * 5_000 + "\n")
    with pytest.raises(ConfigError):
        load_config(path)


DISPLAY = ('role = "display"\nterminal_id = "d1"\nsite = "s"\nhall_url = "http://127.0.0.1:8710"\n'
           '[lan]\nsecret = "Zp4-wQ9rLm2vX8cTn6yB"\n')


@pytest.mark.parametrize(("content", "mode", "expected"), [
    (b"\xff\xfe token \x80\n", 0o600, "printable ASCII"),
    ("令牌-0123456789\n".encode(), 0o600, "printable ASCII"),
    (b"two words\n", 0o600, "printable ASCII"),
    (b"\n", 0o600, "empty"),
    (b"tok-0123456789abcdef\n", 0o644, "readable by group or others (mode 0644)"),
    (b"tok-0123456789abcdef\n", 0o640, "chmod 600"),
])
def test_bad_token_files_are_refused_at_load(tmp_path: Path, content: bytes, mode: int, expected: str):
    token = tmp_path / "token"
    token.write_bytes(content)
    token.chmod(mode)
    path = _write(tmp_path, DISPLAY + f'[sync]\ntoken_file = "{token}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    line = str(info.value)
    assert "sync.token_file: " in line and expected in line and "\n" not in line


def test_a_private_ascii_token_file_loads_and_a_missing_one_is_named(tmp_path: Path):
    token = tmp_path / "token"
    token.write_bytes(b"tok-0123456789abcdef\n")
    token.chmod(0o600)
    assert load_config(_write(tmp_path, DISPLAY + f'[sync]\ntoken_file = "{token}"\n')).sync.token_file == str(token)
    with pytest.raises(ConfigError, match="sync.token_file: .*No such file"):
        load_config(_write(tmp_path, DISPLAY + f'[sync]\ntoken_file = "{tmp_path / "nope"}"\n'))


def test_tls_verification_cannot_be_switched_off_from_the_config():
    with pytest.raises(ConfigError, match="sync.verify: unknown key"):
        parse_config({**BASE, "sync": {"verify": False}})


def test_the_examples_secret_is_the_published_one_and_the_hall_refuses_it_on_a_lan_address(examples_dir, tmp_path):
    from kiosk.hall import HALL_MIGRATIONS, HallQueue, ServiceCatalog
    from kiosk.hall.service_server import serve_hall
    from kiosk.store import Store

    secrets_used = {load_config(examples_dir / f"{role}.toml").lan.secret for role in ("hall", "counter", "display")}
    assert secrets_used <= PUBLISHED_SECRETS
    (secret,) = secrets_used
    store = Store.open(tmp_path / "h.db", "h", extra_migrations=(HALL_MIGRATIONS,))
    queue = HallQueue(store, ServiceCatalog.from_data([{"code": "A", "name_zh": "综合", "name_en": "General"}]))
    try:
        with pytest.raises(HallError) as info:
            serve_hall(queue, secret, "0.0.0.0", 0)
        assert info.value.reason == "published_secret" and "token_urlsafe" in str(info.value)
        serve_hall(queue, secret, "127.0.0.1", 0).stop()  # the demo's loopback use is fine
    finally:
        store.close()


def test_a_weak_secret_stops_the_kiosk_with_one_line(tmp_path: Path):
    path = _write(tmp_path, DISPLAY.replace("Zp4-wQ9rLm2vX8cTn6yB", "change-me-per-hall-0123456789"))
    result = subprocess.run([sys.executable, "-m", "linfen", "kiosk", "--role", "display", "--config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "lan.secret: too weak" in result.stderr
