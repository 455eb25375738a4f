"""The simulator as maintenance staff use it: `linfen sim`, `linfen sim ctl …`, `linfen read`, `linfen doctor`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from hardware_sim import personas

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def linfen(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linfen", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def running_sim(pcscd, tmp_path_factory):
    work = tmp_path_factory.mktemp("sim-cli")
    port = _free_port()
    config = work / "hall.toml"
    proc = subprocess.Popen([sys.executable, "-m", "linfen", "sim", "--fast", "--port", str(port), "--workdir",
                             str(work), "--config-out", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not config.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"simulator did not start: {proc.stderr.read()}")
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port}"
    os.environ["LINFEN_SIM_URL"] = url
    yield {"url": url, "config": str(config), "proc": proc}
    os.environ.pop("LINFEN_SIM_URL", None)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


def ctl(*args: str) -> dict:
    result = linfen("sim", "ctl", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else {}


def test_status_lists_every_device(running_sim):
    status = ctl("status")
    assert set(status["devices"]) >= {"idcard", "sscard", "ccard", "qr_camera", "qr_scanner", "thermometer",
                                      "printer", "door", "locker", "code_service"}
    assert status["timing"] == "fast" and status["personas"] == 60


def test_read_shows_what_the_terminal_sees_masked(running_sim):
    p = personas.by_id("P001")
    ctl("present", "idcard", "P001")
    result = linfen("read", "idcard", "--config", running_sim["config"], "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id_number"] == p.id_number[:3] + "*" * 11 + p.id_number[-4:]
    assert data["name"].startswith(p.name[0]) and "*" in data["name"]
    assert p.id_number not in result.stdout
    ctl("present", "sscard", "P002")
    result = linfen("read", "sscard", "--config", running_sim["config"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id_number"].endswith(personas.by_id("P002").id_number[-4:])


def test_temperature_and_qr_reach_their_drivers(running_sim):
    ctl("temperature", "37.9")
    result = linfen("read", "thermometer", "--config", running_sim["config"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["celsius"] == pytest.approx(37.9)
    ctl("show-qr", "P003")
    result = linfen("read", "qr_camera", "--config", running_sim["config"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"].startswith("LFHC1.")


def test_doctor_says_what_is_wrong_in_words(running_sim):
    ctl("clear", "all")
    ctl("paper", "ok")
    ok = linfen("doctor", "--config", running_sim["config"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "devices working" in ok.stdout
    ctl("paper", "out")
    ctl("fault", "idcard", "sam_failure", "66")
    bad = linfen("doctor", "--config", running_sim["config"])
    assert bad.returncode == 1
    lines = {ln.split()[1]: ln for ln in bad.stdout.splitlines() if ln.startswith(("OK", "DOWN"))}
    assert lines["printer"].startswith("DOWN") and "paper out" in lines["printer"]
    assert lines["idcard"].startswith("DOWN") and "authoris" in lines["idcard"]
    assert lines["thermometer"].startswith("OK")
    ctl("unplug", "thermometer")
    unplugged = linfen("doctor", "--config", running_sim["config"])
    assert "not found" in [ln for ln in unplugged.stdout.splitlines() if "thermometer" in ln][0]
    ctl("plug", "thermometer")
    ctl("clear", "all")
    ctl("paper", "ok")


def test_ctl_refusals_are_one_clear_line(running_sim):
    result = linfen("sim", "ctl", "present", "idcard", "P999")
    assert result.returncode == 2 and "no persona 'P999'" in result.stderr
    result = linfen("sim", "ctl", "fault", "printer", "melted")
    assert result.returncode == 2 and "has no fault 'melted'" in result.stderr
    result = linfen("sim", "ctl", "--url", "http://127.0.0.1:1", "status")
    assert result.returncode == 2 and "no simulator answers" in result.stderr


def test_traffic_log_is_hex_with_timestamps(running_sim):
    ctl("present", "idcard", "P004")
    linfen("read", "idcard", "--config", running_sim["config"])
    result = linfen("sim", "ctl", "traffic", "idcard", "--last", "20")
    assert result.returncode == 0
    assert any("host>dev aa aa aa 96 69" in line for line in result.stdout.splitlines())


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tickets(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return conn.execute("SELECT count(*) FROM hall_tickets").fetchone()[0]
        except sqlite3.OperationalError:  # the terminal has not made its tables yet
            return 0


def test_hall_kiosk_on_the_sim_config_serves_a_resident_and_stops_on_sigterm(running_sim, tmp_path):
    """`linfen kiosk` as systemd runs it: up on the simulator's config, a ticket, then SIGTERM closes it cleanly."""
    ctl("clear", "all")
    ctl("paper", "ok")
    ctl("temperature", "36.6")  # earlier tests leave a fever reading and a card on the reader
    for device in ("idcard", "sscard", "ccard", "qr_camera"):
        ctl("remove", device)
    lan_port = _free_port()
    config = tmp_path / "hall.toml"
    text = Path(running_sim["config"]).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^store = .*$", f'store = {{ path = "{tmp_path}/terminal.db" }}', text)
    config.write_text(text + f'\n[hall]\nbind = "127.0.0.1:{lan_port}"\n'  # one service: a swipe needs no tap
                      '[[hall.services]]\ncode = "A"\nname_zh = "综合受理"\nname_en = "General services"\n',
                      encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "linfen", "kiosk", "--role", "hall", "--config", str(config),
                             "--windowed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "running" in proc.stdout.readline(), proc.stderr.read() if proc.poll() is not None else ""
        deadline = time.monotonic() + 30
        while not _accepts(lan_port):
            assert time.monotonic() < deadline, "the hall's LAN queue service did not open its port"
            time.sleep(0.1)
        ctl("present", "idcard", "P001")  # green, no priority: a ticket
        while _tickets(tmp_path / "terminal.db") < 1:
            assert proc.poll() is None and time.monotonic() < deadline + 30, "no ticket was issued"
            time.sleep(0.1)
        ctl("remove", "idcard")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "SIGTERM received, closing" in err and "closed" in out
    assert not _accepts(lan_port), "the LAN queue service still listens after the kiosk closed"
    assert _tickets(tmp_path / "terminal.db") == 1


def test_sim_writes_a_valid_config_for_every_declared_role(pcscd, tmp_path):
    """`linfen sim --config-out --role R` works for every role, also one `linfen kiosk` does not run yet
    (staff rehearse its devices with `linfen doctor`/`linfen read`); such a config says so at its top."""
    from common.roles import ROLES
    from hardware_sim.runner import Simulator
    from hardware_sim.timing import Timing
    from kiosk.config import parse_config
    from linfen.reference import write_sim_reference

    with Simulator(tmp_path, Timing.FAST, harness=pcscd) as sim:
        for role, spec in ROLES.items():
            text = sim.terminal_config(role, extra=write_sim_reference(sim, tmp_path / "reference", role))
            config = parse_config(tomllib.loads(text), f"sim {role} config")
            assert config.role == role
            assert set(config.devices.configured()) == set(spec.devices), role
            head = "\n".join(text.splitlines()[:3])
            assert ("not available yet" in head) is (not spec.available), head
