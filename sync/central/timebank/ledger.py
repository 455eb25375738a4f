"""The coin ledger's one writer and its readers (docs/timebank.md §1).

:func:`post_entry` refuses (with :class:`UnbalancedEntry`, a programming error) lines that do not
sum to zero, inserts the entry and its non-zero movements (each carrying the entry's category)
and adds them to ``tb_balances`` with ``INSERT ... ON CONFLICT DO UPDATE`` in sorted account
order.  Writers that must check a balance first call :func:`lock_members` (member rows, ascending
id) and then :func:`lock_accounts` (balance rows, sorted): on PostgreSQL those are
``SELECT ... FOR UPDATE``, so two concurrent requests on one member run one after the other and
the second sees the first's result; SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import CentralError
from .schema import tb_balances, tb_entries, tb_movements, tb_reviews, tb_volunteers

ISSUE = "issue"
POOL = "pool"
REWARDS = "rewards"
ENTRY_TYPES = frozenset({"earn", "gift", "donate", "group", "pool_grant", "redeem", "adjust"})
EARN_REVIEW_KINDS = ("daily_cap", "lifetime_cap")


class UnbalancedEntry(AssertionError):
    """An entry whose lines do not sum to zero (a programming error: nothing is written)."""


@dataclass(frozen=True)
class Line:
    """One movement to post: ``amount_cc`` (signed) on ``account``; ``kind`` says why."""

    account: str
    amount_cc: int
    kind: str


def vol_account(volunteer_id: int) -> str:
    """The ledger account of member ``volunteer_id``."""
    return f"vol:{int(volunteer_id)}"


def _dialect(conn: Connection) -> Any:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def post_entry(conn: Connection, *, entry_type: str, actor: str, lines: Sequence[Line], at: str,
               entry_id: str | None = None, category: str | None = None, memo: str | None = None,
               shift_id: int | None = None, redemption_id: int | None = None) -> str:
    """Insert one balanced entry and its movements inside the caller's transaction; returns its id."""
    if entry_type not in ENTRY_TYPES:
        raise UnbalancedEntry(f"unknown entry type {entry_type!r}")
    total = sum(line.amount_cc for line in lines)
    if total != 0 or any(isinstance(line.amount_cc, bool) or not isinstance(line.amount_cc, int)
                         for line in lines):
        raise UnbalancedEntry(f"entry of type {entry_type}: lines sum to {total}, not 0")
    entry_id = entry_id or str(uuid.uuid4())
    conn.execute(insert(tb_entries).values(entry_id=entry_id, type=entry_type, at=at, actor=actor,
                                           category=category, memo=memo, shift_id=shift_id,
                                           redemption_id=redemption_id))
    rows = [{"entry_id": entry_id, "account": line.account, "amount_cc": line.amount_cc, "kind": line.kind,
             "category": category, "at": at} for line in lines if line.amount_cc != 0]
    if not rows:
        return entry_id
    conn.execute(insert(tb_movements), rows)
    per_account: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        per_account[row["account"]][0] += row["amount_cc"]
        per_account[row["account"]][1] += 1
    dialect = _dialect(conn)
    for account in sorted(per_account):
        amount, count = per_account[account]
        stmt = dialect.insert(tb_balances).values(account=account, balance_cc=amount, movements=count, last_at=at)
        conn.execute(stmt.on_conflict_do_update(index_elements=[tb_balances.c.account], set_={
            "balance_cc": tb_balances.c.balance_cc + stmt.excluded.balance_cc,
            "movements": tb_balances.c.movements + stmt.excluded.movements,
            "last_at": stmt.excluded.last_at}))
    return entry_id


def balance_cc(conn: Connection, account: str) -> int:
    """The cached balance of ``account`` (0 when it has no movements)."""
    value = conn.execute(select(tb_balances.c.balance_cc).where(tb_balances.c.account == account)).scalar()
    return int(value or 0)


