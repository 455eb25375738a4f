"""Checking the coin ledger from its movements alone (used by the API, the CLI, tests and the bench)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from .schema import tb_balances, tb_movements


def check_ledger(conn: Connection) -> dict[str, Any]:
    """``total_cc`` (must be 0), ``accounts``, accounts whose cached balance differs, entries not summing to 0."""
    sums = {r.account: (int(r.total), int(r.n)) for r in conn.execute(
        select(tb_movements.c.account, func.sum(tb_movements.c.amount_cc).label("total"),
               func.count().label("n")).group_by(tb_movements.c.account))}
    cached = {r.account: (int(r.balance_cc), int(r.movements)) for r in conn.execute(select(tb_balances))}
    mismatched = sorted(a for a in set(sums) | set(cached) if sums.get(a, (0, 0)) != cached.get(a, (0, 0)))
    unbalanced = sorted(r.entry_id for r in conn.execute(
        select(tb_movements.c.entry_id).group_by(tb_movements.c.entry_id)
        .having(func.sum(tb_movements.c.amount_cc) != 0)))
    return {"total_cc": sum(total for total, _ in sums.values()), "accounts": len(sums),
            "mismatched_accounts": mismatched, "unbalanced_entries": unbalanced}
