"""Day close (Z report) of a reader: numbered, immutable, hash-chained, and never over unacknowledged money.

A Z report sums one local day of the reader's journal: payments (count, gross, discount, subsidy,
paid) per age band or group, per dish and per subsidy tier; voids; top-ups and the cash they
brought, with the cash counted when the clerk gives it.  Each report takes the next number of the
reader (``z_reports.number``), carries the previous report's hash and its own
(``sha256(prev_hash || canonical JSON of the body)``), is stored immutably and leaves as a
``canteen.day_close`` event in the same transaction.

It **cannot close while any entry of the day is unacknowledged** by the central: :func:`close_day`
raises :class:`DayCloseRefused` naming them (the sync client may still be pushing; wait and try
again), unless the clerk closes *provisional* explicitly — then the report says so and lists the
unacknowledged entry ids, and a final close of the same day may follow later.  A day has at most one
final report; entries are never reopened or changed by a close (a correction is a void, another entry).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlite_utils.migrations import Migrations

from kiosk.errors import KioskError
from kiosk.store import Store

from .journal import CardJournal, JournalEntry

Z_MIGRATIONS = Migrations("linfen_day_close")
GENESIS = "0" * 64  # the previous hash of a reader's first report


@Z_MIGRATIONS()
def m001_z_reports(db: Any) -> None:
    """Create ``z_reports`` (numbered, hash-chained, immutable)."""
    db.execute(
        """
        CREATE TABLE z_reports (
            number      INTEGER NOT NULL PRIMARY KEY CHECK (number >= 1),
            day         TEXT    NOT NULL,
            provisional INTEGER NOT NULL CHECK (provisional IN (0, 1)),
            prev_hash   TEXT    NOT NULL,
            hash        TEXT    NOT NULL UNIQUE,
            body        TEXT    NOT NULL CHECK (json_valid(body)),
            closed_at   TEXT    NOT NULL
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX z_reports_final_day ON z_reports (day) WHERE provisional = 0")
    db.execute("CREATE TRIGGER z_reports_immutable BEFORE UPDATE ON z_reports "
               "BEGIN SELECT RAISE(ABORT, 'a day close is immutable'); END")
    db.execute("CREATE TRIGGER z_reports_kept BEFORE DELETE ON z_reports "
               "BEGIN SELECT RAISE(ABORT, 'a day close is kept'); END")


class DayCloseRefused(KioskError):
    """The day cannot close: ``unacknowledged`` lists the entry ids the central has not stored yet."""

    def __init__(self, message: str, unacknowledged: tuple[str, ...] = ()) -> None:
        """``message`` for the clerk; ``unacknowledged`` the entries that hold the close."""
        super().__init__(message)
        self.unacknowledged = unacknowledged


@dataclass(frozen=True)
class ZReport:
    """One stored day close."""

    number: int
    day: str
    provisional: bool
    prev_hash: str
    hash: str
    body: dict[str, Any]


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """The report's hash: sha256 over the previous hash and the canonical JSON of its body."""
    return hashlib.sha256((prev_hash + _canonical(body)).encode("utf-8")).hexdigest()


def _money() -> dict[str, int]:
    return {"count": 0, "gross_fen": 0, "discount_fen": 0, "subsidy_fen": 0, "paid_fen": 0}


def _add(total: dict[str, int], payload: dict[str, Any], sign: int = 1) -> None:
    total["count"] += sign
    for key in ("gross_fen", "discount_fen", "subsidy_fen", "paid_fen"):
        total[key] += sign * int(payload.get(key, 0))


def day_totals(entries: list[JournalEntry], voided: set[str]) -> dict[str, Any]:
    """The totals of one day's entries (payments net of their voids), as the Z report's body lists them."""
    payments = [e for e in entries if e.type == "payment"]
    kept = [e for e in payments if e.entry_id not in voided]
    total, by_group, by_tier = _money(), defaultdict(_money), defaultdict(_money)
    dishes: dict[str, dict[str, Any]] = {}
    for e in kept:
        p = e.payload
        _add(total, p)
        _add(by_group[str(p.get("group") or p.get("age_band") or "standard")], p)
        if int(p.get("subsidy_fen", 0)) > 0:
            _add(by_tier[str(p.get("subsidy_tier") or "unknown")], p)
        for item in p.get("items", []):
            dish = dishes.setdefault(str(item.get("item_id")), {"dish": item.get("dish", ""), "qty": 0,
                                                                "gross_fen": 0})
            qty = int(item.get("qty", 1))
            dish["qty"] += qty
            dish["gross_fen"] += qty * int(item.get("unit_fen", 0))
    voids = [e for e in entries if e.type == "void"]
    topups = [e for e in entries if e.type == "topup"]
    methods: Counter[str] = Counter()
    for e in topups:
        methods[str(e.payload.get("method"))] += -e.debit_fen
    return {
        "payments": total, "by_group": dict(sorted(by_group.items())), "by_tier": dict(sorted(by_tier.items())),
        "dishes": dict(sorted(dishes.items())),
        "voids": {"count": len(voids), "refund_fen": sum(-e.debit_fen for e in voids),
                  "subsidy_fen": sum(int(e.payload.get("subsidy_fen", 0)) for e in voids)},
        "topups": {"count": len(topups), "amount_fen": sum(-e.debit_fen for e in topups), "by_method": dict(methods)},
        "offline_payments": sum(1 for e in kept if e.offline),
        "first_counter": min((e.counter for e in entries), default=None),
        "last_counter": max((e.counter for e in entries), default=None),
        "entries": len(entries),
    }


class DayClose:
    """The reader's Z reports (its store opened with ``Z_MIGRATIONS`` and the journal's migrations)."""

    def __init__(self, store: Store) -> None:
        """Use ``store``."""
        self.store = store
        self.journal = CardJournal(store)

    def reports(self) -> list[ZReport]:
        """Every report of this reader, by number."""
        rows = self.store.db.conn.execute(
            "SELECT number, day, provisional, prev_hash, hash, body FROM z_reports ORDER BY number").fetchall()
        return [ZReport(n, d, bool(p), ph, h, json.loads(b)) for n, d, p, ph, h, b in rows]

    def verify_chain(self) -> bool:
        """True when every report's hash matches its body and its predecessor's hash."""
        prev = GENESIS
        for r in self.reports():
            if r.prev_hash != prev or chain_hash(r.prev_hash, r.body) != r.hash:
                return False
            prev = r.hash
        return True

    def close_day(self, day: str, staff: str, *, provisional: bool = False,
                  counted_cash_fen: int | None = None, closed_at: str = "") -> ZReport:
        """Close ``day``: store and emit its Z report; DayCloseRefused when it may not close (see module doc)."""
        if not staff.strip():
            raise DayCloseRefused("a day close needs the clerk who makes it")
        closed_at = closed_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.store.action() as act:
            conn = act.db.conn
            if conn.execute("SELECT 1 FROM z_reports WHERE day = ? AND provisional = 0", (day,)).fetchone():
                raise DayCloseRefused(f"{day} is already closed")
            entries = self.journal.for_day(day)
            waiting = tuple(e.entry_id for e in entries if not e.acked)
            if waiting and not provisional:
                raise DayCloseRefused(
                    f"{len(waiting)} payment(s) of {day} are not yet confirmed by the central "
                    f"(first: {waiting[0]}); wait for sync, or close provisional", waiting)
            voided = self.journal.voided_ids(e.entry_id for e in entries if e.type == "payment")
            totals = day_totals(entries, voided)
            cash = totals["topups"]["by_method"].get("cash", 0)
            body: dict[str, Any] = {
                "reader_id": self.store.terminal_id, "day": day, "staff": staff, "provisional": provisional,
                "unacknowledged": list(waiting), "closed_at": closed_at, **totals,
                "cash": {"expected_fen": cash, "counted_fen": counted_cash_fen,
                         "difference_fen": None if counted_cash_fen is None else counted_cash_fen - cash},
            }
            last = conn.execute("SELECT number, hash FROM z_reports ORDER BY number DESC LIMIT 1").fetchone()
            number, prev = (int(last[0]) + 1, last[1]) if last else (1, GENESIS)
            body["number"] = number
            digest = chain_hash(prev, body)
            conn.execute("INSERT INTO z_reports (number, day, provisional, prev_hash, hash, body, closed_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (number, day, int(provisional), prev, digest, _canonical(body),
                                                          closed_at))
            act.emit("canteen.day_close", {**body, "prev_hash": prev, "hash": digest})
        return ZReport(number, day, provisional, prev, digest, body)


