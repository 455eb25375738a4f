"""Writing the ledger: one balanced entry at a time, its movements and the cached balances.

:func:`post_entry` is the only writer of ``card_movements`` and ``card_balances``: it refuses
(with :class:`UnbalancedEntry`, a bug, never a payload problem) an entry whose lines do not sum
to zero, inserts the entry row and its non-zero lines, and adds each line to its account's
cached balance with an atomic ``INSERT ... ON CONFLICT DO UPDATE`` (accounts in sorted order,
so two concurrent PostgreSQL pushes lock them in the same order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.dialects import postgresql, sqlite

from .schema import card_balances, card_entries, card_movements

SUBSIDY_FUND = "subsidy_fund"


class UnbalancedEntry(AssertionError):
    """An entry whose lines do not sum to zero (a programming error: nothing is written)."""


@dataclass(frozen=True)
class Line:
    """One movement to post: ``amount_fen`` (signed) on ``account``."""

    account: str
    amount_fen: int
    kind: str
    note: str | None = None


def card_account(card_no: str) -> str:
    """The ledger account of a card."""
    return f"card:{card_no}"


def post_entry(conn: Connection, entry: dict[str, Any], lines: Sequence[Line]) -> None:
    """Insert ``entry`` (a ``card_entries`` row) and its ``lines`` inside the caller's transaction."""
    total = sum(line.amount_fen for line in lines)
    if total != 0:
        raise UnbalancedEntry(f"entry {entry['entry_id']}: lines sum to {total}, not 0")
    conn.execute(insert(card_entries).values(**entry))
    rows = [{"entry_id": entry["entry_id"], "account": line.account, "amount_fen": line.amount_fen,
             "kind": line.kind, "card_no": entry["card_no"], "day": entry["day"],
             "terminal_id": entry["terminal_id"], "posted_at": entry["posted_at"], "note": line.note}
            for line in lines if line.amount_fen != 0]
    if not rows:
        return
    conn.execute(insert(card_movements), rows)
    per_account: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        per_account[row["account"]][0] += row["amount_fen"]
        per_account[row["account"]][1] += 1
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for account in sorted(per_account):
        amount, count = per_account[account]
        stmt = dialect.insert(card_balances).values(account=account, balance_fen=amount, movements=count,
                                                    last_posted_at=entry["posted_at"])
        conn.execute(stmt.on_conflict_do_update(index_elements=[card_balances.c.account], set_={
            "balance_fen": card_balances.c.balance_fen + stmt.excluded.balance_fen,
            "movements": card_balances.c.movements + stmt.excluded.movements,
            "last_posted_at": stmt.excluded.last_posted_at}))
