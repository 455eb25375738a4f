"""What the community-card demos share: the central prepared with cards and reference rows, top-ups, waiting.

The canteen and cinema demos (:mod:`linfen.demo_canteen`, :mod:`linfen.demo_cinema`) run the
simulator and the central as their own processes; these helpers enrol their terminals and import
the personas' card rows (masked names only) before the central starts, top the cards up at the
service centre through a counter terminal's journal, and wait for a screen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hardware_sim import personas
from kiosk.canteen.card_data import card_facts, online_check
from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.canteen.payments import CardPayments
from kiosk.canteen.wallet import CardLimits
from kiosk.reference import ReferenceData
from kiosk.store import Store
from sync import apply
from sync.client import SyncClient, SyncSettings

SITE = "linfen-sim"
WAIT_S = 15.0  # longest wait for a terminal's answer to one resident


def masked(name: str) -> str:
    """``张*明`` from a full name (the central never holds the full one)."""
    return name[0] + "*" + (name[-1] if len(name) > 2 else "")


def card_rows(people: Iterable[personas.Persona]) -> list[tuple[str, dict[str, Any]]]:
    """The central's ``card`` rows of the personas' community cards (masked name, birth year, groups)."""
    rows = []
    for p in people:
        groups = [g for g, on in (("special_care", p.special_care), ("disabled", p.disabled),
                                  ("veteran", p.veteran)) if on]
        rows.append((p.ccard_uid, {"card_no": p.ccard_uid, "status": "active", "masked_name": masked(p.name),
                                   "birth_year": int(p.birth[:4]), "groups": groups, "dibao": False,
                                   "hukou": "local"}))
    return rows


def prepare_central(db: Path, terminals: dict[str, str], rows: dict[str, list[tuple[str, dict[str, Any]]]]
                    ) -> dict[str, str]:
    """Enrol ``terminals`` (id → role) at the demo site and import ``rows`` (kind → [(key, data)]); the tokens."""
    from sync.central.db import now_text, write_transaction
    from sync.central.reference import RowChange, apply_changes
    from sync.central.storage import CentralStore

    store = CentralStore.open(str(db))
    try:
        tokens = {tid: store.enrol(role, SITE, tid).token for tid, role in terminals.items()}  # type: ignore[arg-type]
        with write_transaction(store.engine) as conn:
            for kind, kind_rows in rows.items():
                apply_changes(conn, SITE, kind, [RowChange(k, "upsert", d) for k, d in kind_rows], replace=False,
                              changed_at=now_text())
    finally:
        store.close()
    return tokens


def top_up(work: Path, url: str, token: str, amounts: dict[str, int]) -> int:
    """The service centre tops cards up (card number → fen) and pushes; returns the top-ups made."""
    store = Store.open(work / "counter-1.db", "counter-1", extra_migrations=(CANTEEN_MIGRATIONS, apply.MIGRATIONS))
    client = SyncClient(store, url, token, settings=SyncSettings(pull_interval_s=3600, heartbeat_interval_s=3600))
    try:
        client.sync_once(pull=True, heartbeat=False)
        now = lambda: dt.datetime.now().astimezone()  # noqa: E731
        payments = CardPayments(store, card_facts(ReferenceData(store), store), CardLimits(), now,
                                online_check(store, 300, now))
        for card_no, fen in amounts.items():
            payments.topup(card_no, fen, "cash", "staff-1")
        client.sync_once(pull=False, heartbeat=False)
        return len(amounts)
    finally:
        client.stop()
        store.close()


def wait_result(shows: list[Any], after: int, screens: tuple[str, ...], pump: Callable[[], None]) -> Any:
    """The first of ``screens`` shown after index ``after`` (pumping the window meanwhile); RuntimeError if none."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        pump()
        found = next((s for s in shows[after:] if s.screen in screens), None)
        if found is not None:
            return found
        time.sleep(0.01)
    seen = [s.screen for s in shows[after:]]
    raise RuntimeError(f"the terminal showed none of {screens} in time (it showed {seen or 'nothing new'})")


def ledger_check(db: Path) -> dict[str, int]:
    """The central ledger's sum and the entries it posted (read from its database)."""
    from sync.central.storage import CentralStore

    store = CentralStore.open(str(db))
    try:
        with store.engine.connect() as conn:
            total = conn.exec_driver_sql("SELECT coalesce(sum(amount_fen), 0) FROM card_movements").scalar()
            payments = conn.exec_driver_sql("SELECT count(*) FROM card_entries WHERE type = 'payment'").scalar()
            voids = conn.exec_driver_sql("SELECT count(*) FROM card_entries WHERE type = 'void'").scalar()
        return {"sum_fen": int(total), "payments": int(payments), "voids": int(voids)}
    finally:
        store.close()
