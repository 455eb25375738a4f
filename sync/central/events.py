"""Storing a pushed batch of events exactly once, and tracking each terminal's seq.

One batch is one write transaction, acknowledged only after it commits:

1. lock the terminal's row (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already
   serialises writers), so two pushes of one terminal never interleave their seq bookkeeping;
2. insert every event with ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` as one
   executemany: the database's unique keys (event id; terminal + seq) decide what is new;
3. read back only the events that were not inserted, to tell a ``duplicate`` (same body: the
   original ``stored_at`` is returned) from a ``conflict`` (different body, or a seq already
   used by another event: refused, logged, nothing stored);
4. fold the newly stored seqs into the terminal's highest seq and its gaps, touching only the
   gap rows the new seqs fall in (one indexed lookup per gap touched) and inserting the runs a
   jump above the highest seq opens: work is O(changes), never O(gaps), so a terminal holding
   80,000 gaps cannot make its own pushes (or, through the write lock, anyone's) slow.  The
   terminal's row keeps the number of gap runs and of missing seqs up to date.

The answer carries at most :data:`MAX_REPLY_GAPS` gaps (the lowest first) and ``gap_count``,
the number of gap runs in all.

A body is compared by the SHA-256 of its canonical form (:func:`body_hash`: the envelope's
fields, then the payload as JSON with sorted keys), so the same event re-sent after a lost
answer is a duplicate whatever its JSON spacing or key order; the form must never change, or
stored hashes would stop matching.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from ..protocol import MAX_PAYLOAD_BYTES, EventEnvelope, PushResponse
from .errors import CentralError
from .sync_api.schema import events, seq_gaps, terminals

log = logging.getLogger("linfen.central.events")

Gap = tuple[int, int]
MAX_REPLY_GAPS = 100  # gaps returned in one push answer (the lowest first); gap_count says how many in all


@dataclass(frozen=True)
class PushOutcome:
    """The answer to a push plus counts for the metrics."""

    response: PushResponse
    stored: int
    duplicates: int
    conflicts: int


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_json(event: EventEnvelope) -> str:
    """The event's payload as stored: canonical JSON (sorted keys, compact, UTF-8 kept)."""
    return _CANONICAL.encode(event.payload)


def body_hash(event: EventEnvelope, payload: str | None = None) -> str:
    """SHA-256 (hex) of the event's canonical form: every envelope field, then the canonical payload.

    ``payload`` is :func:`payload_json` of the event when the caller already has it.
    """
    head = f"{event.id}\n{event.terminal_id}\n{event.seq}\n{event.type}\n{event.occurred_at.isoformat()}\n{event.schema_}\n"
    text = head + (payload if payload is not None else payload_json(event))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def merge_seqs(highest: int, gaps: Sequence[Gap], stored: Sequence[int]) -> tuple[int, list[Gap]]:
    """Fold newly stored seqs (sorted, unique) into ``highest`` and ``gaps``; returns the new pair.

    A seq at or below ``highest`` fills (part of) a gap; seqs above it raise ``highest`` and
    open a gap for every run they skip.  Work is proportional to gaps + seqs, never to the
    size of a gap, so a terminal that jumps a million numbers costs one gap row.
    """
    split = bisect.bisect_right(stored, highest)
    below, above = stored[:split], stored[split:]
    result: list[Gap] = []
    for first, last in gaps:
        lo = bisect.bisect_left(below, first)
        hi = bisect.bisect_right(below, last)
        start = first
        for seq in below[lo:hi]:
            if seq > start:
                result.append((start, seq - 1))
            start = seq + 1
        if start <= last:
            result.append((start, last))
    prev = highest
    for seq in above:
        if seq > prev + 1:
            result.append((prev + 1, seq - 1))
        prev = seq
    return prev, result


def _gap_containing(conn: Connection, terminal_id: str, seq: int) -> Gap | None:
    row = conn.execute(
        select(seq_gaps.c.first, seq_gaps.c.last)
        .where(seq_gaps.c.terminal_id == terminal_id, seq_gaps.c.first <= seq)
        .order_by(seq_gaps.c.first.desc()).limit(1)).first()
    return (int(row.first), int(row.last)) if row is not None and int(row.last) >= seq else None


def update_gaps(conn: Connection, terminal_id: str, highest: int, stored: Sequence[int]) -> tuple[int, int, int]:
    """Fold newly stored seqs (sorted, unique) into the terminal's gap rows, touching only those they hit.

    Returns (new highest seq, change in the number of gap runs, change in the number of missing seqs).
    """
    split = bisect.bisect_right(stored, highest)
    below, above = stored[:split], stored[split:]
    removed: list[int] = []
    added: list[Gap] = []
    filled = 0
    i = 0
    while i < len(below):
        gap = _gap_containing(conn, terminal_id, below[i])
        if gap is None:  # not missing (cannot happen for a seq stored just now): nothing to fill
            i += 1
            continue
        j = bisect.bisect_right(below, gap[1], lo=i)
        removed.append(gap[0])
        added += merge_seqs(gap[1], [gap], below[i:j])[1]
        filled += j - i
        i = j
    new_highest, opened = merge_seqs(highest, [], above)
    added += opened
    if removed:
        conn.execute(delete(seq_gaps).where(seq_gaps.c.terminal_id == terminal_id,
                                            seq_gaps.c.first.in_(removed)))
    if added:
        conn.execute(insert(seq_gaps), [{"terminal_id": terminal_id, "first": a, "last": b} for a, b in added])
    missing = sum(b - a + 1 for a, b in opened) - filled
    return new_highest, len(added) - len(removed), missing


