"""Community canteen figures (issue 12): tap-to-paid over pcscd+vpcd, and a day of 1,100 meals that syncs and closes.

1. **Tap to paid**: a canteen reader app (authenticating card reader, policy pricing, journal with
   ``synchronous=FULL``) on a vpcd reader, residents choosing a set meal and tapping their card; timed
   from the moment the reader saw the card to the paid screen.  Zero-delay cards (software cost;
   target p99 <= 30 ms) and realistic cards (4 ms per APDU, 30 ms for the card's AES-CMAC; target
   p95 <= 300 ms).  pcscd's own presence polling (up to ~0.4 s in vpcd) comes before the reader
   sees the card and is not a cost of this software; the time from the card's insertion is printed too.
2. **A day**: three readers (their own stores and sync clients) take a simulated day of ~1,100 meals
   from :mod:`hardware_sim.canteen_traffic` (prices and subsidies from the Putuo policy), push to a
   real central on loopback, and close the day; the central's ledger must sum to zero and equal the
   three Z reports.

``--quick`` runs 40 + 20 taps and a day of 300 meals.  The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware_sim import canteen_traffic
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.runner import PCSC_READERS
from hardware_sim.timing import Timing
from kiosk.canteen.day_close import Z_MIGRATIONS, DayClose
from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.canteen.menu import load_menu_file, todays_menu
from kiosk.canteen.payments import CardFacts, CardPayments
from kiosk.canteen.policy import load_policy
from kiosk.canteen.pricing import Holder, quote
from kiosk.canteen.wallet import CardLimits, Snapshot
from kiosk.store import Store
from sync import apply
from sync.client import SyncClient
from tests.canteen_support import FAST, MENU, POLICY, SITE, CanteenWorld

TZ = dt.timezone(dt.timedelta(hours=8))


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank, rounded to 0.1."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))], 1)


def tap_to_paid(pcscd: PcscdHarness, timing: Timing, taps: int, work: Path) -> dict[str, float]:
    """Residents choose a set meal and tap; tap (reader saw the card) → paid screen, and insertion → paid."""
    world = CanteenWorld(work, pcscd, timing=timing)
    try:
        people = world.people
        for p in people:
            world.topup(p.ccard_uid, 100_000)
        reader = world.open_reader("canteen-1", "Canteen VPCD")
        meals = ["set-a", "set-b", "set-c", "set-d"]
        from_insert: list[float] = []
        results: dict[str, int] = {}
        for i in range(taps):
            p = people[i % len(people)]
            t0 = time.monotonic()
            shown = reader.pay_meal(p, meals[(i // len(people)) % len(meals)])
            results[shown.screen] = results.get(shown.screen, 0) + 1
            from_insert.append((time.monotonic() - t0) * 1000)
        timed = [ms for screen, ms in reader.terminal.tap_to_result_ms if screen == "paid"]
        reader.sync()
        return {"taps": taps, "paid": results.get("paid", 0), "refused": results.get("refused", 0),
                "p50_ms": pct(timed, 0.5), "p95_ms": pct(timed, 0.95), "p99_ms": pct(timed, 0.99),
                "max_ms": round(max(timed), 1), "mean_ms": round(statistics.fmean(timed), 1),
                "choose_to_result_p95_ms": pct(from_insert, 0.95)}
    finally:
        world.close()


def a_day(pcscd: PcscdHarness, meals_wanted: int, work: Path) -> dict[str, float]:
    """Three readers take a day of meals, push, and close; the ledger is checked against the Z reports."""
    world = CanteenWorld(work, pcscd, cards=[])
    try:
        people = canteen_traffic.diners(max(600, meals_wanted * 3), avoid=[p.ccard_uid for p in world.people])
        rows = {d.card_no: d.card_row() for d in people}
        world.central.load(SITE, "card", list(rows.items()))
        for d in people:
            world.counter()[2].topup(d.card_no, 30_000, "cash", "staff-1")
        t0 = time.monotonic()
        world.counter()[1].sync_once(pull=False, heartbeat=False)
        topup_sync_s = time.monotonic() - t0
        menu_rows = load_menu_file(MENU)
        day = dt.date(2026, 12, 3)
        menu = {m.item_id: m for m in todays_menu(menu_rows, SITE, day)}
        sets = [i for i, m in menu.items() if m.kind == "set_meal"]
        dishes = [i for i, m in menu.items() if m.kind == "dish" and i != "mifan"]
        meals = canteen_traffic.week(people, day, sets, dishes, "mifan", days=1, meals_per_day=meals_wanted)
        policy = load_policy(POLICY)
        readers = {}
        for terminal_id in canteen_traffic.CANTEENS:
            store = Store.open(work / f"{terminal_id}.db", terminal_id,
                               extra_migrations=(CANTEEN_MIGRATIONS, Z_MIGRATIONS, apply.MIGRATIONS))
            client = SyncClient(store, world.central.url, world.central.enrol(terminal_id, SITE, role="canteen"),
                                settings=FAST)
            client.sync_once(pull=True, heartbeat=False)
            clock = _MealClock()

            def facts(card_no: str, store: Store = store) -> CardFacts:
                snap = apply.reference_get(store, "balance", card_no)
                return CardFacts(_Card(rows[card_no]), None, Snapshot.from_row(snap) if snap else None)

            readers[terminal_id] = (store, client, CardPayments(store, facts, CardLimits(double_tap_s=0), clock,
                                                                lambda: True), clock)
        paid = refused = 0
        pay_ms: list[float] = []
        t0 = time.monotonic()
        for meal in meals:
            store, client, payments, clock = readers[meal.canteen]
            clock.now = meal.at
            items = [menu[i].as_item(q) for i, q in meal.items]
            row = rows[meal.card_no]
            holder = Holder(row["birth_year"], tuple(row["groups"]), row["dibao"])
            t1 = time.perf_counter()
            result = payments.pay(meal.card_no, items, lambda used, items=items, holder=holder:
                                  quote(items, holder, day, policy, used))
            pay_ms.append((time.perf_counter() - t1) * 1000)
            paid += result.status == "paid"
            refused += result.status == "refused"
        pay_s = time.monotonic() - t0
        t0 = time.monotonic()
        for _, client, _, _ in readers.values():
            client.sync_once(pull=True, heartbeat=False)
        sync_s = time.monotonic() - t0
        z_paid = z_subsidy = 0
        t0 = time.monotonic()
        for store, client, _, _ in readers.values():
            report = DayClose(store).close_day(day.isoformat(), "staff-1")
            z_paid += report.body["payments"]["paid_fen"]
            z_subsidy += report.body["payments"]["subsidy_fen"]
            client.sync_once(pull=False, heartbeat=False)
        close_s = time.monotonic() - t0
        with world.central.store.engine.connect() as conn:
            total = conn.exec_driver_sql("SELECT coalesce(sum(amount_fen), 0) FROM card_movements").scalar()
            card_paid = -conn.exec_driver_sql(
                "SELECT coalesce(sum(amount_fen), 0) FROM card_movements WHERE kind = 'payment' "
                "AND account LIKE 'card:%'").scalar()
            adjustments = conn.exec_driver_sql("SELECT count(*) FROM card_movements WHERE kind = 'adjustment'").scalar()
        for store, client, _, _ in readers.values():
            client.stop()
            store.close()
        return {"meals": len(meals), "paid": paid, "refused": refused, "pay_s": round(pay_s, 2),
                "pay_p99_ms": pct(pay_ms, 0.99), "topup_sync_s": round(topup_sync_s, 2), "sync_s": round(sync_s, 2),
                "close_s": round(close_s, 2), "ledger_sum_fen": int(total), "z_paid_fen": z_paid,
                "ledger_paid_fen": int(card_paid), "z_subsidy_fen": z_subsidy, "adjustments": int(adjustments)}
    finally:
        world.close()


class _MealClock:
    """The reader's clock set to each meal's time (a simulated day runs in seconds)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 3, 11, 0, tzinfo=TZ)

    def __call__(self) -> dt.datetime:
        return self.now


