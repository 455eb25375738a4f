"""DESIGN §2 import rules, checked on the source (static) and in a fresh interpreter (dynamic).

Relative imports are resolved to absolute names, and ``from kiosk import hall`` counts as an
import of ``kiosk.hall``, so neither spelling slips past a rule.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from common.roles import ROLE_NAMES

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6")
OURS = ("common", "drivers", "hardware_sim", "kiosk", "linfen", "sync", "ui", "bench", "tests")
# kiosk/runtime is shared by every role: it must not reach into one (kiosk.hall, kiosk.canteen, ...).
ROLE_PACKAGES = tuple(f"kiosk.{role}" for role in ROLE_NAMES)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "common": (*QT, *(p for p in OURS if p != "common")),  # the bottom layer: only itself
    "drivers": (*QT, "kiosk", "sync", "ui", "hardware_sim"),
    "hardware_sim": (*QT, "kiosk", "ui", "sync"),
    "kiosk": (*QT, "ui"),
    "kiosk/runtime": ROLE_PACKAGES,
    "sync": (*QT, "ui", "drivers"),
    "sync/central": ("kiosk",),
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Every module ``path`` imports, as absolute dotted names (``from a import b`` gives ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if node.module:
                found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))  # importlib.import_module("kiosk.hall")
    return found


def _banned(name: str, banned: tuple[str, ...]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in banned)


def _violations(package: str, banned: tuple[str, ...], root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for line, name in _imports(path, root):
            if _banned(name, banned):
                bad.append(f"{path.relative_to(root)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_in_their_lane(package):
    assert (ROOT / package).is_dir(), f"{package}/ is gone: update FORBIDDEN"
    assert _violations(package, FORBIDDEN[package]) == []


@pytest.mark.parametrize(("source", "caught"), [
    ("from kiosk.hall.queue import HallQueue\n", True),
    ("from kiosk import hall\n", True),
    ("from ..hall import tickets\n", True),
    ("from ..canteen.flow import Sale\n", True),
    ("import kiosk.cinema\n", True),
    ("importlib.import_module('kiosk.selfservice.flow')\n", True),
    ("from kiosk.errors import KioskError\nfrom .events import Tick\nfrom kiosk import halls_of_fame\n", False),
])
def test_the_rules_see_every_spelling_of_an_import(tmp_path, source, caught):
    """The scanner resolves relative and ``from package import module`` imports (checked on a fake kiosk/runtime)."""
    runtime = tmp_path / "kiosk" / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "loop.py").write_text(source, encoding="utf-8")
    assert bool(_violations("kiosk/runtime", FORBIDDEN["kiosk/runtime"], root=tmp_path)) is caught


def test_only_ui_qt_imports_qt():
    bad = []
    for path in sorted((ROOT / "ui").rglob("*.py")):
        if path.name == "qt.py":
            continue
        bad += [f"{path.relative_to(ROOT)}:{ln} imports {n}" for ln, n in _imports(path) if _banned(n, QT)]
    assert bad == []


def _loaded_after_importing(packages: tuple[str, ...]) -> set[str]:
    """The modules a fresh interpreter has loaded after importing every module of ``packages``."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"for pkg in {packages!r}:\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        if not info.name.endswith('__main__'):  # running a package is not importing it\n"
        "            importlib.import_module(info.name)\n"
        "print(','.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.strip().split(","))


def test_loading_every_core_module_loads_no_qt():
    loaded = _loaded_after_importing(("kiosk", "drivers", "hardware_sim", "sync", "common"))
    assert sorted(m for m in loaded if _banned(m, ("PySide6", "shiboken6", "ui"))) == []


def test_loading_the_central_loads_no_kiosk():
    loaded = _loaded_after_importing(("sync.central",))
    assert sorted(m for m in loaded if _banned(m, ("kiosk", "ui", "drivers", "hardware_sim"))) == []


def test_loading_the_runtime_loads_no_role_package():
    loaded = _loaded_after_importing(("kiosk.runtime",))
    assert sorted(m for m in loaded if _banned(m, ROLE_PACKAGES)) == []
