"""Issue 10 (6): one terminal's seq gaps cost O(changes), its push answer is bounded, and a terminal
pushing too often gets 429 with Retry-After while the others carry on (both backends)."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from kiosk.store import Store
from sync import apply
from sync.central.app import create_app
from sync.central.events import MAX_REPLY_GAPS
from sync.central.ratelimit import PushLimiter
from sync.central.server import CentralServer
from sync.central.sync_api.schema import seq_gaps, terminals
from sync.client import SyncClient, SyncSettings
from sync.client_types import RateLimited
from sync.protocol import EventEnvelope
from tests.central_fixtures import event, push_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def env(terminal_id: str, seq: int) -> EventEnvelope:
    return EventEnvelope(id=uuid.uuid4(), terminal_id=terminal_id, seq=seq, type="t.x", occurred_at=T0,
                         payload={"n": seq})


def runs(seqs: set[int], highest: int) -> list[tuple[int, int]]:
    """The missing runs below ``highest``, computed from scratch."""
    out: list[tuple[int, int]] = []
    start = None
    for s in range(1, highest + 1):
        if s not in seqs and start is None:
            start = s
        elif s in seqs and start is not None:
            out.append((start, s - 1))
            start = None
    return out


def stored_gaps(store, terminal_id: str) -> tuple[list[tuple[int, int]], int, int]:
    with store.engine.connect() as conn:
        rows = [(int(r.first), int(r.last)) for r in conn.execute(
            select(seq_gaps.c.first, seq_gaps.c.last).where(seq_gaps.c.terminal_id == terminal_id)
            .order_by(seq_gaps.c.first))]
        counts = conn.execute(select(terminals.c.gap_runs, terminals.c.gap_missing)
                              .where(terminals.c.terminal_id == terminal_id)).one()
    return rows, int(counts.gap_runs), int(counts.gap_missing)


def test_the_push_answer_carries_at_most_100_gaps_and_the_count(central):
    store = central.store
    store.enrol("hall", "site-a", "hall-01")
    store.push("hall-01", [env("hall-01", s) for s in range(2, 2 * 300 + 1, 2)])  # 300 gaps: 1, 3, ..., 599
    r = store.push("hall-01", []).response
    assert r.gap_count == 300 and len(r.gaps) == MAX_REPLY_GAPS
    assert [(g.first, g.last) for g in r.gaps[:3]] == [(1, 1), (3, 3), (5, 5)]  # the lowest first
    r = store.push("hall-01", [env("hall-01", s) for s in (1, 3, 599)]).response
    assert r.gap_count == 297 and r.gaps[0].first == 5
    assert [s.missing for s in store.terminal_states()] == [297]


def test_a_push_writes_only_the_gap_rows_it_changes(central):
    store = central.store
    store.enrol("hall", "site-a", "hall-01")
    for start in range(2, 2 * 3000 + 1, 1000):
        store.push("hall-01", [env("hall-01", s) for s in range(start, min(start + 1000, 6001), 2)])
    statements: list[tuple[str, int]] = []

    def note(_conn, _cursor, statement, parameters, _context, executemany):
        if "seq_gaps" in statement and not statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement.split()[0].upper(), len(parameters) if executemany else 1))

    sa_event.listen(store.engine, "before_cursor_execute", note)
    try:
        r = store.push("hall-01", [env("hall-01", 6002), env("hall-01", 7)]).response  # a new gap, one filled
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", note)
    assert r.gap_count == 3000 and len(r.gaps) == MAX_REPLY_GAPS
    assert sorted(statements) == [("DELETE", 1), ("INSERT", 1)]  # gap 7 removed, gap 6001 added: 2 rows
    assert len(r.model_dump_json()) < 10_000


def test_incremental_gaps_match_a_recomputation_under_random_pushes(central):
    store = central.store
    store.enrol("hall", "site-a", "hall-01")
    rng = random.Random(10)
    seqs: set[int] = set()
    for _ in range(60):
        batch = sorted({rng.randint(1, 400) for _ in range(rng.randint(0, 25))} - seqs)
        if rng.random() < 0.2:
            batch.append(max(seqs | {0}) + rng.randint(1, 50))  # a jump above the highest
        store.push("hall-01", [env("hall-01", s) for s in batch])
        seqs |= set(batch)
        highest = max(seqs | {0})
        rows, gap_runs, missing = stored_gaps(store, "hall-01")
        assert rows == runs(seqs, highest)
        assert (gap_runs, missing) == (len(rows), highest - len(seqs))


@pytest.mark.unit
def test_the_push_limiter_allows_a_burst_then_the_rate():
    now = [100.0]
    limiter = PushLimiter(rate_per_s=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # another terminal has its own bucket
    now[0] += 0.5
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0


def test_a_terminal_pushing_too_often_gets_429_and_the_others_do_not(central):
    token_a, token_b = central.enrol("hall-a"), central.enrol("hall-b")
    app = create_app(central.store, admin_token=central.admin_token,
                     push_limiter=PushLimiter(rate_per_s=0.01, burst=3))
    with CentralServer(app) as server:
        headers = {"X-Linfen-Protocol": "1"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=20) as c:
            auth_a, auth_b = {"Authorization": f"Bearer {token_a}"}, {"Authorization": f"Bearer {token_b}"}
            codes = [c.post("/v1/events/push", json=push_body("hall-a", [event("hall-a", s)]), headers=auth_a)
                     for s in range(1, 5)]
            other = c.post("/v1/events/push", json=push_body("hall-b", [event("hall-b", 1)]), headers=auth_b)
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[3].json()["reason"] == "rate_limited" and int(codes[3].headers["retry-after"]) >= 1
    assert other.status_code == 200
    assert central.store.stored_seqs("hall-a") == [1, 2, 3]


def test_the_sync_client_waits_as_long_as_retry_after_says(tmp_path):
    store = Store.open(tmp_path / "t.db", "hall-01", extra_migrations=[apply.MIGRATIONS])
    with store.action() as act:
        act.emit("test.sale", {"i": 1})

    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"reason": "rate_limited", "detail": "slow down"},
                              headers={"Retry-After": "7"})

    client = SyncClient(store, "http://central.invalid", "t.x", transport=httpx.MockTransport(answer),
                        settings=SyncSettings(backoff_base_s=0.01, backoff_cap_s=0.02))
    with pytest.raises(RateLimited):
        client.sync_once()
    assert client._cycle_guarded() >= 7.0
    assert client.status().state == "offline" and "429" in client.status().last_error
    client.stop()


def test_a_limiter_over_client_chosen_keys_stays_bounded_and_forgets_only_refilled_buckets():
    """``max_keys``: a flood of new keys cannot grow the table; keys still limited are kept."""
    now = [0.0]
    limiter = PushLimiter(rate_per_s=1.0, burst=2, clock=lambda: now[0], max_keys=3)
    for key in ("a", "b", "c"):
        assert limiter.take(key) == 0.0
    assert limiter.take("d") > 0  # the table is full of buckets that are not yet refilled: refused
    now[0] = 1.0  # a, b and c are full again (1 token + 1 s at 1/s = burst 2): forgotten, d gets in
    assert limiter.take("d") == 0.0 and len(limiter._buckets) == 1
    assert [limiter.take("d") for _ in range(2)][-1] > 0  # d is limited as before
