"""Sync figures (issue 5): central ingest, a terminal's catch-up, an initial reference pull.

* ``ingest_events_per_s`` - events stored per second by one central worker on SQLite, pushed in
  batches of 500 by several terminals at once (target >= 5,000);
* ``catchup_10000_s`` - a terminal's sync client pushing 10,000 queued events once the central
  answers (target <= 10); ``catchup_10000_unattended_s`` is the same with the client's own thread
  noticing the central's return (backoff cap 2 s) instead of being called;
* ``initial_pull_s`` - a new terminal pulling 12,000 cards + an 83,000-person priority register,
  loaded into the central with its importer (target <= 15);
* ``gaps_other_push_median_ms`` - issue 10 (6): one terminal holding 80,000 seq gaps keeps pushing
  alternate seqs while another terminal pushes single events; the other terminal's median push
  time, with ``gaps_flooder_reply_bytes`` the size of the flooder's push answer (``--gaps`` runs
  only this);
* ``ingest_pg_events_per_s_1_worker`` / ``_2_workers`` - the ingest figure on PostgreSQL with one
  and two uvicorn worker processes (the Debian cluster is started if down, and stopped again only
  if this run started it; the bench's database is dropped at the end).

The central runs as its own process (``sync.central.server.serve``, as ``linfen central`` does).
``--quick`` pushes fewer events; ``--skip-pg`` leaves PostgreSQL out.  The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.pg import pg_database
from kiosk.store import Store
from sync import apply
from sync.central.importer import import_file
from sync.central.storage import CentralStore
from sync.client import SyncClient, SyncSettings
from sync.protocol import MAX_BATCH
from tests.sync_fixtures import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
SITE = "bench-site"
PUSHERS = 4  # terminals pushing at once in the ingest runs
CENTRAL = (
    "import sys\n"
    "from sync.central.server import ServeOptions, serve\n"
    "serve(ServeOptions(db=sys.argv[1], port=int(sys.argv[2]), workers=int(sys.argv[3]), log_level='warning'),\n"
    "      announce=lambda line: print(line, flush=True))\n"
)


class CentralProcess:
    """``serve()`` in a child process; stopped with SIGTERM (a clean shutdown)."""

    def __init__(self, db: str, workers: int = 1, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-c", CENTRAL, db, str(self.port), str(workers)],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        wait_until(lambda: self.proc.poll() is not None or _healthy(self.url), 60, what="central start")
        if self.proc.poll() is not None:
            raise RuntimeError(f"the central ({workers} worker(s)) exited with status {self.proc.returncode}")

    def stop(self) -> None:
        """SIGTERM and reap (SIGKILL after 30 s)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _bodies(terminal_id: str, events: int) -> list[bytes]:
    """Push bodies of one terminal: ``events`` events in batches of MAX_BATCH, seq from 1."""
    now = datetime.now(UTC).isoformat()
    out = []
    for start in range(0, events, MAX_BATCH):
        batch = [
            {"id": str(uuid.uuid4()), "terminal_id": terminal_id, "seq": seq, "type": "canteen.sale",
             "occurred_at": now, "payload": {"card": f"C{seq:06d}", "amount_fen": 1200 + seq % 700, "item": "午餐"},
             "schema": 1}
            for seq in range(start + 1, min(events, start + MAX_BATCH) + 1)
        ]
        out.append(json.dumps({"terminal_id": terminal_id, "events": batch}, ensure_ascii=False).encode())
    return out


def ingest(db: str, events: int, workers: int) -> float:
    """Events per second stored by a central over ``db`` with ``workers`` processes."""
    store = CentralStore.open(db)
    tag = uuid.uuid4().hex[:6]
    tokens = {f"bench-{tag}-{i}": store.enrol("canteen", SITE, f"bench-{tag}-{i}").token for i in range(PUSHERS)}
    per = events // PUSHERS
    bodies = {tid: _bodies(tid, per) for tid in tokens}
    central = CentralProcess(db, workers)
    failures: list[str] = []

    def push(tid: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[tid]}", "X-Linfen-Protocol": "1",
                   "Content-Type": "application/json"}
        with httpx.Client(base_url=central.url, headers=headers, timeout=httpx.Timeout(60.0, connect=5.0)) as http:
            for body in bodies[tid]:
                answer = http.post("/v1/events/push", content=body)
                if answer.status_code != 200 or any(a["status"] != "stored" for a in answer.json()["acks"]):
                    failures.append(f"{tid}: {answer.status_code} {answer.text[:200]}")
                    return

    try:
        httpx.get(central.url + "/health", timeout=10)
        threads = [threading.Thread(target=push, args=(tid,)) for tid in tokens]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        elapsed = time.perf_counter() - started
    finally:
        central.stop()
    stored = sum(store.event_count(tid) for tid in tokens)
    store.close()
    if failures or stored != per * PUSHERS:
        raise SystemExit(f"ingest failed: stored {stored} of {per * PUSHERS}; {failures[:3]}")
    return stored / elapsed


