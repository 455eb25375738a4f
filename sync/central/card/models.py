"""The card API's answers (pydantic, so the OpenAPI schema documents them)."""

from __future__ import annotations

from pydantic import BaseModel


class StatementLine(BaseModel):
    """One movement of a card's account, with the balance after it."""

    movement_id: int
    entry_id: str
    entry_type: str  # payment, void, topup, adjustment
    kind: str  # payment, refund, topup, adjustment
    amount_fen: int
    balance_fen: int  # running balance after this line
    day: str
    terminal_id: str
    posted_at: str
    note: str | None = None
    subsidy_fen: int = 0  # the fund's part of a payment (not a movement of the card)
    refers_to: str | None = None  # a void's payment, an adjustment's payment
    voided_by: str | None = None


class StatementTotals(BaseModel):
    """What went on and off the card; ``given - spent == balance``."""

    given_fen: int  # top-ups
    spent_fen: int  # payments - refunds + adjustments: what the card itself paid
    subsidy_fen: int  # subsidy the card kept: subsidised payments not voided, less the adjustments not voided
    payments_fen: int
    refunds_fen: int
    adjustments_fen: int


class Statement(BaseModel):
    """A card's movements in posting order."""

    card_no: str
    balance_fen: int
    subsidy_day: str | None
    lines: list[StatementLine]
    totals: StatementTotals


class Problem(BaseModel):
    """A money event the ledger refused."""

    id: int
    event_id: str
    terminal_id: str
    type: str
    card_no: str | None
    reason: str
    detail: str
    recorded_at: str


class Problems(BaseModel):
    """One page of problems, oldest first; ``next_after`` continues."""

    problems: list[Problem]
    next_after: int


class AccountMismatch(BaseModel):
    """An account whose cached balance differs from the sum of its movements."""

    account: str
    cached_fen: int
    movements_fen: int


class LedgerCheck(BaseModel):
    """The ledger's invariants, with their figures."""

    ok: bool
    total_fen: int  # sum of every movement: 0
    movements: int
    entries: int
    accounts: int
    unbalanced_entries: list[str]  # entries whose movements do not sum to 0
    mismatched: list[AccountMismatch]  # cached balance != sum of movements
    subsidy_days_granted_twice: int  # card-days with two subsidies standing after reconciliation