def _insert_ignoring_conflicts(conn: Connection) -> Executable:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(events).on_conflict_do_nothing().returning(events.c.id, events.c.body_hash)


def store_batch(conn: Connection, terminal_id: str, batch: Sequence[EventEnvelope], stored_at: str) -> PushOutcome:
    """Store ``batch`` for ``terminal_id`` inside the caller's write transaction (see module docstring).

    Raises CentralError ``payload_too_large`` (before writing anything) when a payload is over
    :data:`~sync.protocol.MAX_PAYLOAD_BYTES` as JSON.
    """
    strangers = sorted({e.terminal_id for e in batch} - {terminal_id})
    if strangers:
        raise ValueError(f"events of {strangers} in a batch of terminal {terminal_id!r}")
    row = conn.execute(
        select(terminals.c.highest_seq, terminals.c.gap_runs)
        .where(terminals.c.terminal_id == terminal_id).with_for_update()
    ).one()
    highest, gap_runs = int(row.highest_seq), int(row.gap_runs)
    payloads = [payload_json(e) for e in batch]
    for e, p in zip(batch, payloads, strict=True):
        if len(p) > MAX_PAYLOAD_BYTES // 4 and len(p.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            raise CentralError("payload_too_large", f"event {e.id}: payload is {len(p.encode('utf-8'))} bytes as "
                               f"JSON, at most {MAX_PAYLOAD_BYTES} are accepted; nothing in the batch was stored")
    hashes = [body_hash(e, p) for e, p in zip(batch, payloads, strict=True)]
    rows = [
        {
            "id": str(e.id), "terminal_id": e.terminal_id, "seq": e.seq, "type": e.type,
            "occurred_at": e.occurred_at.isoformat(), "schema": e.schema_, "payload": p,
            "body_hash": h, "stored_at": stored_at,
        }
        for e, p, h in zip(batch, payloads, hashes, strict=True)
    ]
    inserted: dict[str, str] = {}  # event id -> body hash, for the rows this statement inserted
    if rows:
        inserted = {r.id: r.body_hash for r in conn.execute(_insert_ignoring_conflicts(conn), rows)}
    others = {r["id"] for r in rows} - inserted.keys()
    existing: dict[str, tuple[str, str, str]] = {}
    if others:
        found = conn.execute(
            select(events.c.id, events.c.terminal_id, events.c.body_hash, events.c.stored_at)
            .where(events.c.id.in_(sorted(others)))
        )
        existing = {r.id: (r.terminal_id, r.body_hash, r.stored_at) for r in found}
    acks: list[dict[str, object]] = []  # validated once, as a whole response, below
    first_of: dict[str, str] = {}  # event id -> body hash of its first occurrence in this batch
    new_seqs: list[int] = []
    duplicates = conflicts = 0
    stamp = dt.datetime.fromisoformat(stored_at)
    for event, h, r in zip(batch, hashes, rows, strict=True):
        eid = r["id"]
        if eid not in first_of and inserted.get(eid) == h:
            first_of[eid] = h
            new_seqs.append(event.seq)
            acks.append({"id": event.id, "seq": event.seq, "status": "stored", "stored_at": stamp})
            continue
        if eid in first_of:
            same, original, why = first_of[eid] == h, stamp, "different_body"
        elif eid in inserted:  # a later copy in this batch, with another body, was the one stored
            same, original, why = False, stamp, "different_body"
        elif eid in existing:
            owner, stored_hash, when = existing[eid]
            same, original = owner == terminal_id and stored_hash == h, dt.datetime.fromisoformat(when)
            why = "different_body" if owner == terminal_id else "id_used_by_another_terminal"
        else:
            same, original, why = False, stamp, "seq_taken"  # the id is new but another event has this seq
        if same:
            duplicates += 1
            acks.append({"id": event.id, "seq": event.seq, "status": "duplicate", "stored_at": original})
            continue
        conflicts += 1
        log.warning("event refused: conflict", extra={
            "event": "push_conflict", "terminal_id": terminal_id, "event_id": eid, "seq": event.seq, "why": why})
        acks.append({"id": event.id, "seq": event.seq, "status": "conflict", "stored_at": None})
    if new_seqs:
        new_highest, runs, missing = update_gaps(conn, terminal_id, highest, sorted(new_seqs))
        if (new_highest, runs, missing) != (highest, 0, 0):
            conn.execute(update(terminals).where(terminals.c.terminal_id == terminal_id).values(
                highest_seq=new_highest, gap_runs=terminals.c.gap_runs + runs,
                gap_missing=terminals.c.gap_missing + missing))
        highest, gap_runs = new_highest, gap_runs + runs
    gaps = conn.execute(
        select(seq_gaps.c.first, seq_gaps.c.last).where(seq_gaps.c.terminal_id == terminal_id)
        .order_by(seq_gaps.c.first).limit(MAX_REPLY_GAPS)).all() if gap_runs else []
    response = PushResponse.model_validate(
        {"acks": acks, "highest_seq": highest, "gaps": [{"first": int(g.first), "last": int(g.last)} for g in gaps],
         "gap_count": gap_runs})
    return PushOutcome(response, stored=len(new_seqs), duplicates=duplicates, conflicts=conflicts)