def lock_accounts(conn: Connection, accounts: Iterable[str], at: str) -> dict[str, int]:
    """Lock the balance rows of ``accounts`` (sorted; made at 0 when missing) and return their balances."""
    wanted = sorted(set(accounts))
    dialect = _dialect(conn)
    for account in wanted:
        conn.execute(dialect.insert(tb_balances).values(account=account, balance_cc=0, movements=0, last_at=at)
                     .on_conflict_do_nothing(index_elements=[tb_balances.c.account]))
    found = {}
    for account in wanted:  # one by one in order: row locks are taken in this order on PostgreSQL
        found[account] = int(conn.execute(select(tb_balances.c.balance_cc)
                                          .where(tb_balances.c.account == account).with_for_update()).scalar_one())
    return found


def lock_members(conn: Connection, volunteer_ids: Iterable[int], *, active: bool = True) -> dict[int, Row[Any]]:
    """Lock the member rows (ascending id) and return them; refuses an unknown or (``active``) inactive one."""
    found: dict[int, Row[Any]] = {}
    for volunteer_id in sorted({int(v) for v in volunteer_ids}):
        row = conn.execute(select(tb_volunteers).where(tb_volunteers.c.id == volunteer_id).with_for_update()).first()
        if row is None:
            raise CentralError("unknown_member", f"没有编号为 {volunteer_id} 的时间银行成员 (no such member)")
        if active and row.status != "active":
            raise CentralError("inactive_member", f"成员 {row.name_masked}（{volunteer_id}）已停用 (member not active)")
        found[volunteer_id] = row
    return found


@dataclass
class StatementRow:
    """One movement of a member's account as a statement line."""

    at: str
    entry_type: str
    amount_cc: int
    category: str | None
    memo: str | None
    counterpart: str | None


@dataclass
class Statement:
    """A member's balance, coins given by service and spent, coins waiting in review, latest lines."""

    volunteer_id: int
    balance_cc: int
    given_cc: int
    received_cc: int
    rows: list[StatementRow]
    pending_cc: int


def _kind_sum(conn: Connection, account: str, kinds: Sequence[str], positive: bool) -> int:
    amount = tb_movements.c.amount_cc
    value = conn.execute(select(func.coalesce(func.sum(amount), 0)).where(
        tb_movements.c.account == account, tb_movements.c.kind.in_(kinds),
        amount > 0 if positive else amount < 0)).scalar_one()
    return int(value)


def statement(conn: Connection, volunteer_id: int, limit: int = 50) -> Statement:
    """Member ``volunteer_id``'s statement: newest ``limit`` lines first.

    ``given_cc``: coins earned by service (``earn`` and ``pool_grant`` in); ``received_cc``: coins
    spent (``redeem`` out); ``pending_cc``: coins of open cap reviews, waiting to be earned.
    """
    account = vol_account(volunteer_id)
    moves = conn.execute(select(tb_movements.c.entry_id, tb_movements.c.amount_cc, tb_movements.c.category,
                                tb_movements.c.at, tb_entries.c.type, tb_entries.c.memo)
                         .join(tb_entries, tb_entries.c.entry_id == tb_movements.c.entry_id)
                         .where(tb_movements.c.account == account)
                         .order_by(tb_movements.c.id.desc()).limit(max(0, int(limit)))).all()
    others: dict[str, list[str]] = defaultdict(list)
    ids = sorted({m.entry_id for m in moves})
    for start in range(0, len(ids), 500):
        for entry_id, other in conn.execute(select(tb_movements.c.entry_id, tb_movements.c.account).where(
                tb_movements.c.entry_id.in_(ids[start:start + 500]), tb_movements.c.account != account)
                .order_by(tb_movements.c.id)):
            others[entry_id].append(other)
    rows = [StatementRow(m.at, m.type, int(m.amount_cc), m.category, m.memo,
                         (others[m.entry_id][0] if len(others[m.entry_id]) == 1
                          else ",".join(others[m.entry_id]) or None))
            for m in moves]
    pending = conn.execute(select(func.coalesce(func.sum(tb_reviews.c.amount_cc), 0)).where(
        tb_reviews.c.status == "open", tb_reviews.c.volunteer_id == volunteer_id,
        tb_reviews.c.kind.in_(EARN_REVIEW_KINDS))).scalar_one()
    return Statement(volunteer_id, balance_cc(conn, account), _kind_sum(conn, account, ("earn", "pool_grant"), True),
                     -_kind_sum(conn, account, ("redeem",), False), rows, int(pending))
