"""The balance feed: after a posting, each touched card's ``balance`` reference row goes to its sites.

A card's row (docs/community-card.md §2: ``card_no, balance_fen, as_of, subsidy_day, readers``) is
written with :func:`sync.central.reference.apply_changes`, in the push's own transaction, to
every site whose feed holds an active ``card`` row (an upsert, not a tombstone) for that card
number.  ``as_of`` is the posting time of the card's last movement; ``subsidy_day`` the latest
day whose subsidy the card holds; ``readers`` per terminal the highest journal counter of its entries
for this card the balance counts (a reader subtracts only its entries above that).  A row equal to the site's current one takes no cursor.

A card imported to a site *after* its last posting gets its balance row with its next posting,
or with ``linfen central card publish`` (:func:`publish_balances` for every card in the ledger).
Cost: ``apply_changes`` reads a site's current rows of the kind, so one push reads each touched
site's ``balance`` rows once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from ..reference import RowChange, apply_changes
from ..sync_api.schema import reference
from .ledger import card_account
from .schema import card_balances, card_entries, card_subsidy_grants

_CHUNK = 500


def balance_row(conn: Connection, card_no: str) -> dict[str, Any]:
    """The card's ``balance`` reference row as the central's ledger has it now."""
    cached = conn.execute(select(card_balances.c.balance_fen, card_balances.c.last_posted_at)
                          .where(card_balances.c.account == card_account(card_no))).first()
    subsidy_day = conn.execute(select(func.max(card_subsidy_grants.c.day))
                               .where(card_subsidy_grants.c.card_no == card_no)).scalar()
    readers = {r.terminal_id: int(r.counter) for r in conn.execute(
        select(card_entries.c.terminal_id, func.max(card_entries.c.counter).label("counter"))
        .where(card_entries.c.card_no == card_no, card_entries.c.counter.is_not(None))
        .group_by(card_entries.c.terminal_id))}
    return {"card_no": card_no, "balance_fen": int(cached.balance_fen) if cached else 0,
            "as_of": cached.last_posted_at if cached else None, "subsidy_day": subsidy_day, "readers": readers}


def publish_balances(conn: Connection, card_nos: Iterable[str], changed_at: str) -> int:
    """Write the balance rows of ``card_nos`` to every site that lists the card; returns rows changed."""
    wanted = sorted(set(card_nos))
    per_site: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        for site, key in conn.execute(select(reference.c.site, reference.c.key).where(
                reference.c.kind == "card", reference.c.op == "upsert", reference.c.key.in_(chunk))):
            per_site[site].append(key)
    rows = {card_no: balance_row(conn, card_no) for keys in per_site.values() for card_no in keys}
    changed = 0
    for site in sorted(per_site):  # one order for every writer: sites' counters are locked in turn
        changes = [RowChange(key, "upsert", rows[key]) for key in sorted(per_site[site])]
        result = apply_changes(conn, site, "balance", changes, replace=False, changed_at=changed_at)
        changed += result.upserted
    return changed
