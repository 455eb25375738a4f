"""Child process of the money property test: an offline canteen reader paying cards until it is killed.

Usage: ``python tests/canteen_crash_child.py DBPATH TERMINAL_ID SEED``.  The reader's store was
opened, enrolled and synced by the parent (cards and balances are pulled).  Each loop is one
:meth:`kiosk.canteen.payments.CardPayments.pay` offline (its limits apply), of a random pulled card
for a random basket priced 15 元 with a 3 元 subsidy unless the card had today's; after the action
committed the child prints ``P <entry_id>`` (or ``R <code>`` for a refusal) and flushes.
"""

from __future__ import annotations

import sys
import time

MAX_RUN_S = 60.0  # the child stops by itself after this long, in case the parent died without killing it


class Quote:
    """A 15-yuan meal; 3 yuan of subsidy unless the card had today's."""

    def __init__(self, used: bool, qty: int) -> None:
        self.gross_fen = 1500 * qty
        self.discount_fen = 0
        self.subsidy_fen = 0 if used else 300
        self.paid_fen = self.gross_fen - self.subsidy_fen
        self.subsidy_tier = None if used else "age-80"


def main(argv: list[str]) -> int:
    """Pay in a loop, one action each, printing each committed entry id."""
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    import datetime as dt
    import random

    from kiosk.canteen.card_data import card_facts
    from kiosk.canteen.journal import CANTEEN_MIGRATIONS
    from kiosk.canteen.payments import CardPayments, PaymentError
    from kiosk.canteen.wallet import CardLimits
    from kiosk.reference import ReferenceData
    from kiosk.store import Store
    from sync import apply

    path, terminal_id, seed = argv[1], argv[2], int(argv[3])
    rng = random.Random(seed)
    store = Store.open(path, terminal_id, extra_migrations=(CANTEEN_MIGRATIONS, apply.MIGRATIONS))
    ref = ReferenceData(store)
    cards = sorted((ref.cards() or {}).keys())
    payments = CardPayments(store, card_facts(ref, store), CardLimits(per_day_fen=6000, consecutive_offline=3),
                            lambda: dt.datetime.now().astimezone(), lambda: False)
    started = time.monotonic()
    while time.monotonic() - started < MAX_RUN_S:
        qty = rng.randint(1, 2)
        items = [{"item_id": f"dish-{rng.randint(1, 50)}", "name": "套餐", "qty": qty, "unit_fen": 1500}]
        try:
            result = payments.pay(rng.choice(cards), items, lambda used, qty=qty: Quote(used, qty))
        except PaymentError as exc:
            print(f"R {exc.code}", flush=True)
            continue
        if result.status == "paid" and result.entry is not None:
            print(f"P {result.entry.entry_id}", flush=True)
        else:
            print(f"R {result.refusal.code if result.refusal else result.status}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
