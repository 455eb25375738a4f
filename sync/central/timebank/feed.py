"""The volunteer roster to the hall kiosks (docs/timebank.md §6): reference rows of kind ``volunteer``.

A member's row is keyed by the person key and holds ``{"h", "member_no", "name_masked",
"status"}``; it goes to every site with an enrolled (not revoked) ``hall`` terminal, through
:func:`sync.central.reference.apply_changes` in the caller's transaction, so a kiosk can tell a
registered volunteer from someone who still has to register, even offline.  A row equal to the
site's current one takes no cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from ..reference import RowChange, apply_changes
from ..sync_api.schema import terminals
from .schema import tb_volunteers

KIND = "volunteer"
ROSTER_ROLES = ("hall",)
_CHUNK = 500


def roster_sites(conn: Connection) -> list[str]:
    """Sites with an enrolled hall terminal, sorted (the order every feed writer locks them in)."""
    return sorted(set(conn.execute(select(terminals.c.site).where(
        terminals.c.role.in_(ROSTER_ROLES), terminals.c.revoked_at.is_(None))).scalars()))


def roster_row(row: Any) -> dict[str, Any]:
    """The reference data of one ``tb_volunteers`` row."""
    return {"h": row.person_key, "member_no": int(row.id), "name_masked": row.name_masked, "status": row.status}


def _changes(conn: Connection, volunteer_ids: Iterable[int] | None) -> list[RowChange]:
    columns = (tb_volunteers.c.id, tb_volunteers.c.person_key, tb_volunteers.c.name_masked, tb_volunteers.c.status)
    if volunteer_ids is None:
        rows = list(conn.execute(select(*columns).order_by(tb_volunteers.c.id)))
    else:
        ids = sorted({int(v) for v in volunteer_ids})
        rows = []
        for start in range(0, len(ids), _CHUNK):
            rows += conn.execute(select(*columns).where(tb_volunteers.c.id.in_(ids[start:start + _CHUNK])))
    return [RowChange(r.person_key, "upsert", roster_row(r)) for r in rows]


def publish_roster(conn: Connection, volunteer_ids: Iterable[int], changed_at: str) -> int:
    """Write the roster rows of ``volunteer_ids`` to every hall site; returns the rows changed."""
    changes = _changes(conn, volunteer_ids)
    if not changes:
        return 0
    changed = 0
    for site in roster_sites(conn):
        result = apply_changes(conn, site, KIND, changes, replace=False, changed_at=changed_at)
        changed += result.upserted
    return changed


def publish_all(conn: Connection, changed_at: str) -> int:
    """Write every member's roster row to every hall site (keys no longer members are deleted)."""
    changes = _changes(conn, None)
    changed = 0
    for site in roster_sites(conn):
        result = apply_changes(conn, site, KIND, changes, replace=True, changed_at=changed_at)
        changed += result.upserted + result.deleted
    return changed
