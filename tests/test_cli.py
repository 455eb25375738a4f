"""The ``linfen`` command explains itself; unfinished subcommands say so instead of pretending."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


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
        checked += 1
    assert checked >= 8
