"""Time Bank figures (issue 13): statement and report pages at the sub-district's scale, and check-ins per second.

For each backend (SQLite, then PostgreSQL when the machine has it):

1. A central database gets :mod:`bench.timebank_history`: 13,000 members, 195,000 hours of
   approved history (~97,500 shifts, ~98,000 coin entries), 4,000 activities, redemptions.
2. ``linfen central`` runs as its own process on loopback.  A volunteer's **statement page**
   (``/tb/me/statement``, signed in with a session cookie, a random active member each time) and a
   committee worker's **report page** (``/tb/reports``) are fetched over HTTP; p50/p95 of the
   whole request as the client sees it.  Target: statement p95 <= 200 ms.
3. **Check-ins per second**: a hall terminal pushes ``volunteer.check_in`` events for members
   (batches of 100, as its sync client would), then the matching ``volunteer.check_out`` events
   co-signed by a resident; the central's consumer makes each shift and posts its coins in the
   push's transaction.  The figure is check-ins (and, separately, co-signed check-outs) stored
   per second of push time.

``--quick`` uses 2,000 members and 30,000 hours and fewer requests.  The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert, select

from bench.pg import pg_database
from bench.timebank_history import QUICK, HistorySize, active_members, generate
from sync.central.db import read_transaction, write_transaction
from sync.central.storage import CentralStore
from sync.central.timebank.ledger_check import check_ledger
from sync.central.timebank.policy import DEFAULT_POLICY_FILE, import_policy
from sync.central.timebank.schema import tb_staff, tb_volunteers
from sync.central.timebank.web_auth import session_cookie
from tests.central_fixtures import central_process

SITE = "hall-1"
BATCH = 100


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank, rounded to 0.1."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))], 1)


def prepare(db: str, size: HistorySize) -> tuple[list[int], int, str]:
    """Fill ``db``; returns active member ids, a committee worker's id and a hall terminal's token."""
    store = CentralStore.open(db)
    try:
        started = time.perf_counter()
        with write_transaction(store.engine) as conn:
            made = generate(conn, size)
            import_policy(conn, json.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8")), "bench")
            staff_id = conn.execute(insert(tb_staff).values(
                login="bench-committee", display_name="居委 工作人员", role="committee", community=None,
                password_hash="x", active=1, created_at="2026-12-01T00:00:00+00:00", created_by="bench")
                .returning(tb_staff.c.id)).scalar_one()
        with write_transaction(store.engine) as conn:
            conn.exec_driver_sql("ANALYZE")  # fresh planner statistics, as autovacuum would have after such a load
        print(f"  history: {made['members']:,} members, {made['shifts']:,} shifts, {made['hours']:,} hours, "
              f"{made['movements']:,} movements in {time.perf_counter() - started:.1f} s", flush=True)
        with read_transaction(store.engine) as conn:
            members = list(active_members(conn))
        token = store.enrol("hall", SITE, "bench-hall").token
        return members, int(staff_id), token
    finally:
        store.close()


def page_times(url: str, cookies: list[tuple[str, str]], path: str) -> list[float]:
    """Milliseconds to fetch ``path`` once per cookie (each a fresh signed-in client)."""
    times = []
    with httpx.Client(base_url=url, timeout=30.0) as http:
        http.get("/health")
        for name, value in cookies:
            http.cookies.clear()
            http.cookies.set(name, value)
            started = time.perf_counter()
            answer = http.get(path)
            times.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return times


def _event(terminal_id: str, seq: int, kind: str, payload: dict, at: dt.datetime) -> dict:
    return {"id": str(uuid.uuid4()), "terminal_id": terminal_id, "seq": seq, "type": kind,
            "occurred_at": at.isoformat(), "payload": payload, "schema": 1}


def checkins(url: str, token: str, db: str, count: int) -> dict[str, float]:
    """Push ``count`` check-ins, then their co-signed check-outs; per-second figures of each."""
    store = CentralStore.open(db)
    try:
        with read_transaction(store.engine) as conn:
            people = [(r.id, r.person_key, r.name_masked) for r in conn.execute(
                select(tb_volunteers.c.id, tb_volunteers.c.person_key, tb_volunteers.c.name_masked)
                .order_by(tb_volunteers.c.id).limit(count))]
    finally:
        store.close()
    rng = random.Random(13)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)
    seq = 0
    figures: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {token}", "X-Linfen-Protocol": "1"}
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as http:
        for kind in ("volunteer.check_in", "volunteer.check_out"):
            events = []
            for _, key, name in people:
                seq += 1
                payload = {"person_key": key, "name_masked": name, "via": "id_card"}
                at = start
                if kind == "volunteer.check_out":
                    at = start + dt.timedelta(minutes=rng.choice((60, 90, 110)))
                    payload |= {"check_in_event": None,
                                "cosigner": {"kind": "person", "key": f"{rng.getrandbits(256):064x}", "via": "id_card"}}
                events.append(_event("bench-hall", seq, kind, payload, at))
            started = time.perf_counter()
            for i in range(0, len(events), BATCH):
                answer = http.post("/v1/events/push", json={"terminal_id": "bench-hall", "events": events[i:i + BATCH]})
                if answer.status_code != 200 or any(a["status"] != "stored" for a in answer.json()["acks"]):
                    raise SystemExit(f"push: {answer.status_code} {answer.text[:300]}")
            figures[kind] = len(events) / (time.perf_counter() - started)
    return {"checkins_per_s": round(figures["volunteer.check_in"], 1),
            "checkouts_per_s": round(figures["volunteer.check_out"], 1)}


def run_backend(db: str, name: str, size: HistorySize, requests: int, work: Path, key_file: Path) -> dict[str, float]:
    """Every figure on one backend (``name`` goes into the JSON keys)."""
    print(f"{name}:", flush=True)
    members, staff_id, token = prepare(db, size)
    store = CentralStore.open(db, run_migrations=False)
    try:
        rng = random.Random(7)
        statement_cookies = [session_cookie(store, "volunteer", rng.choice(members)) for _ in range(requests)]
        report_cookies = [session_cookie(store, "staff", staff_id) for _ in range(max(10, requests // 10))]
    finally:
        store.close()
    proc, url = central_process(db, work / f"central-{name}.log", "--person-key-file", str(key_file))
    try:
        statement = page_times(url, statement_cookies, "/tb/me/statement")
        report = page_times(url, report_cookies, "/tb/reports")
        print(f"  statement page: p50 {pct(statement, .5)} ms, p95 {pct(statement, .95)} ms ({len(statement)} "
              f"members); report page: p50 {pct(report, .5)} ms, p95 {pct(report, .95)} ms", flush=True)
        rates = checkins(url, token, db, 1000 if requests >= 300 else 300)
        print(f"  check-ins: {rates['checkins_per_s']}/s; co-signed check-outs with coins posted: "
              f"{rates['checkouts_per_s']}/s", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    store = CentralStore.open(db, run_migrations=False)
    try:
        with read_transaction(store.engine) as conn:
            found = check_ledger(conn)
    finally:
        store.close()
    print(f"  ledger: total {found['total_cc']} cc over {found['accounts']:,} accounts, "
          f"{len(found['mismatched_accounts'])} mismatched", flush=True)
    return {f"statement_page_p50_ms_{name}": round(statistics.median(statement), 1),
            f"statement_page_p95_ms_{name}": pct(statement, .95),
            f"report_page_p95_ms_{name}": pct(report, .95),
            f"checkins_per_s_{name}": rates["checkins_per_s"], f"checkouts_per_s_{name}": rates["checkouts_per_s"],
            f"ledger_total_cc_{name}": found["total_cc"]}


def main() -> int:
    """Run the figures on SQLite and PostgreSQL; the last line is JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 members, 30,000 hours, fewer requests")
    ap.add_argument("--skip-pg", action="store_true", help="leave the PostgreSQL run out")
    args = ap.parse_args()
    size, requests = (QUICK, 100) if args.quick else (HistorySize(), 400)
    figures: dict[str, float] = {"members": size.members, "hours": size.hours}
    with tempfile.TemporaryDirectory(prefix="bench-timebank-") as tmpdir:
        work = Path(tmpdir)
        key_file = work / "person-key.hex"
        key_file.write_text("00" * 32, encoding="ascii")
        figures |= run_backend(str(work / "central.db"), "sqlite", size, requests, work, key_file)
        if not args.skip_pg:
            with pg_database("timebank") as url:
                if url is not None:
                    figures |= run_backend(url, "pg", size, requests, work, key_file)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