def z_lines(report: ZReport) -> list[Any]:
    """The printed Z report: (left, right) pairs and text lines for a receipt printer."""
    b = report.body

    def y(fen: int) -> str:
        return f"{fen / 100:.2f} 元"

    lines: list[Any] = [f"日结 Z{report.number:04d} {b['day']}" + ("（临时）" if report.provisional else ""),
                        ("收款笔数", str(b["payments"]["count"])), ("原价合计", y(b["payments"]["gross_fen"])),
                        ("优惠合计", y(b["payments"]["discount_fen"])), ("补贴合计", y(b["payments"]["subsidy_fen"])),
                        ("实收合计", y(b["payments"]["paid_fen"])),
                        ("撤销", f"{b['voids']['count']} 笔 {y(b['voids']['refund_fen'])}")]
    for tier, t in b["by_tier"].items():
        lines.append((f"补贴 {tier}", f"{t['count']} 笔 {y(t['subsidy_fen'])}"))
    if b["topups"]["count"]:
        lines.append(("充值", f"{b['topups']['count']} 笔 {y(b['topups']['amount_fen'])}"))
    if b["unacknowledged"]:
        lines.append(f"未确认 {len(b['unacknowledged'])} 笔，待同步")
    lines.append(f"校验 {report.hash[:16]}")
    return lines
