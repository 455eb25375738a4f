"""Hall queue figures: taking a ticket in the store, "next" over HTTP, and call-to-display via SSE.

``take_ticket_p50_ms`` / ``take_ticket_p99_ms``: one ``HallQueue.take_ticket`` (one WAL
transaction with ``synchronous=FULL``, its outbox event, the wait estimate) on a real file.
``next_http_p50_ms`` / ``next_http_p99_ms``: a counter's signed ``POST /next`` through uvicorn on
loopback.  ``call_to_display_p50_ms`` / ``call_to_display_p95_ms``: from the clerk pressing
"next" (before the request is sent) until a display's SSE reader has the call event; target
≤ 500 ms (issue 4).  The figures are printed, never asserted.

Run alone: ``python bench/bench_hall_queue.py [--quick]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import queue as stdqueue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project must be importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.client import HallClient
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.store import Store

SECRET = b"bench-hall-secret-0123456789"
PERSON_KEY = b"bench-person-key-0123456789abcdef"
CARD, PIN = "BE7C4001", "2580"  # the bench clerk's staff card and PIN (each call is checked against the session)
WAIT_S = 10.0  # longest wait for one pushed call, in seconds
SERVICES = [{"code": code, "name_zh": f"业务{code}", "name_en": f"Service {code}", "daily_cap": 999}
            for code in "ABCD"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 3)


def _take_tickets(hall: HallQueue, n: int) -> list[float]:
    ms = []
    for i in range(n):
        start = time.perf_counter()
        hall.take_ticket("ABCD"[i % 4], f"bench-person-{i:06d}-key", priority_reasons=("age80",) if i % 7 == 0 else (),
                         masked_name="张*明")
        ms.append((time.perf_counter() - start) * 1000)
    return ms


def _calls(url: str, n: int) -> tuple[list[float], list[float]]:
    """Press next ``n`` times at window 1; return HTTP round trips and call-to-display times (ms)."""
    received: stdqueue.Queue[tuple[int, float]] = stdqueue.Queue()
    stop = threading.Event()
    connected = threading.Event()

    def display() -> None:
        with HallClient(url, SECRET) as client:
            for event in client.events(stop=stop, retry_s=0.05):
                if event.event == "connected":
                    connected.set()
                elif event.event == "call" and event.id is not None:
                    received.put((event.id, time.perf_counter()))
                if stop.is_set():
                    return

    reader = threading.Thread(target=display, name="bench-display", daemon=True)
    reader.start()
    if not connected.wait(WAIT_S):
        raise RuntimeError("the display never connected to the hall service")
    http_ms, display_ms = [], []
    with HallClient(url, SECRET) as counter:
        counter.login(1, CARD, PIN, list("ABCD"))
        for _ in range(n):
            start = time.perf_counter()
            call = counter.call_next(1)
            http_ms.append((time.perf_counter() - start) * 1000)
            if call is None:
                raise RuntimeError("ran out of tickets")
            while True:
                call_id, at = received.get(timeout=WAIT_S)
                if call_id == call.id:
                    display_ms.append((at - start) * 1000)
                    break
            counter.finish(1)
        stop.set()
    return http_ms, display_ms


def run(quick: bool) -> dict[str, float]:
    """Measure on a fresh store in a temporary folder; return the figures."""
    tickets, calls = (200, 30) if quick else (1000, 200)
    with tempfile.TemporaryDirectory(prefix="bench-hall-") as tmp:
        store = Store.open(Path(tmp) / "hall.db", "hall-bench", extra_migrations=(HALL_MIGRATIONS,
                                                                                   STAFF_ALERT_MIGRATIONS))
        hall = HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("ratio", 2, 1, max_wait_min=30))
        _take_tickets(hall, 20)  # warm-up: caches, first WAL growth
        take_ms = _take_tickets(hall, tickets)
        staff = StaffRegistry(store, PERSON_KEY)
        staff.set("bench01", "测*", CARD, PIN)
        server = HallServer(create_app(hall, SECRET, staff=staff, keepalive_s=5.0))
        try:
            http_ms, display_ms = _calls(server.start(), calls)
        finally:
            server.stop()
            store.close()
    return {
        "take_ticket_p50_ms": _pct(take_ms, 50), "take_ticket_p99_ms": _pct(take_ms, 99),
        "next_http_p50_ms": _pct(http_ms, 50), "next_http_p99_ms": _pct(http_ms, 99),
        "call_to_display_p50_ms": _pct(display_ms, 50), "call_to_display_p95_ms": _pct(display_ms, 95),
        "call_to_display_max_ms": round(max(display_ms), 3),
        "tickets": len(take_ms), "calls": len(display_ms),
        "take_ticket_mean_ms": round(statistics.fmean(take_ms), 3),
    }


def main() -> None:
    """Command line: print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    figures = run(parser.parse_args().quick)
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
