"""Child process of the hall crash test: takes tickets with their visit rows until it is killed.

Usage: ``echo go | python tests/hall_crash_child.py DBPATH``.  The child imports the hall queue and
the visit log, then waits for ``go`` on stdin before it opens the database (so the parent can start
the next child early).  Each loop is one ``take_ticket(..., visit=, visits=)``: a new resident (a
new ticket) or, every fifth loop, an earlier resident again (a reprint).  After the call returns
(the action committed) the child prints ``T <ticket_id>`` or ``R <ticket_id>`` and flushes.  Every
tenth loop it also acknowledges what is pending and prunes it, so kills land inside prunes too.
"""

from __future__ import annotations

import sys
import time

TERMINAL = "hall-crash-01"
KEY = b"linfen-crash-test-person-key-0123456789"
SERVICES = [{"code": code, "name_zh": f"业务{code}", "name_en": f"Service {code}", "daily_cap": 999}
            for code in "ABCDEFGHJK"]

#: The child stops by itself after this long (seconds), in case the parent died without killing it.
MAX_RUN_S = 120.0


def id_number(n: int) -> str:
    """An 18-character ID-shaped number for resident ``n`` (the check digit does not matter here)."""
    return f"310107{19500101 + n % 500000:08d}{n % 1000:03d}X"


def main(argv: list[str]) -> int:
    """Take tickets in a loop, one action each, printing each committed ticket id."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]  # start-up: see store_crash_child.py
    import datetime as dt

    from kiosk.hall import HALL_MIGRATIONS, HallQueue, ServiceCatalog
    from kiosk.priority import person_key
    from kiosk.store import Store
    from kiosk.visit_log import VISIT_MIGRATIONS, Visit, VisitLog

    if sys.stdin.readline().strip() != "go":
        return 0
    store = Store.open(argv[1], TERMINAL, extra_migrations=(HALL_MIGRATIONS, VISIT_MIGRATIONS))
    queue = HallQueue(store, ServiceCatalog.from_data(SERVICES))
    visits = VisitLog(store, KEY)
    (n,) = store.db.execute("SELECT COUNT(*) FROM visits").fetchone()
    out = sys.stdout
    deadline = time.monotonic() + MAX_RUN_S
    while time.monotonic() < deadline:
        n += 1
        resident = n - 3 if n % 5 == 0 and n > 3 else n  # every fifth: someone who already holds a ticket
        number = id_number(resident)
        service = SERVICES[resident % len(SERVICES)]["code"]
        issued = queue.take_ticket(service, person_key(number, KEY), masked_name="张*明",
                                   visit=Visit(number, "张三明", "idcard", 36.5, "green"), visits=visits)
        out.write(f"{'R' if issued.reprint else 'T'} {issued.ticket.id}\n")
        out.flush()
        if n % 10 == 0:
            store.mark_acked(e.id for e in store.pending_events(1000))
            store.prune_acked(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
