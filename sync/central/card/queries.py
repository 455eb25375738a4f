"""Reading the ledger for operators: a card's statement, the problem list, the ledger check."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Connection, func, select

from .feed import balance_row
from .ledger import card_account
from .models import AccountMismatch, LedgerCheck, Problem, Problems, Statement, StatementLine, StatementTotals
from .schema import card_balances, card_entries, card_movements, card_problems

MAX_PROBLEMS = 1000  # most problem rows in one page


def statement(conn: Connection, card_no: str) -> Statement | None:
    """The card's movements in posting order with the running balance; None when the ledger never saw it."""
    rows = conn.execute(
        select(card_movements, card_entries.c.type.label("entry_type"), card_entries.c.subsidy_fen,
               card_entries.c.refers_to, card_entries.c.voided_by)
        .join(card_entries, card_entries.c.entry_id == card_movements.c.entry_id)
        .where(card_movements.c.account == card_account(card_no)).order_by(card_movements.c.id)).all()
    if not rows and conn.execute(select(card_entries.c.entry_id).where(card_entries.c.card_no == card_no)
                                 .limit(1)).first() is None:
        return None
    running = 0
    lines: list[StatementLine] = []
    sums: Counter[str] = Counter()
    for r in rows:
        running += int(r.amount_fen)
        sums[r.kind] += int(r.amount_fen)
        lines.append(StatementLine(
            movement_id=int(r.id), entry_id=r.entry_id, entry_type=r.entry_type, kind=r.kind,
            amount_fen=int(r.amount_fen), balance_fen=running, day=r.day, terminal_id=r.terminal_id,
            posted_at=r.posted_at, note=r.note, subsidy_fen=int(r.subsidy_fen) if r.entry_type == "payment" else 0,
            refers_to=r.refers_to, voided_by=r.voided_by))
    kept = conn.execute(select(func.coalesce(func.sum(card_entries.c.subsidy_fen), 0)).where(
        card_entries.c.card_no == card_no, card_entries.c.type == "payment",
        card_entries.c.voided_by.is_(None))).scalar_one()
    reversed_ = conn.execute(select(func.coalesce(func.sum(card_entries.c.amount_fen), 0)).where(
        card_entries.c.card_no == card_no, card_entries.c.type == "adjustment",
        card_entries.c.voided_by.is_(None))).scalar_one()
    payments, refunds, adjustments = -sums["payment"], sums["refund"], -sums["adjustment"]
    totals = StatementTotals(given_fen=sums["topup"], spent_fen=payments - refunds + adjustments,
                             subsidy_fen=int(kept) - int(reversed_), payments_fen=payments, refunds_fen=refunds,
                             adjustments_fen=adjustments)
    feed = balance_row(conn, card_no)
    return Statement(card_no=card_no, balance_fen=running if rows else feed["balance_fen"],
                     subsidy_day=feed["subsidy_day"], lines=lines, totals=totals)


def problems(conn: Connection, after: int = 0, limit: int = 100) -> Problems:
    """Problem rows with id above ``after``, oldest first."""
    rows = conn.execute(select(card_problems).where(card_problems.c.id > after).order_by(card_problems.c.id)
                        .limit(min(limit, MAX_PROBLEMS))).all()
    found = [Problem(id=int(r.id), event_id=r.event_id, terminal_id=r.terminal_id, type=r.type, card_no=r.card_no,
                     reason=r.reason, detail=r.detail, recorded_at=r.recorded_at) for r in rows]
    return Problems(problems=found, next_after=found[-1].id if found else after)


def standing_second_subsidies(conn: Connection) -> int:
    """Card-days on which more than one subsidy stands (subsidised, not voided, not adjusted)."""
    adj = card_entries.alias("adj")
    adjusted = select(adj.c.refers_to).where(adj.c.type == "adjustment", adj.c.refers_to.is_not(None))
    rows = conn.execute(select(card_entries.c.card_no, card_entries.c.day, func.count().label("n")).where(
        card_entries.c.type == "payment", card_entries.c.subsidy_fen > 0, card_entries.c.voided_by.is_(None),
        card_entries.c.entry_id.not_in(adjusted)).group_by(card_entries.c.card_no, card_entries.c.day)).all()
    return sum(1 for r in rows if int(r.n) > 1)


def ledger_check(conn: Connection) -> LedgerCheck:
    """Sum of all movements, each entry's sum, and every cached balance against its movements."""
    total, count = conn.execute(select(func.coalesce(func.sum(card_movements.c.amount_fen), 0),
                                       func.count())).one()
    unbalanced = list(conn.execute(
        select(card_movements.c.entry_id).group_by(card_movements.c.entry_id)
        .having(func.sum(card_movements.c.amount_fen) != 0).order_by(card_movements.c.entry_id).limit(100)).scalars())
    sums = select(card_movements.c.account, func.sum(card_movements.c.amount_fen).label("fen")) \
        .group_by(card_movements.c.account).subquery()
    pairs = conn.execute(
        select(card_balances.c.account, card_balances.c.balance_fen, sums.c.fen)
        .outerjoin(sums, sums.c.account == card_balances.c.account)
        .union_all(select(sums.c.account, card_balances.c.balance_fen, sums.c.fen)
                   .outerjoin(card_balances, card_balances.c.account == sums.c.account)
                   .where(card_balances.c.account.is_(None)))).all()
    mismatched = [AccountMismatch(account=a, cached_fen=int(c or 0), movements_fen=int(m or 0))
                  for a, c, m in pairs if int(c or 0) != int(m or 0)]
    entries = conn.execute(select(func.count()).select_from(card_entries)).scalar_one()
    twice = standing_second_subsidies(conn)
    return LedgerCheck(ok=int(total) == 0 and not unbalanced and not mismatched and twice == 0,
                       total_fen=int(total), movements=int(count), entries=int(entries), accounts=len(pairs),
                       unbalanced_entries=unbalanced, mismatched=mismatched[:100], subsidy_days_granted_twice=twice)
