"""Config files: every example is valid; each kind of mistake is one clear line and exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.config import ROLES, ConfigError, load_config, parse_config

pytestmark = pytest.mark.unit

BASE = {"role": "display", "terminal_id": "d1", "site": "linfen-hall"}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_a_valid_example(examples_dir, role):
    config = load_config(examples_dir / f"{role}.toml")
    assert config.role == role
    assert config.thresholds.fever_c == 37.3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**BASE, "role": "hal"}, "role: input should be 'hall'"),
        (
            {**BASE, "role": "hall", "devices": {"idcard": {"baud": 115200}, "thermometer": {"port": "/a"},
                                                 "printer": {"port": "/b"}}},
            "devices.idcard.port: missing (a serial port",
        ),
        ({**BASE, "thresholds": {"fever_c": "high"}}, "thresholds.fever_c: input should be a valid number"),
        ({**BASE, "colour": "red"}, "colour: unknown key (allowed here: role, terminal_id"),
        ({**BASE, "voice": {"volum": 50}}, "voice.volum: unknown key (allowed here: enabled, volume)"),
        ({**BASE, "voice": {"volume": 150}}, "voice.volume: input should be less than or equal to 100"),
        ({**BASE, "devices": {"printer": {"port": "/dev/x"}}}, "devices.printer: role 'display' does not use it"),
        ({**BASE, "role": "canteen"}, "devices.ccard: missing, role 'canteen' needs it"),
        ({**BASE, "devices": {}, "role": "hall"}, "devices.printer: missing, role 'hall' needs it"),
        ({**BASE, "terminal_id": "a b"}, "terminal_id: string should match pattern"),
    ],
)
def test_mistakes_name_the_key_and_what_is_allowed(data, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(data, "t.toml")
    message = str(info.value)
    assert message.startswith("t.toml: ")
    assert expected in message
    assert "\n" not in message


def _run_kiosk(config_path, role="hall"):
    return subprocess.run(
        [sys.executable, "-m", "linfen", "kiosk", "--role", role, "--config", str(config_path)],
        capture_output=True, text=True, timeout=60,
    )


BAD_FILES = {
    "unknown_role": ('role = "lobby"\nterminal_id = "x"\nsite = "s"\n', "role: input should be"),
    "missing_port": (
        'role = "hall"\nterminal_id = "x"\nsite = "s"\n[devices.idcard]\nbaud = 115200\n'
        '[devices.thermometer]\nport = "/a"\n[devices.printer]\nport = "/b"\n',
        "devices.idcard.port: missing",
    ),
    "wrong_type": ('role = "hall"\nterminal_id = "x"\nsite = "s"\n[voice]\nvolume = "loud"\n',
                   "voice.volume: input should be a valid integer"),
    "unknown_key": ('role = "hall"\nterminal_id = "x"\nsite = "s"\nprinter_port = "/dev/x"\n',
                    "printer_port: unknown key"),
    "not_toml": ('role = "hall\n', "not valid TOML"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_config_stops_with_one_line_and_no_traceback(tmp_path, kind):
    text, expected = BAD_FILES[kind]
    path = tmp_path / f"{kind}.toml"
    path.write_text(text, encoding="utf-8")
    result = _run_kiosk(path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0]


def test_unreadable_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.toml"
    result = _run_kiosk(missing)
    assert result.returncode == 2
    assert result.stderr.strip() == f"linfen: cannot read config {missing}: No such file or directory"
    unreadable = tmp_path / "dir.toml"
    unreadable.mkdir()
    result = _run_kiosk(unreadable)
    assert result.returncode == 2
    assert "cannot read config" in result.stderr and "Traceback" not in result.stderr


def test_role_flag_must_match_the_file(examples_dir):
    result = _run_kiosk(examples_dir / "canteen.toml", role="hall")
    assert result.returncode == 2
    assert "role is 'canteen' but --role says 'hall'" in result.stderr
