"""The canteen demo: a morning at community canteen 1, from top-ups to the day close, through the whole stack.

    linfen demo --role canteen        (also part of ``make demo``)

The hardware simulator runs as its own process (``linfen sim --role canteen``: the community-card
reader through pcscd + vpcd, the receipt printer, the card master key), the central service as
another (``linfen central`` on SQLite), the canteen reader app in this one with its window offscreen.
Residents are topped up at the service centre (a counter terminal's journal, pushed to the central),
then come to lunch: each chooses a set meal on the screen and taps the card; one brings a cloned card,
one has too little money, one card was reported lost.  The clerk voids one meal.  After lunch the
reader syncs and closes the day; the report gives the meals per set, the subsidies per tier, the
refusals, tap-to-paid times, the Z report and the central's ledger check.
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
from kiosk.config import Canteen
from linfen.demo import percentiles
from linfen.demo_cards import CardDemo, card_rows, ledger_check, screenshot_pump, wait_result

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "config" / "policy" / "putuo-canteen-2025-12.json"
MENU = ROOT / "config" / "canteen" / "menu.json"
MEALS = ("set-a", "set-b", "set-c", "set-d")
CLONE, POOR, LOST = "P005", "P001", "P007"  # a cloned card, too little money, a card reported lost


class Lunch:
    """The residents at the reader: choose, tap, wait for the result, lift the card."""

    def __init__(self, app: Any, sim: Any, pump: Any) -> None:
        self.app = app
        self.sim = sim
        self.pump = pump  # processes the window's events while waiting
        self.outcomes: Counter[str] = Counter()
        self.meals: Counter[str] = Counter()
        self.subsidy_fen = 0
        self.paid_entries: list[str] = []

    def serve(self, person: personas.Persona, meal: str, shows: list[Any], card: str = "genuine") -> str:
        """One resident; returns ``paid`` or the refusal code."""
        mark = len(shows)
        self.app.terminal.ui(f"meal:{meal}")
        self.sim.post("/present", {"device": "ccard", "persona": person.persona_id, "card": card})
        shown = wait_result(shows, mark, ("paid", "refused", "error"), self.pump)
        self.sim.post("/remove", {"device": "ccard"})
        code = "paid" if shown.screen == "paid" else str(shown.data.get("code") or shown.data.get("reason"))
        self.outcomes[code] += 1
        if shown.screen == "paid":
            self.meals[meal] += 1
            for line in shown.data.get("lines", []):
                if line.get("kind") == "subsidy":
                    self.subsidy_fen += -int(line.get("amount_fen") or 0)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and self.app.terminal.flow.state not in ("idle",):
            self.app.terminal.ui("dismiss")
            self.pump()
            time.sleep(0.05)
        time.sleep(0.45)  # pcscd notices the card has gone at its next poll (~0.4 s)
        return code


def run_canteen_headless(residents: int, timing: str, report_path: Path | None, out_dir: Path,
                         workdir: Path | None = None) -> dict[str, Any]:
    """A canteen lunch through the whole stack offscreen; return (and write) the report."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from kiosk.voice import Speaker
    from ui.app import application
    from ui.canteen_app import CanteenUi

    qt = application()
    work = workdir or Path(tempfile.mkdtemp(prefix="linfen-canteen-demo-"))
    people = list(personas.load())
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    menu = json.loads(MENU.read_text(encoding="utf-8"))["rows"]
    lost = personas.by_id(LOST).ccard_uid
    demo = CardDemo(work, timing, "canteen", {
        "card": card_rows(people), "policy": [("putuo-canteen:1", policy)], "menu": [(r["item_id"], r) for r in menu],
        "blacklist": [(lost, {"card_no": lost, "reason": "挂失"})]},
        {p.ccard_uid: 500 if p.persona_id == POOR else 20_000 for p in people if p.persona_id != LOST})
    try:
        config = demo.config.model_copy(update={"canteen": Canteen(menu_file=str(MENU), policy_file=str(POLICY))})
        shows: list[Any] = []
        ui = CanteenUi(config, observer=shows.append, speaker=Speaker(enabled=False, volume=0))
        assert ui.app is not None
        app = ui.app
        ui.window.resize(1280, 800)
        ui.window.show()
        app.base.sync.sync_once(pull=True, heartbeat=False)  # type: ignore[union-attr]
        pump, shots = screenshot_pump(qt, ui, out_dir, "canteen")
        for _ in range(20):
            pump()
            time.sleep(0.01)
        lunch = Lunch(app, demo.sim, pump)
        elderly = [p for p in people if p.age_on(dt.date.today()) >= 60 and p.persona_id not in (CLONE, POOR, LOST)]
        started = time.monotonic()
        for i, person in enumerate(elderly[:max(1, residents)]):
            lunch.serve(person, MEALS[i % len(MEALS)], shows)
        lunch.serve(personas.by_id(CLONE), "set-b", shows, card="clone")
        lunch.serve(personas.by_id(POOR), "set-a", shows)
        lunch.serve(personas.by_id(LOST), "set-c", shows)
        duration = time.monotonic() - started
        recent = app.terminal.recent_payments()
        if recent:
            app.terminal.void(recent[0]["entry_id"], "顾客退餐", "staff-7")
            time.sleep(0.5)
            pump()
        app.base.sync.sync_once(pull=True, heartbeat=False)  # type: ignore[union-attr]
        day = dt.datetime.now().astimezone().date().isoformat()
        z = app.day_close.close_day(day, "staff-7")
        app.base.sync.sync_once(pull=False, heartbeat=False)  # type: ignore[union-attr]
        ledger = ledger_check(demo.central_db)
        timed = [ms for screen, ms in app.terminal.tap_to_result_ms if screen == "paid"]
        report = {
            "residents": sum(lunch.outcomes.values()), "timing": timing, "topups": demo.topups,
            "paid": lunch.outcomes["paid"], "refused": {k: v for k, v in lunch.outcomes.items() if k != "paid"},
            "meals_by_set": dict(sorted(lunch.meals.items())), "subsidy_fen_on_screen": lunch.subsidy_fen,
            "tap_to_paid_ms": percentiles(timed, ("p50", "p95", "max")) if timed else {},
            "voids": z.body["voids"]["count"], "z_number": z.number, "z_hash": z.hash[:16],
            "z_paid_fen": z.body["payments"]["paid_fen"], "z_subsidy_fen": z.body["payments"]["subsidy_fen"],
            "z_by_tier": {k: v["count"] for k, v in z.body["by_tier"].items()},
            "ledger": ledger, "duration_s": round(duration, 1),
            "terminal_errors": len(app.terminal.errors), "screenshots": shots,
        }
        ui.close()
    finally:
        demo.close()
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report
