"""The ``linfen`` command explains itself; unfinished subcommands say so instead of pretending."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.roles import AVAILABLE_ROLES, ROLE_NAMES, ROLES

pytestmark = pytest.mark.unit
NOT_BUILT = [r for r in ROLE_NAMES if not ROLES[r].available]


def _linfen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linfen", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("sub", [[], ["kiosk"], ["sim"], ["central"], ["demo"]])
def test_every_command_has_help(sub):
    result = _linfen(*sub, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: linfen" in result.stdout
    assert len(result.stdout.splitlines()) >= 5


def test_kiosk_help_lists_every_role():
    out = _linfen("kiosk", "--help").stdout
    for role in ("hall", "counter", "display", "selfservice", "canteen", "cinema"):
        assert role in out
    assert " ".join(out.split()).count("not available yet") == (1 if NOT_BUILT else 0)


@pytest.mark.parametrize("role", NOT_BUILT)
def test_kiosk_refuses_a_role_not_built_yet_in_one_line(role):
    """Its example config is valid, but the kiosk does not start a screen that invites a card nothing reads."""
    result = _linfen("kiosk", "--role", role, "--config", f"config/examples/{role}.toml", "--screenshot",
                     "out/never.png")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.strip()
    assert line == (f"linfen: role '{role}' is not available yet in this version ({ROLES[role].not_built}); "
                    f"roles you can run: {', '.join(AVAILABLE_ROLES)}")


@pytest.mark.parametrize("argv", [
    ["kiosk", "--role", "hall", "--conf", "config/examples/hall.toml"],
    ["sim", "--config", "out/sim.toml"],  # --config-out, abbreviated
    ["central", "--bi", "127.0.0.1:8720"],
    ["central", "enrol", "--rol", "hall", "--site", "linfen-road"],
    ["read", "printer", "--conf", "config/examples/hall.toml"],
])
def test_abbreviated_options_are_refused(argv):
    from linfen.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2


def test_full_option_names_still_parse():
    from linfen.cli import build_parser

    args = build_parser().parse_args(["central", "enrol", "--role", "hall", "--site", "linfen-road"])
    assert (args.role, args.site) == ("hall", "linfen-road")


def test_readme_commands_are_accepted_by_the_cli():
    import contextlib
    import io
    import shlex
    from pathlib import Path

    from linfen.cli import build_parser

    readme = Path(__file__).resolve().parent.parent / "README.md"
    checked = 0
    for number, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip().startswith(".venv/bin/linfen "):
            continue
        argv = shlex.split(line, comments=True)[1:]
        argv = argv[: argv.index(";")] if ";" in argv else argv
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"README.md:{number}: `linfen {shlex.join(argv)}` is refused: {err.getvalue().strip()}")
        if argv[0] == "kiosk":
            role = argv[argv.index("--role") + 1]
            assert role in AVAILABLE_ROLES, f"README.md:{number}: runs role {role}, which is not available yet"
        checked += 1
    assert checked >= 8
