"""Deployment files: the systemd units, the udev rules and docs/deploy.md agree with the code.

Every command line a unit or the install notes give is parsed by the real ``linfen`` argument
parser (nothing is run); the kiosk template is checked for every role this version runs, and no
unit, doc or README line starts a role that is not available yet;
the paths the services write to lie inside what ``ProtectSystem=strict`` leaves writable; the udev
rules name exactly the config's serial devices; each example config loads once its ports are the
``/dev/linfen/*`` names.  ``systemd-analyze verify`` runs on the units when the tool is installed.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
import typing
from pathlib import Path, PurePosixPath

import pytest

from common.roles import AVAILABLE_ROLES, ROLE_NAMES, ROLES
from kiosk.config import Devices, SerialDevice, load_config
from linfen.cli import build_parser

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "deploy" / "systemd"
UDEV_RULES = ROOT / "deploy" / "udev" / "99-linfen.rules"
DOCS = ROOT / "docs" / "deploy.md"
README = ROOT / "README.md"
EXAMPLES = ROOT / "config" / "examples"

KIOSK = "linfen-kiosk@.service"
CENTRAL = "linfen-central.service"
SIM = "linfen-sim.service"
UNITS = (KIOSK, CENTRAL, SIM)
LINFEN = "/opt/linfen/.venv/bin/linfen"  # where the units and the docs install the command
STATE_ROOT = PurePosixPath("/var/lib")  # StateDirectory= of a system unit
CACHE_ROOT = PurePosixPath("/var/cache")  # CacheDirectory= of a system unit
TRUE = {"yes", "true", "on", "1"}
ADAPTERS = {("0403", "6001"), ("1a86", "7523"), ("10c4", "ea60"), ("067b", "2303")}  # FTDI CH340 CP210x PL2303
STORE_IN_DOCS = "/var/lib/linfen/{terminal_id}/terminal.db"
RULE_TOKEN = re.compile(r'\s*([A-Z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')


def _serial_device_names() -> frozenset[str]:
    """The config's devices that sit on a serial line (the ones udev names)."""
    names = set()
    for name, field in Devices.model_fields.items():
        kinds = typing.get_args(field.annotation) or (field.annotation,)
        if any(isinstance(k, type) and issubclass(k, SerialDevice) for k in kinds):
            names.add(name)
    return frozenset(names)


SERIAL_DEVICES = _serial_device_names()


# --- helpers -------------------------------------------------------------------------------------


