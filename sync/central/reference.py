"""Reference data per site as a compacted change feed with a cursor.

Each site has a counter (``sites.last_cursor``); every change takes the next number.  The
``reference`` table keeps one row per (site, kind, key) holding that key's *latest* change and
its cursor, so the feed is the current state plus delete tombstones: a new terminal pulling
from cursor 0 gets each key once, and a terminal at cursor ``c`` gets every key changed after
``c`` (a key that changes again moves to a higher cursor, so it is never skipped).  An import
of rows that did not change takes no cursor at all.

Writers bump the site counter first, which takes the counter row's lock until commit
(PostgreSQL; SQLite has one writer anyway): feed writers of one site commit in cursor order,
so a reader never sees cursor ``n+1`` committed while ``n`` is still to come.

A page is served as JSON assembled from the stored JSON text, without parsing each row's data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .sync_api.schema import reference, sites

DEFAULT_PAGE = 1000  # changes in one page when the terminal does not say
MAX_PAGE = 5000  # most changes in one page
_KEY_CHUNK = 500  # keys looked up per query when only some keys change


@dataclass(frozen=True)
class RowChange:
    """One incoming change: upsert ``data`` under ``key``, or delete ``key``."""

    key: str
    op: str  # "upsert" or "delete"
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class ApplyResult:
    """What an import did to the feed."""

    upserted: int
    deleted: int
    unchanged: int
    first_cursor: int | None
    last_cursor: int | None


def canonical_json(data: dict[str, Any]) -> str:
    """The stored form of one row's data: compact, keys sorted, UTF-8 kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _ensure_site(conn: Connection, site: str) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(sites).values(site=site, last_cursor=0).on_conflict_do_nothing())


def _take_cursors(conn: Connection, site: str, count: int) -> int:
    """Reserve ``count`` cursors of ``site`` (locks the counter till commit); returns the first."""
    conn.execute(update(sites).where(sites.c.site == site).values(last_cursor=sites.c.last_cursor + count))
    last = conn.execute(select(sites.c.last_cursor).where(sites.c.site == site)).scalar_one()
    return int(last) - count + 1


def apply_changes(conn: Connection, site: str, kind: str, changes: Iterable[RowChange], *, replace: bool,
                  changed_at: str) -> ApplyResult:
    """Write ``changes`` of one ``kind`` to ``site``'s feed inside the caller's write transaction.

    ``replace``: the changes are the whole set, so every key of this kind not among them is
    deleted.  Rows identical to the key's current state take no cursor.
    """
    changes = list(changes)
    _ensure_site(conn, site)
    _take_cursors(conn, site, 0)  # lock the counter before reading the current state
    base = select(reference.c.key, reference.c.op, reference.c.data).where(reference.c.site == site,
                                                                          reference.c.kind == kind)
    if replace:  # the whole kind is compared
        current = {r.key: (r.op, r.data) for r in conn.execute(base)}
    else:  # only the keys changed (a balance posting touches a few of 12,000 cards)
        keys = sorted({c.key for c in changes})
        current = {}
        for start in range(0, len(keys), _KEY_CHUNK):
            chunk = keys[start:start + _KEY_CHUNK]
            current.update({r.key: (r.op, r.data) for r in conn.execute(base.where(reference.c.key.in_(chunk)))})
    wanted: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    unchanged = 0
    for change in changes:
        seen.add(change.key)
        text = canonical_json(change.data) if change.op == "upsert" and change.data is not None else None
        before = current.get(change.key)
        if before == (change.op, text) or (change.op == "delete" and (before is None or before[0] == "delete")):
            unchanged += 1
            continue
        wanted.append((change.key, change.op, text))
    if replace:
        wanted += [(key, "delete", None) for key, (op, _) in sorted(current.items())
                   if op == "upsert" and key not in seen]
    if not wanted:
        return ApplyResult(0, 0, unchanged, None, None)
    first = _take_cursors(conn, site, len(wanted))
    fresh, moved = [], []
    for offset, (key, op, text) in enumerate(wanted):
        row = {"k": key, "c": first + offset, "o": op, "d": text}
        (moved if key in current else fresh).append(row)
    if fresh:
        conn.execute(insert(reference), [
            {"site": site, "kind": kind, "key": r["k"], "cursor": r["c"], "op": r["o"], "data": r["d"],
             "changed_at": changed_at} for r in fresh])
    if moved:
        conn.execute(
            update(reference)
            .where(reference.c.site == site, reference.c.kind == kind, reference.c.key == bindparam("k"))
            .values(cursor=bindparam("c"), op=bindparam("o"), data=bindparam("d"), changed_at=changed_at),
            moved)
    deleted = sum(1 for _, op, _ in wanted if op == "delete")
    return ApplyResult(len(wanted) - deleted, deleted, unchanged, first, first + len(wanted) - 1)


def changes_page_json(conn: Connection, site: str, cursor: int, limit: int) -> str:
    """One page of ``site``'s feed after ``cursor`` as the protocol's ``ChangesResponse`` JSON text."""
    rows = conn.execute(
        select(reference.c.cursor, reference.c.kind, reference.c.key, reference.c.op, reference.c.data)
        .where(reference.c.site == site, reference.c.cursor > cursor)
        .order_by(reference.c.cursor).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    parts = [
        f'{{"cursor":{int(r.cursor)},"kind":{json.dumps(r.kind)},"key":{json.dumps(r.key, ensure_ascii=False)},'
        f'"op":{json.dumps(r.op)},"data":{r.data if r.data is not None else "null"}}}'
        for r in rows
    ]
    next_cursor = int(rows[-1].cursor) if rows else cursor
    return f'{{"changes":[{",".join(parts)}],"cursor":{next_cursor},"more":{"true" if more else "false"}}}'


def site_feed_end(conn: Connection, site: str) -> int:
    """The last cursor handed out for ``site`` (0 when it has no feed yet)."""
    value = conn.execute(select(sites.c.last_cursor).where(sites.c.site == site)).scalar()
    return int(value or 0)
