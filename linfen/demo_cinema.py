"""The cinema demo: a film screening at the party-mass service centre, from tickets to the door.

    linfen demo --role cinema        (also part of ``make demo``)

The simulator (``linfen sim --role cinema``: the community-card reader through pcscd + vpcd and the
ticket printer) and the central run as their own processes; the cinema terminal in this one with
its window offscreen.  Two screenings start in an hour: a free one, and a small priced one (5 元,
free for special-care and disabled residents) with eight seats.  Residents choose a screening and
tap their card: the elderly get aisle seats, the ninth at the small one is told it is full and
offered the next, a cloned card is refused, a second tap for the same screening gets the same
ticket back.  Then staff open the door: tickets enter by their QR or by tapping the card, once.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hardware_sim import personas
from kiosk.config import Cinema
from linfen.demo_cards import CardDemo, card_rows, ledger_check, screenshot_pump, wait_result

FREE, PRICED = "demo-free", "demo-priced"
CLONE = "P005"
RESULTS = ("ticket", "refused", "full", "error")


def screenings(now: dt.datetime) -> list[tuple[str, dict[str, Any]]]:
    """Two screenings an hour from ``now`` (the central's ``screening`` rows)."""
    start = (now + dt.timedelta(hours=1)).replace(second=0, microsecond=0).isoformat()
    later = (now + dt.timedelta(hours=3)).replace(second=0, microsecond=0).isoformat()
    base = {"hall": "一楼多功能厅", "hall_en": "Ground-floor hall"}
    return [
        (FREE, {"screening_id": FREE, "title": "地道战", "title_en": "Tunnel Warfare", "starts_at": start,
                "seats": 60, "row_seats": 10, "aisle_after": [5], "price_fen": 0, **base}),
        (PRICED, {"screening_id": PRICED, "title": "你好，李焕英", "title_en": "Hi, Mom", "starts_at": start,
                  "seats": 8, "row_seats": 4, "price_fen": 500, "free_groups": ["special_care", "disabled"], **base}),
        ("demo-later", {"screening_id": "demo-later", "title": "你好，李焕英", "title_en": "Hi, Mom",
                        "starts_at": later, "seats": 60, "row_seats": 10, "aisle_after": [5], "price_fen": 500,
                        "free_groups": ["special_care", "disabled"], **base}),
    ]


class Audience:
    """Residents at the terminal: choose a screening, tap, wait, lift the card."""

    def __init__(self, ui: Any, sim: Any, shows: list[Any], pump: Any) -> None:
        self.ui, self.sim, self.shows, self.pump = ui, sim, shows, pump
        self.outcomes: Counter[str] = Counter()
        self.tickets: list[dict[str, Any]] = []

    def tap(self, person: personas.Persona, card: str = "genuine") -> Any:
        """Tap ``person``'s card and wait for what the terminal answers."""
        mark = len(self.shows)
        self.sim.post("/present", {"device": "ccard", "persona": person.persona_id, "card": card})
        shown = wait_result(self.shows, mark, (*RESULTS, "entry_result"), self.pump)
        self.sim.post("/remove", {"device": "ccard"})
        time.sleep(0.45)  # pcscd notices the card has gone at its next poll (~0.4 s)
        return shown

    def take(self, person: personas.Persona, screening: str, card: str = "genuine") -> str:
        """One resident takes a ticket; returns ``ticket`` or what refused it."""
        mark = len(self.shows)
        self.ui.app.terminal.ui(f"screening:{screening}")
        chosen = wait_result(self.shows, mark, ("present", "full"), self.pump)
        # A full screening says so at once and offers the next one: nobody taps for it.
        shown = chosen if chosen.screen == "full" else self.tap(person, card)
        outcome = shown.screen if shown.screen in ("ticket", "full") else str(shown.data.get("code") or shown.screen)
        if shown.screen == "ticket":
            self.tickets.append({**shown.data["ticket"], "persona": person.persona_id})
        self.outcomes[outcome] += 1
        self.ui.app.terminal.ui("dismiss")
        self.pump()
        return outcome


def run_cinema_headless(residents: int, timing: str, report_path: Path | None, out_dir: Path,
                        workdir: Path | None = None) -> dict[str, Any]:
    """A screening's tickets and door through the whole stack offscreen; return (and write) the report."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from kiosk.voice import Speaker
    from ui.app import application
    from ui.cinema_app import CinemaUi

    qt = application()
    work = workdir or Path(tempfile.mkdtemp(prefix="linfen-cinema-demo-"))
    people = list(personas.load())
    demo = CardDemo(work, timing, "cinema", {
        "card": card_rows(people), "screening": screenings(dt.datetime.now().astimezone())},
        {p.ccard_uid: 5000 for p in people})
    try:
        config = demo.config.model_copy(update={"cinema": Cinema()})
        shows: list[Any] = []
        ui = CinemaUi(config, observer=shows.append, speaker=Speaker(enabled=False, volume=0))
        ui.window.resize(1280, 800)
        ui.window.show()
        ui.app.base.sync.sync_once(pull=True, heartbeat=False)
        # The idle screen is saved once the pull brought what is on.
        pump, shots = screenshot_pump(qt, ui, out_dir, "cinema", lambda screen: screen != "screenings"
                                      or bool(ui.window._last_show.data.get("screenings")))

        for _ in range(40):  # the idle screen lists what the pull brought
            pump()
            time.sleep(0.02)
        audience = Audience(ui, demo.sim, shows, pump)
        elderly = sorted((p for p in people if p.persona_id != CLONE), key=lambda p: p.birth)
        started = time.monotonic()
        for person in elderly[:9]:  # eight seats: the ninth is told it is full and offered the next
            audience.take(person, PRICED)
        for person in elderly[9:9 + max(1, residents)]:
            audience.take(person, FREE)
        audience.take(elderly[9], FREE)  # the same card again: the same ticket, never a second
        audience.take(personas.by_id(CLONE), FREE, card="clone")
        entries = door(ui, audience, pump)
        duration = time.monotonic() - started
        ui.app.base.sync.sync_once(pull=True, heartbeat=False)
        old = {p.persona_id for p in people if p.age_on(dt.date.today()) >= 80 or p.disabled}
        report = {
            "residents": sum(audience.outcomes.values()), "timing": timing,
            "tickets": audience.outcomes["ticket"], "outcomes": dict(sorted(audience.outcomes.items())),
            "paid_tickets": sum(1 for t in audience.tickets if t["price_fen"] > 0),
            "aisle_seats_80_or_disabled": sum(1 for t in audience.tickets if t["aisle"] and t["persona"] in old),
            "tickets_80_or_disabled": sum(1 for t in audience.tickets if t["persona"] in old),
            "entries": entries, "ledger": ledger_check(demo.central_db), "duration_s": round(duration, 1),
            "terminal_errors": len(ui.app.terminal.errors), "screenshots": shots,
        }
        ui.close()
    finally:
        demo.close()
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def door(ui: Any, audience: Audience, pump: Any) -> dict[str, int]:
    """Staff open the door for the free screening: one ticket by its QR, one by its card, the QR again."""
    ui.app.terminal.ui(f"entry:{FREE}")
    time.sleep(0.2)
    pump()
    results: Counter[str] = Counter()
    free = [t for t in audience.tickets if t["screening_id"] == FREE]
    if len(free) >= 2:
        for qr in (free[0]["qr"], free[0]["qr"]):  # the second time is refused: a ticket enters once
            mark = len(audience.shows)
            ui.app.terminal.scan(qr)
            shown = wait_result(audience.shows, mark, ("entry_result",), pump)
            results[str(shown.data.get("result"))] += 1
        shown = audience.tap(personas.by_id(free[1]["persona"]))
        results[str(shown.data.get("result"))] += 1
    ui.app.terminal.ui("entry_off")
    pump()
    return dict(results)
