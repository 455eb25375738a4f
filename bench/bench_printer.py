"""Ticket print time in zero-delay mode: driver → pty → simulated printer → rendered page.

``ticket_print_ms``: median time from ``print_hall_ticket`` being called (status check, job
sent, status check) until the simulator has rendered the page (transcript + PNG).
``printer_status_ms``: median time of one ``status()`` (four DLE EOT round trips).

Run alone: ``python bench/bench_printer.py [--quick]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project (not bench/drivers.py) must be importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.printer import EscPosPrinter
from hardware_sim.printer import PrinterSim
from hardware_sim.timing import Timing
from kiosk.hall.printing import Ticket, print_hall_ticket

WAIT_S = 10.0  # longest wait for one page to be rendered, in seconds


def _ticket(i: int) -> Ticket:
    return Ticket("临汾路街道社区事务受理服务中心", f"A{i:03d}", "社会保障卡补换", i % 20, 5 + i % 30,
                  datetime.now(), f"https://linfen.example/q/A{i:03d}", ("请留意叫号，过号请重新取号",), "张*明")


def run(quick: bool) -> dict[str, float]:
    """Print tickets to a zero-delay simulated printer over a pty; return the figures."""
    tickets, statuses = (5, 20) if quick else (40, 200)
    with tempfile.TemporaryDirectory(prefix="bench-printer-") as tmp:
        sim = PrinterSim("printer", Path(tmp) / "printer", timing=Timing.FAST)
        sim.start()
        printer = EscPosPrinter(str(sim.link_path), timeout_s=1.0)
        try:
            print_hall_ticket(printer, _ticket(0))  # warm-up: open the port, load the font, fill caches
            if not sim.wait_for_tickets(1, WAIT_S):
                raise RuntimeError("warm-up ticket was not printed")
            print_ms = []
            for i in range(1, tickets + 1):
                start = time.perf_counter()
                print_hall_ticket(printer, _ticket(i))
                if not sim.wait_for_tickets(i + 1, WAIT_S):
                    raise RuntimeError(f"ticket {i} was not printed")
                print_ms.append((time.perf_counter() - start) * 1000)
            status_ms = []
            for _ in range(statuses):
                start = time.perf_counter()
                printer.status()
                status_ms.append((time.perf_counter() - start) * 1000)
        finally:
            printer.close()
            sim.stop()
    return {"ticket_print_ms": round(statistics.median(print_ms), 2),
            "printer_status_ms": round(statistics.median(status_ms), 3)}


def main() -> None:
    """Command line: print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    figures = run(parser.parse_args().quick)
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
