"""``linfen central card ...``: the ledger for an operator at the central's terminal, as plain text."""

from __future__ import annotations

from typing import TextIO

from sqlalchemy import select

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from ..storage import CentralStore
from .feed import publish_balances
from .payloads import CARD_NO
from .queries import ledger_check, problems, statement
from .schema import card_entries


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def run_card_command(store: CentralStore, command: str, card_no: str | None, out: TextIO) -> int:
    """Print a statement, the problem list or the ledger check, or publish balances; returns the exit status."""
    if command == "publish":
        with write_transaction(store.engine) as conn:
            cards = list(conn.execute(select(card_entries.c.card_no).distinct()).scalars())
            changed = publish_balances(conn, cards, now_text())
        print(f"{changed} balance row(s) published for {len(cards)} card(s) in the ledger", file=out)
        return 0
    with read_transaction(store.engine) as conn:
        if command == "statement":
            if not card_no or not CARD_NO.match(card_no):
                raise CentralError("bad_card_no", f"card statement needs a card number in upper-case hex, "
                                   f"not {card_no!r}")
            found = statement(conn, card_no)
            if found is None:
                raise CentralError("unknown_card", f"the ledger has no entry for card {card_no}")
            print(f"card {card_no}: balance {_yuan(found.balance_fen)} yuan, last subsidy day "
                  f"{found.subsidy_day or '-'}", file=out)
            for line in found.lines:
                print(f"{line.posted_at[:19]}  {line.day}  {line.kind:<10} {_yuan(line.amount_fen):>10} "
                      f"{_yuan(line.balance_fen):>10}  {line.entry_id}  {line.note or ''}".rstrip(), file=out)
            t = found.totals
            print(f"given {_yuan(t.given_fen)}, spent {_yuan(t.spent_fen)} (payments {_yuan(t.payments_fen)}, "
                  f"refunds {_yuan(t.refunds_fen)}, adjustments {_yuan(t.adjustments_fen)}), "
                  f"subsidy {_yuan(t.subsidy_fen)}", file=out)
            return 0
        if command == "problems":
            page = problems(conn, 0, 1000)
            for p in page.problems:
                print(f"{p.recorded_at[:19]}  {p.terminal_id}  {p.type}  {p.event_id}  {p.reason}: {p.detail}",
                      file=out)
            print(f"{len(page.problems)} problem(s)", file=out)
            return 0
        check = ledger_check(conn)
    print(check.model_dump_json(indent=2), file=out)
    return 0 if check.ok else 1
