"""Issue 10, finding 12 (terminal part): the store's folders are 0700 and its files 0600 whatever the umask.

Before, they took the umask: a terminal started with umask 022 left its database, WAL and
shared-memory files readable by every local user (0644).  Each case runs in a child process
with the umask it names, so the test process keeps its own.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, os, stat, sys
os.umask(int(sys.argv[2], 8))
from kiosk.store import Store
path = sys.argv[1]
with Store.open(path, "hall-01") as store:
    with store.action() as act:
        act.emit("test.event", {"n": 1})
    names = [path, path + "-wal", path + "-shm", path + "-migrate.lock"]
    modes = {os.path.basename(n): stat.S_IMODE(os.stat(n).st_mode) for n in names if os.path.exists(n)}
    folder = os.path.dirname(path)
    modes["folders"] = [stat.S_IMODE(os.stat(d).st_mode) for d in (folder, os.path.dirname(folder))]
print(json.dumps(modes))
"""


def _open_with_umask(path: Path, umask: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), umask], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("umask", ["000", "022", "002"])
def test_a_new_store_is_private_whatever_the_umask(tmp_path: Path, umask: str):
    path = tmp_path / "a" / "b" / "terminal.db"
    modes = _open_with_umask(path, umask)
    assert modes["folders"] == [0o700, 0o700], "the folders the store made"
    files = {k: v for k, v in modes.items() if k != "folders"}
    assert {"terminal.db", "terminal.db-wal", "terminal.db-shm", "terminal.db-migrate.lock"} <= set(files)
    assert all(mode == 0o600 for mode in files.values()), {k: oct(v) for k, v in files.items()}  # type: ignore[arg-type]


def test_an_existing_world_readable_store_is_made_private_on_open(tmp_path: Path):
    tmp_path.chmod(0o755)
    path = tmp_path / "terminal.db"
    _open_with_umask(path, "077")
    for name in ("terminal.db", "terminal.db-wal", "terminal.db-shm"):
        if (tmp_path / name).exists():
            (tmp_path / name).chmod(0o644)
    modes = _open_with_umask(path, "022")
    assert modes["terminal.db"] == 0o600 and modes["terminal.db-wal"] == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755, "a folder the store did not make is left alone"