def _terminal(tmp: Path, central_db: str, terminal_id: str, events: int) -> tuple[Store, str]:
    store = Store.open(tmp / f"{terminal_id}.db", terminal_id, extra_migrations=[apply.MIGRATIONS])
    for start in range(0, events, 250):
        with store.action() as act:
            for i in range(start, min(events, start + 250)):
                act.emit("canteen.sale", {"card": f"C{i:06d}", "amount_fen": 1200 + i % 700, "item": "午餐"})
    cs = CentralStore.open(central_db)
    token = cs.enrol("canteen", SITE, terminal_id).token
    cs.close()
    return store, token


def catchup(tmp: Path) -> tuple[float, float]:
    """(seconds to push 10,000 queued events when called, seconds when left to the client's thread)."""
    db = str(tmp / "catchup.db")
    store, token = _terminal(tmp, db, "catchup-called", 10_000)
    central = CentralProcess(db)
    try:
        client = SyncClient(store, central.url, token)
        started = time.perf_counter()
        client.sync_once(pull=False, heartbeat=False)
        called = time.perf_counter() - started
        client.stop()
        assert apply.queue_length(store) == 0
    finally:
        central.stop()
    store.close()

    store, token = _terminal(tmp, db, "catchup-alone", 10_000)
    port = free_port()
    client = SyncClient(store, f"http://127.0.0.1:{port}", token,
                        settings=SyncSettings(backoff_base_s=0.5, backoff_cap_s=2.0, connect_timeout_s=1.0))
    client.start()
    try:
        wait_until(lambda: client.status().state == "offline", 30, what="offline")
        central = CentralProcess(db, port=port)
        back = time.perf_counter()
        wait_until(lambda: client.status().queue_length == 0, 120, step_s=0.01, what="caught up")
        alone = time.perf_counter() - back
        central.stop()
    finally:
        client.stop()
    store.close()
    return called, alone


def initial_pull(tmp: Path) -> tuple[float, int]:
    """(seconds, changes) for a new terminal to pull 12,000 cards + 83,000 register entries."""
    db = str(tmp / "pull.db")
    cards = [{"card_no": f"C{i:06d}", "status": "active" if i % 50 else "blocked", "offline_limit_fen": 5000,
              "holder": "张*明"} for i in range(12_000)]
    register = [{"h": hashlib.sha256(f"person-{i}".encode()).hexdigest(),
                 "groups": ["veteran"] if i % 3 else ["special_care", "disabled"]} for i in range(83_000)]
    (tmp / "cards.json").write_text(json.dumps(cards, ensure_ascii=False), encoding="utf-8")
    (tmp / "register.json").write_text(json.dumps({"entries": register}), encoding="utf-8")
    cs = CentralStore.open(db)
    t0 = time.perf_counter()
    for kind, name in (("card", "cards.json"), ("priority_register", "register.json")):
        report = import_file(cs, kind, tmp / name, SITE)
        assert not report.rejected, report.summary()
    print(f"  imported 95,000 reference rows into the central in {time.perf_counter() - t0:.1f} s", flush=True)
    token = cs.enrol("hall", SITE, "pull-01").token
    cs.close()
    store = Store.open(tmp / "pull-01.db", "pull-01", extra_migrations=[apply.MIGRATIONS])
    central = CentralProcess(db)
    try:
        client = SyncClient(store, central.url, token)
        started = time.perf_counter()
        applied = client.pull_changes()
        elapsed = time.perf_counter() - started
        client.stop()
    finally:
        central.stop()
    held = apply.reference_count(store)
    store.close()
    if held != 95_000:
        raise SystemExit(f"initial pull holds {held} rows, not 95,000")
    return elapsed, applied


def _envelope(terminal_id: str, seq: int) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "terminal_id": terminal_id, "seq": seq, "type": "canteen.sale",
            "occurred_at": datetime.now(UTC).isoformat(), "payload": {"amount_fen": 1200}, "schema": 1}


