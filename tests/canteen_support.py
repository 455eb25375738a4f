"""A canteen world for end-to-end tests: a real central on loopback, pcscd + vpcd readers, simulated cards.

    world = CanteenWorld(tmp_path, pcscd)             # central with the Putuo policy and the personas' cards
    reader = world.open_reader("canteen-1", "Canteen VPCD")
    world.topup("4B45B478", 10_000)                   # at the service centre (a counter terminal), synced
    reader.sync(); reader.tap(persona); reader.wait_screen("paid")
    world.close()

Readers are real :func:`kiosk.canteen.setup.open_canteen` apps (store, sync client, card loop,
authenticating driver); the service centre's top-up is a counter terminal's
:class:`~kiosk.canteen.payments.CardPayments` pushing through its own sync client.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardware_sim import personas
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.sscard import CCARD_FAULTS, make_ccard
from hardware_sim.timing import Timing
from kiosk.canteen.card_data import card_facts, online_check
from kiosk.canteen.payments import CardPayments
from kiosk.canteen.setup import CanteenApp, open_canteen
from kiosk.canteen.wallet import CardLimits
from kiosk.config import load_config
from kiosk.reference import ReferenceData
from kiosk.runtime.screens import Show
from kiosk.store import Store
from kiosk.voice import Speaker
from sync import apply
from sync.client import SyncClient, SyncSettings
from tests.sync_support import CentralHarness

ROOT = Path(__file__).resolve().parent.parent
MASTER = bytes.fromhex("5A1F9A0B7D2E4C6A8B5F0E1D2C3B4A77")
SITE = "linfen"
POLICY = ROOT / "config" / "policy" / "putuo-canteen-2025-12.json"
MENU = ROOT / "config" / "canteen" / "menu.json"
WAIT_S = 10.0
FAST = SyncSettings(pull_interval_s=3600, heartbeat_interval_s=3600)


def wait_for(condition: Callable[[], Any], timeout: float = WAIT_S, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def card_row(p: personas.Persona, **extra: Any) -> dict[str, Any]:
    """The central's ``card`` row of a persona's community card (masked name, birth year, groups)."""
    groups = [g for g, on in (("special_care", p.special_care),) if on]
    return {"card_no": p.ccard_uid, "status": "active", "masked_name": p.name[0] + "*" + p.name[-1],
            "birth_year": int(p.birth[:4]), "groups": groups, "dibao": False, "hukou": "local", **extra}


class Reader:
    """One running canteen reader app, with what it showed and said."""

    def __init__(self, app: CanteenApp, slot: PcscCardSlot) -> None:
        self.app = app
        self.slot = slot
        self.shows: list[Show] = []
        self.says: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def on_show(self, show: Show) -> None:
        with self.lock:
            self.shows.append(show)

    def on_say(self, key: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.says.append((key, dict(params)))

    @property
    def terminal(self) -> Any:
        """The reader's CanteenTerminal."""
        return self.app.terminal

    def sync(self) -> None:
        """Push the outbox and pull the feed now."""
        assert self.app.base.sync is not None
        self.app.base.sync.sync_once(pull=True, heartbeat=False)

    def tap(self, persona: personas.Persona) -> None:
        """Put the persona's card on the reader (it stays until :meth:`lift`)."""
        self.slot.present(persona)

    def lift(self) -> None:
        """Take the card away, and wait until pcscd sees the reader empty."""
        self.slot.remove(wait=True)

    def screen(self) -> Show | None:
        """The last screen shown."""
        with self.lock:
            return self.shows[-1] if self.shows else None

    def wait_screen(self, name: str, after: int = 0) -> Show:
        """The first screen ``name`` shown after the ``after``-th show."""
        def found() -> Show | None:
            with self.lock:
                return next((s for s in self.shows[after:] if s.screen == name), None)
        return wait_for(found, what=f"screen {name!r} (shown: {[s.screen for s in self.shows[after:]]})")

    def said(self) -> list[str]:
        """Every prompt key said so far."""
        with self.lock:
            return [k for k, _ in self.says]

    def pay_meal(self, persona: personas.Persona, item_id: str = "set-a") -> Show:
        """Self-pay: choose a set meal, tap the card, wait for the result, lift the card; the result screen."""
        mark = len(self.shows)
        self.terminal.ui(f"meal:{item_id}")
        self.wait_screen("present", mark)
        self.tap(persona)
        result = wait_for(lambda: next((s for s in self.shows[mark:] if s.screen in ("paid", "refused", "error")),
                                       None), what="a payment result")
        self.lift()
        self.terminal.ui("dismiss")
        return result


