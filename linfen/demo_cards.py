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


class CardDemo:
    """The simulator and the central as their own processes, one card terminal enrolled, the cards topped up.

    ``rows`` are the central's reference rows (kind → [(key, data)]); ``amounts`` what the service
    centre tops each card up with.  :attr:`config` is the simulator's terminal config pointed at the
    central with the terminal's token.  Close it to stop both processes.
    """

    def __init__(self, work: Path, timing: str, role: str, rows: dict[str, list[tuple[str, dict[str, Any]]]],
                 amounts: dict[str, int]) -> None:
        """Start the simulator for ``role``, prepare and start the central, top up, and write the token file."""
        from kiosk.config import load_config
        from linfen.demo import CentralProcess, SimProcess

        self.terminal_id = f"{role}-1"
        self.sim = SimProcess(work, timing, 0, role=role)
        self.central: Any = None
        try:
            tokens = prepare_central(work / "central.db", {self.terminal_id: role, "counter-1": "counter"}, rows)
            self.central = CentralProcess(work / "central.db")
            token_file = work / f"{self.terminal_id}.token"
            token_file.write_text(tokens[self.terminal_id] + "\n")
            token_file.chmod(0o600)
            self.topups = top_up(work, self.central.url, tokens["counter-1"], amounts)
            config = load_config(self.sim.config_path)
            self.config = config.model_copy(update={
                "terminal_id": self.terminal_id, "site": SITE, "central_url": self.central.url,
                "sync": config.sync.model_copy(update={"token_file": str(token_file)})})
        except BaseException:
            self.close()
            raise
        self.central_db = work / "central.db"

    def close(self) -> None:
        """Stop the simulator and the central."""
        self.sim.stop()
        if self.central is not None:
            self.central.stop()


def screenshot_pump(qt: Any, ui: Any, out_dir: Path, prefix: str, ready: Callable[[str], bool] = lambda s: True,
                    ) -> tuple[Callable[[], None], dict[str, str]]:
    """A function that processes the window's events and saves each new screen once (when ``ready``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots: dict[str, str] = {}

    def pump() -> None:
        qt.processEvents()
        screen = ui.window_screen()
        if screen and screen not in shots and ready(screen):
            path = out_dir / f"{prefix}-{screen}.png"
            ui.window.grab().save(str(path))
            shots[screen] = str(path)

    return pump, shots
