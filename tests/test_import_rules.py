"""DESIGN §2 import rules, checked on the source (static) and in a fresh interpreter (dynamic)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6")
FORBIDDEN = {
    "drivers": (*QT, "kiosk", "sync", "ui", "hardware_sim"),
    "hardware_sim": (*QT, "kiosk", "ui", "sync"),
    "kiosk": (*QT, "ui"),
    "sync": (*QT, "ui", "drivers"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str, banned: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in _imports(path):
            if name.split(".")[0] in banned:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_in_their_lane(package):
    assert _violations(package, FORBIDDEN[package]) == []


def test_only_ui_qt_imports_qt():
    bad = []
    for path in sorted((ROOT / "ui").rglob("*.py")):
        if path.name == "qt.py":
            continue
        bad += [f"{path.relative_to(ROOT)}:{ln} imports {n}" for ln, n in _imports(path) if n.split(".")[0] in QT]
    assert bad == []


def test_loading_every_core_module_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys\n"
        "for pkg in ('kiosk', 'drivers', 'hardware_sim', 'sync'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        if not info.name.endswith('__main__'):  # running a package is not importing it\n"
        "            importlib.import_module(info.name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'ui'))\n"
        "print(','.join(qt))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