def gap_flood(tmp: Path, gaps: int = 80_000, pushes: int = 40) -> dict[str, float]:
    """Another terminal's push time while a terminal with ``gaps`` seq gaps pushes alternate seqs."""
    from sqlalchemy import insert, update

    from sync.central.db import write_transaction
    from sync.central.sync_api.schema import seq_gaps, terminals

    db = str(tmp / "gaps.db")
    cs = CentralStore.open(db)
    tokens = {tid: cs.enrol("canteen", SITE, tid).token for tid in ("flooder", "other")}
    with write_transaction(cs.engine) as conn:  # the state after pushing seqs 2, 4, ..., 2 * gaps
        conn.execute(update(terminals).where(terminals.c.terminal_id == "flooder").values(highest_seq=2 * gaps))
        conn.execute(insert(seq_gaps), [{"terminal_id": "flooder", "first": s, "last": s}
                                        for s in range(1, 2 * gaps, 2)])
    cs.close()
    central = CentralProcess(db)
    stop = threading.Event()
    reply_bytes: list[int] = []
    statuses: dict[int, int] = {}

    def client(tid: str) -> httpx.Client:
        return httpx.Client(base_url=central.url, timeout=httpx.Timeout(60.0, connect=5.0), headers={
            "Authorization": f"Bearer {tokens[tid]}", "X-Linfen-Protocol": "1"})

    def flood() -> None:
        seq = 2 * gaps
        with client("flooder") as http:
            while not stop.is_set():
                seq += 2
                answer = http.post("/v1/events/push", json={"terminal_id": "flooder",
                                                            "events": [_envelope("flooder", seq)]})
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                if answer.status_code == 200:
                    reply_bytes.append(len(answer.content))
                elif answer.status_code == 429:
                    stop.wait(float(answer.headers.get("retry-after", "1")))

    times: list[float] = []
    flooder = threading.Thread(target=flood, daemon=True)
    try:
        flooder.start()
        wait_until(lambda: bool(statuses), 60, what="the flooder's first push")
        with client("other") as http:
            for seq in range(1, pushes + 1):
                started = time.perf_counter()
                answer = http.post("/v1/events/push", json={"terminal_id": "other", "events": [_envelope("other", seq)]})
                times.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(f"the other terminal's push failed: {answer.status_code} {answer.text[:200]}")
    finally:
        stop.set()
        flooder.join(120)
        central.stop()
    times.sort()
    return {"gaps_other_push_median_ms": round(times[len(times) // 2] * 1000, 1),
            "gaps_other_push_max_ms": round(times[-1] * 1000, 1),
            "gaps_flooder_reply_bytes": max(reply_bytes, default=0),
            "gaps_flooder_pushes_ok": statuses.get(200, 0), "gaps_flooder_pushes_429": statuses.get(429, 0)}


def pg_ingest(events: int) -> dict[str, float]:
    """The ingest figure on PostgreSQL with 1 and 2 workers (database made and dropped here)."""
    figures = {}
    with pg_database("sync") as url:
        if url is None:
            return {}
        for workers, key in ((1, "ingest_pg_events_per_s_1_worker"), (2, "ingest_pg_events_per_s_2_workers")):
            figures[key] = round(ingest(url, events, workers))
            print(f"  PostgreSQL, {workers} worker(s): {figures[key]} events/s", flush=True)
    return figures


def main() -> int:
    """Run every measurement and print the figures; the last line is JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20,000 events per ingest run instead of 100,000")
    ap.add_argument("--skip-pg", action="store_true", help="leave the PostgreSQL runs out")
    ap.add_argument("--gaps", action="store_true", help="run only the 80,000-gap flood (issue 10)")
    args = ap.parse_args()
    if args.gaps:
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmpdir:
            figures = gap_flood(Path(tmpdir))
        print(f"another terminal's push while one with 80,000 gaps pushes alternate seqs: median "
              f"{figures['gaps_other_push_median_ms']} ms; the flooder's reply {figures['gaps_flooder_reply_bytes']} "
              "bytes", flush=True)
        print(json.dumps(figures, sort_keys=True))
        return 0
    events = 20_000 if args.quick else 100_000
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmpdir:
        tmp = Path(tmpdir)
        rate = ingest(str(tmp / "ingest.db"), events, 1)
        figures["ingest_events_per_s"] = round(rate)
        print(f"ingest, SQLite, 1 worker, {PUSHERS} terminals x {events // PUSHERS} events: {rate:.0f} events/s "
              "(target >= 5000)", flush=True)
        called, alone = catchup(tmp)
        figures["catchup_10000_s"] = round(called, 2)
        figures["catchup_10000_unattended_s"] = round(alone, 2)
        print(f"catch-up of 10,000 queued events: {called:.2f} s pushing (target <= 10), {alone:.2f} s from the "
              "central's return when left to the client's thread (backoff cap 2 s)", flush=True)
        pulled, changes = initial_pull(tmp)
        figures["initial_pull_s"] = round(pulled, 2)
        print(f"initial pull of 12,000 cards + 83,000 register entries ({changes} changes): {pulled:.2f} s "
              "(target <= 15)", flush=True)
        figures.update(gap_flood(tmp))
        print(f"another terminal's push beside an 80,000-gap flood: median {figures['gaps_other_push_median_ms']} ms",
              flush=True)
        if not args.skip_pg:
            figures.update(pg_ingest(events))
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