class _Card:
    """A card row as the payments read it (status and the holder's fields)."""

    def __init__(self, row: dict) -> None:
        self.status = row["status"]
        self.offline_limit_fen = None


def main() -> int:
    """Run the figures and print them; the last line is one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="40 + 20 taps and a day of 300 meals")
    args = ap.parse_args()
    fast_n, real_n, day_n = (40, 20, 300) if args.quick else (500, 300, canteen_traffic.MEALS_PER_DAY)
    work = Path(tempfile.mkdtemp(prefix="bench-canteen-"))
    figures: dict[str, float] = {}
    with PcscdHarness(PCSC_READERS) as pcscd:
        fast = tap_to_paid(pcscd, Timing.FAST, fast_n, work / "fast")
        print(f"zero-delay cards, {fast_n} taps: {fast}", flush=True)
        real = tap_to_paid(pcscd, Timing.REALISTIC, real_n, work / "real")
        print(f"realistic cards, {real_n} taps: {real}", flush=True)
        day = a_day(pcscd, day_n, work / "day")
        print(f"a day across 3 readers: {day}", flush=True)
    figures.update({f"fast_tap_to_paid_{k}": v for k, v in fast.items() if k.endswith("_ms")})
    figures.update({f"realistic_tap_to_paid_{k}": v for k, v in real.items() if k.endswith("_ms")})
    figures.update({"fast_taps": fast["taps"], "realistic_taps": real["taps"],
                    "fast_paid": fast["paid"], "realistic_paid": real["paid"]})
    figures.update({f"day_{k}": v for k, v in day.items()})
    figures["day_pay_per_s"] = round(day["meals"] / day["pay_s"], 1) if day["pay_s"] else 0.0
    figures["day_z_equals_ledger"] = int(day["z_paid_fen"] == day["ledger_paid_fen"])
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