def read_unit(name: str) -> configparser.ConfigParser:
    """A unit file as configparser reads it (keys keep their case; repeated keys: the last wins)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name, encoding="utf-8")
    return parser


def assignments(name: str, *, commented: bool = False) -> list[tuple[str, str, str]]:
    """Every ``Key=value`` of a unit as (section, key, value), repeats kept; ``commented``: the ``#Key=`` lines."""
    out: list[tuple[str, str, str]] = []
    section = ""
    for raw in (SYSTEMD / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if commented:
            match = re.match(r"#([A-Z][A-Za-z]+)=(.*)$", line)
        else:
            match = None if line.startswith(("#", ";")) else re.match(r"([A-Z][A-Za-z]+)=(.*)$", line)
        if match:
            out.append((section, match.group(1), match.group(2).strip()))
    return out


def values(name: str, key: str) -> list[str]:
    """All values of ``key`` in a unit, in file order, space-separated lists split."""
    return [v for _, k, value in assignments(name) if k == key for v in value.split()]


def instance_name(unit: str, instance: str | None) -> str:
    """``linfen-kiosk@hall.service`` for a template and an instance; the unit itself otherwise."""
    return unit.replace("@.", f"@{instance}.") if instance is not None else unit


def expand_specifiers(text: str, unit: str, instance: str | None = None) -> str:
    """Replace the systemd specifiers the units use (%i, %d, %%); any other one fails the test."""

    def one(match: re.Match[str]) -> str:
        spec = match.group(1)
        if spec == "%":
            return "%"
        if spec == "i":
            assert instance is not None, f"{unit}: %i outside a template instance"
            return instance
        if spec == "d":
            return f"/run/credentials/{instance_name(unit, instance)}"
        raise AssertionError(f"{unit}: specifier %{spec} not handled by this test: {text}")

    return re.sub(r"%(.)", one, text)


def linfen_argv(command: str, where: str) -> list[str]:
    """The arguments after ``linfen`` in an ExecStart= (or docs) command line, checked to run our binary."""
    argv = shlex.split(command, comments=True)
    if argv:
        argv[0] = argv[0].lstrip("-@+!:")  # ExecStart= prefixes such as "-/usr/bin/x"
    if LINFEN in argv:  # a wrapper such as cage: `cage -s -- linfen kiosk ...`
        argv = argv[argv.index(LINFEN):]
    assert argv and argv[0] == LINFEN, f"{where}: runs {argv[:1]}, not {LINFEN}"
    for stop in ("|", ">", ">>", "<", "&&", "||", ";", "&"):
        if stop in argv:
            argv = argv[: argv.index(stop)]
    return argv[1:]


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``--option`` the parser and its subcommands' parsers know, spelled in full."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= option_strings(sub)
    return found


def parse_cli(argv: list[str], where: str) -> argparse.Namespace:
    """Parse ``argv`` with the project's own parser, without running anything; a refusal fails the test.

    Options must be spelled in full: argparse would take ``--rol`` for ``--role``, but an
    abbreviation in a unit breaks as soon as another option shares the prefix.
    """
    known = option_strings(build_parser())
    for token in argv:
        if token.startswith("--") and token != "--":
            assert token.split("=", 1)[0] in known, f"{where}: {token} is not an option of linfen (abbreviated?)"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `linfen {shlex.join(argv)}` is refused by the CLI: {err.getvalue().strip()}")


def exec_start(unit: str, instance: str | None = None) -> argparse.Namespace:
    """The unit's ExecStart= parsed by the real ``linfen`` parser (specifiers filled in)."""
    starts = [v for s, k, v in assignments(unit) if s == "Service" and k == "ExecStart"]
    assert len(starts) == 1, f"{unit}: expected one ExecStart=, found {len(starts)}"
    where = instance_name(unit, instance)
    return parse_cli(linfen_argv(expand_specifiers(starts[0], unit, instance), where), where)


def writable_dirs(unit: str) -> list[PurePosixPath]:
    """What a unit with ``ProtectSystem=strict`` may write: its State/Cache directories and ReadWritePaths=."""
    dirs = [STATE_ROOT / d for d in values(unit, "StateDirectory")]
    dirs += [CACHE_ROOT / d for d in values(unit, "CacheDirectory")]
    dirs += [PurePosixPath(p.lstrip("-")) for p in values(unit, "ReadWritePaths")]
    return dirs


def inside(path: str | PurePosixPath, dirs: list[PurePosixPath]) -> bool:
    """True when ``path`` is one of ``dirs`` or below one of them."""
    p = PurePosixPath(path)
    return any(p == d or d in p.parents for d in dirs)


def udev_lines(*, commented: bool = False) -> list[tuple[int, str]]:
    """The rules file's rule lines as (line number, text); ``commented``: the ``#SUBSYSTEM`` examples instead."""
    out = []
    for number, raw in enumerate(UDEV_RULES.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if commented and line.startswith("#SUBSYSTEM"):
            out.append((number, line[1:]))
        elif not commented and line and not line.startswith("#"):
            out.append((number, line))
    return out


def rule_tokens(line: str, where: str) -> list[tuple[str, str, str]]:
    """A udev rule as (key, operator, value) triples; fails unless the whole line is well-formed."""
    tokens, pos = [], 0
    while pos < len(line):
        match = RULE_TOKEN.match(line, pos)
        assert match and match.end() > pos, f"{where}: cannot read the rule from column {pos}: {line[pos:]!r}"
        tokens.append(match.groups())
        pos = match.end()
    return tokens


def docs_text() -> str:
    """docs/deploy.md with shell line continuations joined."""
    return DOCS.read_text(encoding="utf-8").replace("\\\n", " ")


def docs_device_names() -> set[str]:
    """The ``/dev/linfen/<name>`` names docs/deploy.md mentions."""
    return set(re.findall(r"/dev/linfen/([a-z_]+)", docs_text()))


def docs_commands() -> list[tuple[int, list[str]]]:
    """Every ``/opt/linfen/.venv/bin/linfen ...`` command in the docs as (line number, argv after linfen)."""
    out, pending, start = [], "", 0
    for number, line in enumerate(DOCS.read_text(encoding="utf-8").splitlines(), 1):
        start = start or number
        if line.endswith("\\"):  # a shell continuation: the command goes on on the next line
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        for match in re.finditer(re.escape(LINFEN) + r"\s[^`\n]*", line):
            text = expand_specifiers(match.group(0), KIOSK, "hall")
            out.append((start, linfen_argv(text, f"docs/deploy.md:{start}")))
        start = 0
    return out


def with_linfen_ports(toml_text: str) -> str:
    """An example config with every serial device's ``port`` set to ``/dev/linfen/<device>`` and the docs' store path."""
    lines, section, has_store = [], "", False
    for line in toml_text.splitlines():
        header = re.match(r"\s*\[+([^\]]+)\]+", line)
        if header:
            section = header.group(1).strip()
            has_store = has_store or section == "store"
        device = section.removeprefix("devices.") if section.startswith("devices.") else None
        if device in SERIAL_DEVICES and re.match(r"\s*port\s*=", line):
            line = f'port = "/dev/linfen/{device}"'
        if section == "store" and re.match(r"\s*path\s*=", line):
            line = f'path = "{STORE_IN_DOCS}"'
        lines.append(line)
    if not has_store:
        lines += ["", "[store]", f'path = "{STORE_IN_DOCS}"']
    return "\n".join(lines) + "\n"


def seconds(text: str) -> float:
    """A systemd time span such as ``5s``, ``30``, ``1min 30s`` in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    assert parts, f"not a time span: {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


# --- the unit files ------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
def test_unit_has_its_sections(unit: str) -> None:
    parser = read_unit(unit)
    for section in ("Unit", "Service", "Install"):
        assert parser.has_section(section), f"{unit}: no [{section}]"
    assert parser.get("Unit", "Description", fallback="").strip()
    assert parser.get("Service", "ExecStart", fallback="").startswith(LINFEN + " ")
    assert parser.get("Service", "User") == "linfen"
    assert parser.get("Install", "WantedBy", fallback="").strip()


@pytest.mark.parametrize("unit", UNITS)
def test_unit_does_not_hide_devices(unit: str) -> None:
    for _, key, value in assignments(unit):
        assert not (key == "PrivateDevices" and value.lower() in TRUE), f"{unit}: PrivateDevices hides /dev/tty*"
        # DeviceAllow= (which ProtectClock= implies) closes the device policy: serial ports would be refused.
        assert key not in ("DeviceAllow", "DevicePolicy", "ProtectClock"), f"{unit}: {key}= restricts devices"


@pytest.mark.parametrize("unit", sorted(p.name for p in SYSTEMD.glob("*.service")))
def test_every_unit_raises_the_descriptor_limit_above_the_servers_budget(unit: str) -> None:
    """Issue 10, finding 1: no unit set LimitNOFILE, so a service met EMFILE at systemd's 1,024 descriptors."""
    from common.http_limits import FD_RESERVE

    limits = values(unit, "LimitNOFILE")
    assert len(limits) == 1, f"{unit}: one LimitNOFILE= in [Service]"
    assert limits[0].isdigit(), f"{unit}: LimitNOFILE={limits[0]} must be a number (never infinity)"
    assert 4096 <= int(limits[0]) <= 1 << 20
    assert int(limits[0]) - FD_RESERVE >= 2048, f"{unit}: room for connections beyond the reserve"


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_hardened_and_can_write_its_state(unit: str) -> None:
    parser = read_unit(unit)
    assert parser.get("Service", "NoNewPrivileges") == "yes"
    assert parser.get("Service", "ProtectSystem") == "strict"
    assert parser.get("Service", "PrivateTmp") == "yes"
    work = parser.get("Service", "WorkingDirectory")
    assert inside(work, writable_dirs(unit)), f"{unit}: WorkingDirectory {work} is read-only"
    assert all(inside(p.lstrip("-"), [STATE_ROOT / d for d in values(unit, "StateDirectory")])
               for p in values(unit, "ReadWritePaths")), f"{unit}: ReadWritePaths outside the state directory"


def test_every_role_has_an_example_config() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.toml")) == sorted(ROLE_NAMES)


@pytest.mark.parametrize("role", [r for r in ROLE_NAMES if not ROLES[r].available])
def test_example_of_a_role_not_built_says_so(role: str) -> None:
    """The example is kept valid for later, but its first lines say `linfen kiosk` does not run it yet."""
    head = (EXAMPLES / f"{role}.toml").read_text(encoding="utf-8").split("\nrole =")[0]
    assert "not available yet" in head.lower(), f"config/examples/{role}.toml does not say the role is not runnable yet"


@pytest.mark.parametrize("role", AVAILABLE_ROLES)
def test_kiosk_unit_command_is_accepted_for_every_role(role: str) -> None:
    args = exec_start(KIOSK, role)
    assert args.command == "kiosk"
    assert args.role == role
    assert args.config == Path(f"/etc/linfen/{role}.toml")
    assert not args.windowed, "the kiosk runs full screen"
    assert args.screenshot is None


def test_units_sharing_a_state_directory_agree_on_its_mode() -> None:
    modes: dict[str, set[str]] = {}
    for unit in UNITS:
        for directory in values(unit, "StateDirectory"):
            modes.setdefault(directory, set()).update(values(unit, "StateDirectoryMode") or ["0755"])
    assert all(len(m) == 1 for m in modes.values()), modes


def test_kiosk_unit_settings() -> None:
    parser = read_unit(KIOSK)
    service = parser["Service"]
    assert service["Restart"] == "always"
    assert 1 <= seconds(service["RestartSec"]) <= 60
    for dep in ("pcscd.socket", "network-online.target"):
        assert dep in values(KIOSK, "After"), dep
        assert dep in values(KIOSK, "Wants"), dep
    assert "dialout" in values(KIOSK, "SupplementaryGroups")
    assert values(KIOSK, "StateDirectory") == ["linfen"]
    assert "/var/lib/linfen" in values(KIOSK, "ReadWritePaths")
    environment = " ".join(values(KIOSK, "Environment"))
    assert "QT_QPA_PLATFORM" not in environment, "the kiosk must use the session's platform, full screen"
    assert "graphical.target" not in values(KIOSK, "After"), "ordering cycle with WantedBy=graphical.target"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_kiosk_store_is_in_the_state_directory(role: str, tmp_path: Path) -> None:
    """The docs' store path and the schema's relative default both land in the writable state directory."""
    work = PurePosixPath(read_unit(KIOSK).get("Service", "WorkingDirectory"))
    target = tmp_path / f"{role}.toml"
    target.write_text(with_linfen_ports((EXAMPLES / f"{role}.toml").read_text(encoding="utf-8")), encoding="utf-8")
    documented = load_config(target).store_path()
    default = PurePosixPath(load_config(EXAMPLES / f"{role}.toml").store_path())
    assert documented.is_absolute()
    for path in (PurePosixPath(documented), work / default if not default.is_absolute() else default):
        assert inside(path, writable_dirs(KIOSK)), f"{role}: store {path} is not writable by the kiosk unit"


def test_central_unit_serves_with_an_accepted_command() -> None:
    from sync.central.server import GRACEFUL_SHUTDOWN_S, check_bind, parse_bind

    args = exec_start(CENTRAL)
    assert args.command == "central"
    assert args.central_command is None, "the unit serves; it does not enrol/import/revoke"
    assert inside(args.db, writable_dirs(CENTRAL)), f"SQLite file {args.db} outside the writable state directory"
    host, _ = parse_bind(args.bind)
    tls = args.tls_cert is not None
    check_bind(host, tls, args.insecure_lan)  # the central itself refuses plain HTTP on the LAN
    assert (args.tls_cert is None) == (args.tls_key is None)
    credentials = {value.split(":", 1)[0] for value in values(CENTRAL, "LoadCredential")}
    for path in (args.tls_cert, args.tls_key):
        if path is not None:
            assert path.parent == Path(f"/run/credentials/{CENTRAL}") and path.name in credentials, path
    service = read_unit(CENTRAL)["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert seconds(service["TimeoutStopSec"]) > GRACEFUL_SHUTDOWN_S
    assert service["Restart"] == "on-failure"


def test_central_unit_commented_alternatives_are_accepted() -> None:
    """The commented ExecStart= lines (PostgreSQL, closed LAN) are valid commands too."""
    from sync.central.server import check_bind, parse_bind

    alternatives = [v for s, k, v in assignments(CENTRAL, commented=True) if k == "ExecStart"]
    assert len(alternatives) >= 2
    env_files = [v for _, k, v in assignments(CENTRAL, commented=True) if k == "EnvironmentFile"]
    assert env_files, "the PostgreSQL alternative takes LINFEN_CENTRAL_DB from an EnvironmentFile="
    for text in alternatives:
        args = parse_cli(linfen_argv(expand_specifiers(text, CENTRAL), CENTRAL), CENTRAL)
        assert args.command == "central" and args.central_command is None
        check_bind(parse_bind(args.bind)[0], args.tls_cert is not None, args.insecure_lan)


def test_central_tasks_run_accepted_commands_on_the_central_database() -> None:
    """The hourly tasks unit closes forgotten check-ins and publishes the top dishes, as the central's user."""
    tasks = "linfen-central-tasks.service"
    starts = [v for s, k, v in assignments(tasks) if s == "Service" and k == "ExecStart"]
    commands = [parse_cli(linfen_argv(text, tasks), tasks) for text in starts]
    assert [(a.central_command, getattr(a, "timebank_command", None) or getattr(a, "analytics_command", None))
            for a in commands] == [("timebank", "close-forgotten"), ("timebank", "close-votes"), ("analytics", "publish")]
    central_db = exec_start(CENTRAL).db
    assert all(a.db == central_db for a in commands)
    assert values(tasks, "User") == values(CENTRAL, "User") and values(tasks, "Type") == ["oneshot"]
    assert "OnCalendar=hourly" in (SYSTEMD / "linfen-central-tasks.timer").read_text(encoding="utf-8")
    assert "linfen-central-tasks.timer" in docs_text()


def test_sim_unit_command_is_accepted() -> None:
    args = exec_start(SIM)
    assert args.command == "sim"
    assert args.sim_command is None, "the unit runs the simulator, not a ctl command"
    assert args.timing == "realistic"
    assert args.role in AVAILABLE_ROLES  # the kiosk is pointed at the config it writes (docs/deploy.md)
    assert args.config_out is not None and inside(args.config_out, writable_dirs(SIM))
    assert args.config_out.name == f"{args.role}.toml"  # the name docs/deploy.md gives the kiosk
    assert str(args.config_out) in docs_text()
    assert args.workdir is not None and inside(args.workdir, writable_dirs(SIM)), "ptys must outlive PrivateTmp"
    assert not args.gui


# --- udev ----------------------------------------------------------------------------------------


def test_udev_rules_name_the_serial_devices() -> None:
    documented = docs_device_names()
    assert documented == set(SERIAL_DEVICES), "docs/deploy.md should name exactly the config's serial devices"
    named = set()
    for commented in (False, True):
        for number, line in udev_lines(commented=commented):
            where = f"99-linfen.rules:{number}"
            tokens = rule_tokens(line, where)
            keys = {(k, op): v for k, op, v in tokens}
            assert keys.get(("SUBSYSTEM", "==")) == "tty", where
            assert keys.get(("GROUP", "=")) == "dialout", where
            assert keys.get(("MODE", "=")) == "0660", where
            symlinks = [v for k, op, v in tokens if k == "SYMLINK" and op == "+="]
            assert len(symlinks) == 1 and symlinks[0].startswith("linfen/"), where
            name = symlinks[0].removeprefix("linfen/")
            assert name in documented, f"{where}: /dev/linfen/{name} is not in docs/deploy.md"
            assert (keys.get(("ATTRS{idVendor}", "==")), keys.get(("ATTRS{idProduct}", "=="))) in ADAPTERS, where
            assert ("ATTRS{serial}", "==") in keys or ("ENV{ID_PATH}", "==") in keys, f"{where}: keyed on neither"
            if not commented:
                named.add(name)
    assert named == set(SERIAL_DEVICES), f"devices without an active rule: {sorted(set(SERIAL_DEVICES) - named)}"


def test_udev_rules_show_both_keying_patterns() -> None:
    rules = " ".join(line for _, line in udev_lines())
    assert 'ATTRS{serial}=="' in rules and 'ENV{ID_PATH}=="' in rules


# --- docs ----------------------------------------------------------------------------------------


def test_docs_mention_every_deployment_file() -> None:
    text = docs_text()
    for name in (*UNITS, UDEV_RULES.name):
        assert name in text, name
    for role in ROLE_NAMES:
        assert f"`{role}`" in text, role
    unavailable = [r for r in ROLE_NAMES if not ROLES[r].available]
    if unavailable:
        assert "not available yet" in " ".join(text.split()), "docs/deploy.md should say which roles do not run yet"
    for phrase in ("udevadm control --reload && udevadm trigger", "systemctl enable --now linfen-kiosk@hall",
                   "journalctl -u linfen-kiosk@hall", "journalctl -u linfen-central",
                   "config/examples/hall.toml", "/etc/linfen/hall.toml", STORE_IN_DOCS):
        assert phrase in text, phrase
    assert "docs/deploy.md" in README.read_text(encoding="utf-8")


def test_docs_commands_are_accepted_by_the_cli() -> None:
    commands = docs_commands()
    seen = set()
    for number, argv in commands:
        args = parse_cli(argv, f"docs/deploy.md:{number}")
        seen.add(args.command if args.command != "central" else f"central {args.central_command}")
        if args.command == "kiosk":
            assert args.config.suffix == ".toml"
            assert args.role in AVAILABLE_ROLES, f"docs/deploy.md:{number} runs role {args.role}, not available yet"
    for wanted in ("central enrol", "doctor", "kiosk", "sim"):
        assert wanted in seen, f"docs/deploy.md shows no `linfen {wanted}` command"


# --- the example configs with the udev names -----------------------------------------------------


def test_no_instruction_starts_a_role_that_is_not_available() -> None:
    """`linfen-kiosk@<role>` in the units, the docs and the README names only roles this version runs."""
    texts = {path: path.read_text(encoding="utf-8") for path in (DOCS, README, *SYSTEMD.glob("*.service"))}
    named = {(path.name, role) for path, text in texts.items() for role in re.findall(r"linfen-kiosk@(\w+)", text)}
    assert named, "no linfen-kiosk@<role> found at all"
    assert sorted((f, r) for f, r in named if r in ROLE_NAMES and r not in AVAILABLE_ROLES) == []
    kiosk_comment = (SYSTEMD / KIOSK).read_text(encoding="utf-8").split("[Unit]")[0]
    for role in ROLE_NAMES:
        if not ROLES[role].available:
            line = next((ln for ln in kiosk_comment.splitlines() if role in ln), "")
            assert "not available yet" in line, f"{KIOSK}: the header names {role} without saying it does not run yet"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_example_config_uses_the_udev_names(role: str) -> None:
    """Each example loads (the schema only: ports need not exist) and names its serial devices /dev/linfen/<name>."""
    config = load_config(EXAMPLES / f"{role}.toml")
    assert config.role == role  # `linfen kiosk --role` refuses a config of another role
    serial = {n: d for n, d in config.devices.configured().items() if isinstance(d, SerialDevice)}
    assert set(serial) <= docs_device_names()
    for name, device in serial.items():
        assert device.port == f"/dev/linfen/{name}"


# --- systemd-analyze -----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """Each unit (the template once per role) passes `systemd-analyze verify` with the real linfen binary."""
    binary = Path(sys.executable).parent / "linfen"
    if not binary.exists():
        pytest.skip(f"no linfen console script next to {sys.executable}")
    files = []
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text(encoding="utf-8").replace(LINFEN, str(binary))
        (tmp_path / unit).write_text(text, encoding="utf-8")
        if "@." in unit:
            for role in AVAILABLE_ROLES:
                link = tmp_path / instance_name(unit, role)
                link.symlink_to(unit)
                files.append(str(link))
        else:
            files.append(str(tmp_path / unit))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *files],
                            capture_output=True, text=True, timeout=120)
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if str(tmp_path) in line or any(u.split("@")[0] in line for u in UNITS)]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
