"""What a reader may take from a card: balance snapshot, own unsynced entries, offline limits (DESIGN §6b).

A reader pays from the last balance the central published for the card (the ``balance`` reference
row) minus its own journal entries that snapshot does not count yet.  The snapshot names, per
reader, the highest journal counter it counts (``readers``); without that map, every entry the
central has not acknowledged is taken as uncounted.  Entries of other readers not yet synced are
the documented offline risk, bounded by the limits below.

Online (the reader caught up with the central's feed within ``fresh_s``) only the balance and the
overdraft bound a payment.  Offline, or with an old snapshot, EMV-style limits apply per card: one
payment at most ``per_tap_fen``, offline spending today at most ``per_day_fen`` (or the card's own
``offline_limit_fen``), at most ``consecutive_offline`` offline payments the snapshot does not
count yet — and never below ``-overdraft_fen``.  :func:`decide` is pure; :func:`standing` gathers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .journal import CardJournal, JournalEntry


class CardLimits(BaseModel):
    """Per-card limits of a reader (config ``[canteen.limits]``), money in fen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_tap_fen: int = Field(5000, ge=0, description="largest offline payment")
    per_day_fen: int = Field(20000, ge=0, description="most offline spending per card per day at this reader")
    consecutive_offline: int = Field(5, ge=0, description="most offline payments the snapshot does not count yet")
    overdraft_fen: int = Field(0, ge=0, description="how far below zero a balance may go")
    fresh_s: float = Field(300.0, gt=0, description="seconds after the last caught-up pull that count as online")
    double_tap_s: float = Field(5.0, ge=0, description="the same basket paid again within this is not charged")
    low_balance_fen: int = Field(3000, ge=0, description="a balance under this is warned about after paying")


@dataclass(frozen=True)
class Snapshot:
    """The central's last published balance of one card."""

    balance_fen: int
    as_of: str
    subsidy_day: str | None
    readers: dict[str, int]  # reader id -> highest journal counter the balance counts (may be empty)

    @classmethod
    def from_row(cls, data: dict[str, Any]) -> Snapshot:
        """From a ``balance`` reference row (docs/community-card.md §2)."""
        readers = data.get("readers") if isinstance(data.get("readers"), dict) else {}
        return cls(int(data["balance_fen"]), str(data.get("as_of", "")), data.get("subsidy_day") or None,
                   {str(k): int(v) for k, v in readers.items() if isinstance(v, int) and not isinstance(v, bool)})


@dataclass(frozen=True)
class Standing:
    """Everything a reader knows about one card's money at the moment of a tap."""

    card_no: str
    snapshot: Snapshot | None
    uncounted: tuple[JournalEntry, ...]  # this reader's entries the snapshot does not count
    online: bool
    offline_today_fen: int  # this reader's offline payments for the card today (net of voids)
    subsidy_today: bool  # today's subsidy already granted (snapshot or this reader's journal)
    card_offline_limit_fen: int | None = None

    @property
    def balance_fen(self) -> int | None:
        """Best estimate of the balance: snapshot minus uncounted debits (None without a snapshot)."""
        if self.snapshot is None:
            return None
        return self.snapshot.balance_fen - sum(e.debit_fen for e in self.uncounted)

    @property
    def offline_taps(self) -> int:
        """Offline payments of this reader the snapshot does not count yet."""
        return sum(1 for e in self.uncounted if e.type == "payment" and e.offline)


@dataclass(frozen=True)
class Refusal:
    """Why a payment is refused: a code, and the numbers the screen and voice will say."""

    code: str  # no_balance | insufficient | over_tap_limit | over_day_limit | too_many_offline
    needed_fen: int = 0
    limit_fen: int = 0


def decide(standing: Standing, amount_fen: int, limits: CardLimits) -> Refusal | None:
    """None when ``amount_fen`` may be taken from the card now, else why not (pure)."""
    balance = standing.balance_fen
    if balance is None:
        return Refusal("no_balance")
    if balance - amount_fen < -limits.overdraft_fen:
        return Refusal("insufficient", needed_fen=amount_fen, limit_fen=max(balance + limits.overdraft_fen, 0))
    if standing.online:
        return None
    if amount_fen > limits.per_tap_fen:
        return Refusal("over_tap_limit", needed_fen=amount_fen, limit_fen=limits.per_tap_fen)
    day_limit = standing.card_offline_limit_fen if standing.card_offline_limit_fen is not None else limits.per_day_fen
    if standing.offline_today_fen + amount_fen > day_limit:
        return Refusal("over_day_limit", needed_fen=amount_fen, limit_fen=max(day_limit - standing.offline_today_fen, 0))
    if standing.offline_taps >= limits.consecutive_offline:
        return Refusal("too_many_offline", limit_fen=limits.consecutive_offline)
    return None


def uncounted_entries(entries: list[JournalEntry], snapshot: Snapshot | None, reader_id: str) -> list[JournalEntry]:
    """Which of this reader's entries (oldest first) the snapshot does not count yet."""
    if snapshot is not None and reader_id in snapshot.readers:
        seen = snapshot.readers[reader_id]
        return [e for e in entries if e.counter > seen]
    return [e for e in entries if not e.acked]


def standing(journal: CardJournal, card_no: str, snapshot: Snapshot | None, day: str, online: bool,
             card_offline_limit_fen: int | None = None, entries: list[JournalEntry] | None = None) -> Standing:
    """Gather a card's standing from the reader's journal (or its ``entries`` already read) and the snapshot."""
    entries = journal.for_card(card_no) if entries is None else entries
    uncounted = uncounted_entries(entries, snapshot, journal.reader_id)
    todays = [e for e in entries if e.day == day]
    voided = journal.voided_ids(e.entry_id for e in todays if e.type == "payment")
    offline_today = sum(e.debit_fen for e in todays if e.type == "payment" and e.offline and e.entry_id not in voided)
    subsidy_here = any(e.type == "payment" and e.subsidy_fen > 0 and e.entry_id not in voided for e in todays)
    subsidy_today = subsidy_here or (snapshot is not None and snapshot.subsidy_day == day)
    return Standing(card_no, snapshot, tuple(uncounted), online, offline_today, subsidy_today, card_offline_limit_fen)
