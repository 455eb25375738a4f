"""ID card reads per second and the driver's overhead over the raw pty round trip, zero-delay simulator.

``idcard_read_ms``: mean time of one ``IdCardReader.read_card()`` (find → select → read,
three exchanges, the last answer 1295 bytes) against the simulated reader on a real pty.
``idcard_reads_per_s``: the same as a rate.  ``pty_roundtrip_ms``: the same three
exchanges as raw bytes of the same sizes through the same pty and simulator, written and
read with pyserial directly, no driver.  ``idcard_driver_overhead_ms``: read minus raw round
trip (target ≤ 5 ms).  Raw and driver batches alternate so drift hits both alike.
Figures are printed, never asserted.  Run alone: ``python bench/bench_idcard.py [--quick]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serial

from drivers.idcard import IdCardReader
from hardware_sim.idcard import IdCardSim
from hardware_sim.personas import by_id
from hardware_sim.timing import Timing

# The three exchanges of one read, as raw bytes: command frame, and the size of its answer.
RAW_EXCHANGES = (
    (bytes.fromhex("AA AA AA 96 69 00 03 20 01 22"), 15),  # find → 9F + 4 bytes
    (bytes.fromhex("AA AA AA 96 69 00 03 20 02 21"), 19),  # select → 90 + 8 bytes
    (bytes.fromhex("AA AA AA 96 69 00 03 30 01 32"), 1295),  # read text+photo
)
BATCHES = 10  # alternating raw/driver batches


def _raw_round_trip(port: serial.SerialBase) -> None:
    for command, size in RAW_EXCHANGES:
        port.write(command)
        answer = port.read(size)
        if len(answer) != size:
            raise RuntimeError(f"raw exchange got {len(answer)} of {size} bytes")


def _timed(action, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        action()
    return time.perf_counter() - start


def run(quick: bool = False) -> dict[str, float]:
    """Measure the four figures; ``quick`` takes fewer samples."""
    per_batch = 10 if quick else 100
    with tempfile.TemporaryDirectory(prefix="linfen-bench-") as folder:
        sim = IdCardSim("idcard", Path(folder) / "idcard", timing=Timing.FAST)
        sim.start()
        sim.present(by_id("P001"))
        try:
            reader = IdCardReader(str(sim.link_path), baud=115200, timeout_s=1.0)
            raw = serial.serial_for_url(str(sim.link_path), baudrate=115200, timeout=1.0)
            try:
                _timed(reader.read_card, 5)  # warm-up: port open, caches
                _timed(lambda: _raw_round_trip(raw), 5)
                raw_s = driver_s = 0.0
                for _ in range(BATCHES):
                    raw_s += _timed(lambda: _raw_round_trip(raw), per_batch)
                    driver_s += _timed(reader.read_card, per_batch)
            finally:
                raw.close()
                reader.close()
        finally:
            sim.stop()
    runs = BATCHES * per_batch
    read_ms = driver_s / runs * 1000
    raw_ms = raw_s / runs * 1000
    return {
        "idcard_reads_per_s": round(runs / driver_s, 1),
        "idcard_read_ms": round(read_ms, 3),
        "pty_roundtrip_ms": round(raw_ms, 3),
        "idcard_driver_overhead_ms": round(read_ms - raw_ms, 3),
    }


def main(argv: list[str]) -> int:
    """Print the figures, then one JSON line."""
    figures = run(quick="--quick" in argv)
    for name, value in figures.items():
        print(f"{name:28s} {value:10.3f}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
