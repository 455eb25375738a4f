"""Child process of the crash-safety test: records payments through the store until it is killed.

Usage: ``echo go | python tests/store_crash_child.py DBPATH``.  The child imports ``kiosk.store``,
then waits for the line ``go`` on stdin before it opens the database, so the parent can start the
next child (and pay for the interpreter start-up) while the current one is still writing.  Each loop
is one store action that inserts a payment with the next id and emits its ``payment.recorded``
event; after the commit the id is printed on its own line and flushed, so the parent knows which
payments were committed.

Start-up is kept light because the parent starts this script 200 times: only ``kiosk.store`` is
imported, and numpy is kept out (sqlite-utils imports it, when present, only to map numpy types to
column types, which this script never uses; that saves about 70 ms per start).
"""

from __future__ import annotations

import sys
import time

TERMINAL = "crash-test-01"

#: The child stops by itself after this long (seconds), in case the parent died without killing it.
MAX_RUN_S = 120.0


def main(argv: list[str]) -> int:
    """Record payments in a loop, one action each, printing each committed id."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]  # see the module docstring
    from sqlite_utils.migrations import Migrations  # already imported by kiosk.store

    from kiosk.store import Store

    payments = Migrations("crash_payments")

    @payments()
    def m001_payments(db) -> None:
        db.execute("CREATE TABLE payments (id INTEGER PRIMARY KEY, amount_fen INTEGER NOT NULL, note TEXT)")

    if sys.stdin.readline().strip() != "go":
        return 0  # the parent went away before needing this child
    store = Store.open(argv[1], TERMINAL, extra_migrations=[payments])
    out = sys.stdout
    deadline = time.monotonic() + MAX_RUN_S
    while time.monotonic() < deadline:
        with store.action() as act:
            (payment_id,) = act.db.execute("SELECT coalesce(max(id), 0) + 1 FROM payments").fetchone()
            amount_fen = 100 + payment_id % 900
            act.db.execute(
                "INSERT INTO payments (id, amount_fen, note) VALUES (?, ?, ?)",
                [payment_id, amount_fen, f"canteen lunch {payment_id}"],
            )
            act.emit(
                "payment.recorded", {"payment_id": payment_id, "amount_fen": amount_fen, "card": "C-0042"}
            )
        out.write(f"{payment_id}\n")
        out.flush()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
