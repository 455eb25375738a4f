"""The Time Bank's audit trail: every write, and every staff read of one member's record (DESIGN §7).

``tb_audit`` is append-only in the database (triggers refuse UPDATE and DELETE).  An actor is
``vol:<id>``, ``staff:<login>``, ``terminal:<id>``, ``admin`` or ``system``; ``detail`` is a
small JSON object that never holds a raw ID or phone number.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select

from ..db import now_text
from .schema import tb_audit

MAX_DETAIL_CHARS = 2000


def audit(conn: Connection, actor: str, action: str, subject: str | None = None,
          detail: dict[str, Any] | None = None, at: str | None = None) -> None:
    """Record ``actor`` doing ``action`` to ``subject`` inside the caller's transaction."""
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None
    if text is not None and len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS]
    conn.execute(insert(tb_audit).values(at=at or now_text(), actor=actor, action=action, subject=subject,
                                         detail=text))


def trail(conn: Connection, subject: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest ``limit`` audit rows about ``subject``, newest first."""
    rows = conn.execute(select(tb_audit).where(tb_audit.c.subject == subject)
                        .order_by(tb_audit.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
