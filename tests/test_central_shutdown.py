"""``linfen central`` stopped with SIGTERM under load (both backends, one and two workers).

Terminals push batches as fast as they can; SIGTERM arrives mid-load.  The central must exit
with status 0 after letting requests in flight finish, and every event it acknowledged must be
in the database; a batch is all or nothing (one transaction), so each terminal's stored seqs
are a whole number of batches, from 1 without a hole.
"""

from __future__ import annotations

import json
import signal
import threading

import httpx
import pytest

from sync.central.storage import CentralStore
from tests.central_fixtures import central_process, event, push_body, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TERMINALS = 3
BATCH = 200
ACKS_BEFORE_SIGTERM = 1500  # events acknowledged before the signal is sent
MAX_BATCHES = 200  # per terminal: the load stops by itself even if the signal never lands


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_loses_no_acknowledged_event(central_db_url, workers, tmp_path):
    store = CentralStore.open(central_db_url)
    tokens = {f"hall-{i}": store.enrol("hall", "site-a", f"hall-{i}").token for i in range(TERMINALS)}
    log = tmp_path / "central.log"
    proc, url = central_process(central_db_url, log, "--workers", str(workers))
    acked: dict[str, set[str]] = {t: set() for t in tokens}
    lock = threading.Lock()
    enough = threading.Event()

    def pump(terminal_id: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[terminal_id]}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for b in range(MAX_BATCHES):
                batch = [event(terminal_id, b * BATCH + i + 1) for i in range(BATCH)]
                try:
                    r = client.post("/v1/events/push", json=push_body(terminal_id, batch))
                except httpx.TransportError:
                    return  # the central is going away: this batch was not acknowledged
                if r.status_code != 200:
                    return
                with lock:
                    acked[terminal_id].update(a["id"] for a in r.json()["acks"] if a["status"] == "stored")
                    if sum(map(len, acked.values())) >= ACKS_BEFORE_SIGTERM:
                        enough.set()

    try:
        wait_ready(url, workers)
        threads = [threading.Thread(target=pump, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        assert enough.wait(60), "the load never reached the central"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        for t in threads:
            t.join(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    text = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, text[-2000:]
    logs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(entry.get("event") == "stopped" for entry in logs), text[-2000:]
    assert not any("color_message" in entry for entry in logs)  # uvicorn's coloured copy is not logged
    try:
        for terminal_id, ids in acked.items():
            assert ids, terminal_id
            assert store.stored_ids(ids) == ids
            seqs = store.stored_seqs(terminal_id)
            assert seqs == list(range(1, len(seqs) + 1))
            assert len(seqs) % BATCH == 0
    finally:
        store.close()