class CanteenWorld:
    """A central, the card master key, and canteen readers on vpcd readers."""

    def __init__(self, tmp: Path, pcscd: PcscdHarness, cards: list[dict[str, Any]] | None = None,
                 timing: Timing = Timing.FAST) -> None:
        self.tmp = tmp
        self.timing = timing
        self.pcscd = pcscd
        self.central = CentralHarness(tmp / "central.db")
        self.central.start()
        self.key_file = tmp / "card-master.key"
        self.key_file.write_text(MASTER.hex() + "\n")
        self.key_file.chmod(0o600)
        self.people = personas.load()
        rows = cards if cards is not None else [card_row(p) for p in self.people]
        self.central.load(SITE, "card", [(r["card_no"], r) for r in rows])
        self.central.load(SITE, "policy", [("putuo-canteen:1", json.loads(POLICY.read_text(encoding="utf-8")))])
        self.readers: list[Reader] = []
        self.slots: list[PcscCardSlot] = []
        self._counter: tuple[Store, SyncClient, CardPayments] | None = None

    def persona(self, persona_id: str) -> personas.Persona:
        """A persona by id."""
        return personas.by_id(persona_id)

    def open_reader(self, terminal_id: str, vpcd_reader: str, *, mode: str = "self", limits: str = "",
                    fresh_s: float = 300.0) -> Reader:
        """A running canteen app on ``vpcd_reader`` (slot 0), enrolled at the central and synced once."""
        token = self.tmp / f"{terminal_id}.token"
        token.write_text(self.central.enrol(terminal_id, SITE, role="canteen"))
        token.chmod(0o600)
        config_path = self.tmp / f"{terminal_id}.toml"
        config_path.write_text(f"""
role = "canteen"
terminal_id = "{terminal_id}"
site = "{SITE}"
central_url = "{self.central.url}"
[devices.ccard]
reader = "{self.pcscd.pyscard_name(vpcd_reader)}"
[card_keys]
master_key_file = "{self.key_file}"
[store]
path = "{self.tmp / terminal_id}.db"
[sync]
token_file = "{token}"
[canteen]
mode = "{mode}"
menu_file = "{MENU}"
policy_file = "{POLICY}"
[canteen.limits]
fresh_s = {fresh_s}
{limits}
""", encoding="utf-8")
        slot = PcscCardSlot("ccard", self.pcscd, vpcd_reader,
                            functools.partial(make_ccard, master_key=MASTER, timing=self.timing), CCARD_FAULTS)
        self.slots.append(slot)
        holder: dict[str, Reader] = {}
        app = open_canteen(load_config(config_path), speaker=Speaker(False, 0),
                           on_show=lambda s: holder["r"].on_show(s) if "r" in holder else None,
                           on_say=lambda k, p: holder["r"].on_say(k, p) if "r" in holder else None)
        reader = holder["r"] = Reader(app, slot)
        self.readers.append(reader)
        reader.sync()
        return reader

    def counter(self) -> tuple[Store, SyncClient, CardPayments]:
        """The service centre's counter terminal (top-ups), enrolled and synced."""
        if self._counter is None:
            store = Store.open(self.tmp / "counter.db", "counter-1", extra_migrations=[*_money_migrations(),
                                                                                        apply.MIGRATIONS])
            client = SyncClient(store, self.central.url, self.central.enrol("counter-1", SITE, role="counter"),
                                settings=FAST)
            client.sync_once(pull=True, heartbeat=False)
            now = lambda: dt.datetime.now().astimezone()  # noqa: E731
            payments = CardPayments(store, card_facts(ReferenceData(store), store), CardLimits(), now,
                                    online_check(store, 300, now))
            self._counter = (store, client, payments)
        return self._counter

    def topup(self, card_no: str, amount_fen: int, staff: str = "staff-1") -> None:
        """A cash top-up at the service centre, pushed to the central."""
        _, client, payments = self.counter()
        payments.topup(card_no, amount_fen, "cash", staff)
        client.sync_once(pull=False, heartbeat=False)

    def statement(self, card_no: str) -> dict[str, Any]:
        """The card's statement from the central's admin API."""
        import httpx

        response = httpx.get(f"{self.central.url}/v1/card/{card_no}/statement",
                             headers={"Authorization": f"Bearer {self.central.admin_token}",
                                      "X-Linfen-Protocol": "1"}, timeout=5)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        """Close every reader, the counter and the central; take the cards off."""
        for reader in self.readers:
            reader.app.close()
        for slot in self.slots:
            slot.remove(wait=True)
        if self._counter is not None:
            self._counter[1].stop()
            self._counter[0].close()
        self.central.stop()


def _money_migrations() -> tuple[Any, ...]:
    from kiosk.canteen.journal import CANTEEN_MIGRATIONS

    return (CANTEEN_MIGRATIONS,)
