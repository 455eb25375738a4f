"""Thermometer read time and locker open time, zero-delay simulator, real ptys.

``thermometer_read_ms``: one ``Thermometer.read_once()`` (FC03 through pymodbus's client, answered
by pymodbus's serial server behind the simulator's pty bridge), median over the runs.
``locker_open_ms``: one ``RelayBoard.open(lock)`` (5-byte request, 5-byte reply), median.
Figures are printed, never asserted.  Run alone: ``python bench/bench_thermometer.py [--quick]``.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.relay_board import RelayBoard
from drivers.thermometer import Thermometer
from hardware_sim.relay_board import RelayBoardSim
from hardware_sim.thermometer import ThermometerSim
from hardware_sim.timing import Timing


def _median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: opens the port
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 3)


def run(quick: bool = False) -> dict[str, float]:
    """Measure both figures; ``quick`` takes fewer samples."""
    runs = 20 if quick else 200
    with tempfile.TemporaryDirectory(prefix="linfen-bench-") as folder:
        thermo = ThermometerSim("thermometer", Path(folder) / "thermo", timing=Timing.FAST)
        locker = RelayBoardSim("locker", Path(folder) / "locker", timing=Timing.FAST, locks=24)
        thermo.start()
        locker.start()
        try:
            thermometer = Thermometer(str(thermo.link_path), timeout_s=1.0)
            board = RelayBoard(str(locker.link_path), timeout_s=1.0, locks=24)
            read_ms = _median_ms(thermometer.read_once, runs)
            lock_no = iter(range(10**9))
            open_ms = _median_ms(lambda: board.open(next(lock_no) % 24 + 1), runs)
            thermometer.close()
            board.close()
        finally:
            thermo.stop()
            locker.stop()
    return {"thermometer_read_ms": read_ms, "locker_open_ms": open_ms}


def main(argv: list[str]) -> int:
    """Print the figures, then one JSON line."""
    figures = run(quick="--quick" in argv)
    for name, value in figures.items():
        print(f"{name:24s} {value:10.3f}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
