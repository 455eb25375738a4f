"""Issue 10 (12): ``/health`` tells a full disk, ``/metrics`` names no terminal or site without the admin
token, and look-alike site names are one site or refused."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from sync.central.app import create_app
from sync.central.errors import CentralError
from sync.central.reference import RowChange
from sync.central.server import CentralServer
from sync.central.storage import CentralStore
from tests.central_fixtures import event, push_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_health_is_503_disk_full_when_free_space_is_under_the_threshold(central):
    with central.client() as c:
        assert c.get("/health").json()["disk"] in ("ok", "not local")
        if central.store.data_dir is None:
            pytest.skip("PostgreSQL: the disk is the database server's")
        central.app.state.min_free_bytes = 10**18
        r = c.get("/health")
    assert r.status_code == 503 and r.json()["reason"] == "disk_full" and "bytes free" in r.json()["detail"]


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A 4 MiB tmpfs (needs root and mount rights; skipped otherwise)."""
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
        try:
            os.fsync(f.fileno())
        except OSError:
            pass


def test_health_says_disk_full_on_a_really_full_disk_even_with_no_threshold(small_disk):
    store = CentralStore.open(str(small_disk / "central.db"))
    app = create_app(store)
    try:
        with CentralServer(app) as server, httpx.Client(base_url=server.url, timeout=20) as c:
            app.state.min_free_bytes = 0  # only the write probe can tell
            assert c.get("/health").status_code == 200
            fill(small_disk / "filler")
            r = c.get("/health")
            assert r.status_code == 503 and r.json()["reason"] == "disk_full"
            assert "cannot write next to the database" in r.json()["detail"]
            (small_disk / "filler").unlink()
            assert c.get("/health").status_code == 200
    finally:
        store.close()


def test_metrics_without_the_admin_token_name_no_terminal_or_site(central):
    token = central.enrol("hall-secret-01", site="site-hidden")
    central.enrol("hall-secret-02", site="site-hidden")
    with central.client(token) as c:
        c.post("/v1/events/push", json=push_body("hall-secret-01", [event("hall-secret-01", s) for s in (1, 4)]))
        c.post("/v1/heartbeat", json={"terminal_id": "hall-secret-01", "at": "2025-03-01T08:00:00+08:00",
                                      "outbox_pending": 5})
        as_terminal = c.get("/metrics").text
    with central.client() as c:
        anonymous = c.get("/metrics").text
        wrong = c.get("/metrics", headers={"Authorization": "Bearer not-the-admin-token-at-all"}).text
        admin = c.get("/metrics", headers={"Authorization": f"Bearer {central.admin_token}"}).text
    for text in (as_terminal, anonymous, wrong):
        assert "hall-secret" not in text and "site-hidden" not in text
        assert "linfen_central_missing_seqs 2" in text and "linfen_central_outbox_pending 5" in text
        assert "linfen_central_terminals_with_gaps 1" in text
    assert 'linfen_central_terminal_missing_seqs{terminal="hall-secret-01",site="site-hidden"} 2' in admin
    assert 'linfen_central_terminal_outbox_pending{terminal="hall-secret-01",site="site-hidden"} 5' in admin


def test_site_names_are_nfkc_normalised_and_look_alikes_refused(central):
    store = central.store
    assert store.enrol("hall", "s1", "hall-a").site == "s1"
    assert store.enrol("hall", "s\uff11", "hall-b").site == "s1"  # fullwidth digit one: the same site
    with pytest.raises(CentralError, match="looks like the existing site 's1'"):
        store.enrol("hall", "S1", "hall-c")
    with pytest.raises(CentralError, match="looks like"):
        store.apply_reference("\uff33\uff11", "card", [RowChange("C1", "upsert", {"card_no": "C1", "status": "x"})])
    store.apply_reference("\uff53\uff11", "card", [RowChange("C1", "upsert", {"card_no": "C1", "status": "x"})])
    assert json.loads(store.changes_json("s1", 0, 10))["changes"][0]["key"] == "C1"
    assert {t.site for t in (store.terminal("hall-a"), store.terminal("hall-b"))} == {"s1"}
    assert store.terminal("hall-c") is None


def test_admin_enrol_of_a_look_alike_site_is_a_422(central):
    central.enrol("hall-a", site="linfen-road")
    with central.client() as c:
        r = c.post("/v1/admin/enrol", json={"terminal_id": f"x-{uuid.uuid4().hex[:6]}", "role": "hall",
                                            "site": "Linfen-Road"},
                   headers={"Authorization": f"Bearer {central.admin_token}"})
    assert r.status_code == 422 and r.json()["reason"] == "site_lookalike"
