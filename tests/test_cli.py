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
