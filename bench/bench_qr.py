"""QR figures in zero-delay mode, against the simulators over the real transports.

- ``qr_decode_latency_ms``: median time from the simulated camera serving the first
  frame that holds a new code (just before it is written to the socket) to the driver's
  callback holding that code; MJPEG over loopback HTTP, camera 25 fps, driver at the
  configuration's default cap of 10 fps.  Target ≤ 60 ms.
- ``qr_decode_latency_p95_ms``: the 95th percentile of the same.
- ``qr_decode_latency_cap30_ms``: median with the driver capped at 30 fps.
- ``qr_decode_latency_cv2_ms``: median through ``cv2.VideoCapture`` on the same URL (no
  change check: each frame waits for a decoding slot), for comparison.
- ``qr_scanner_latency_ms`` / ``qr_scanner_latency_p95_ms``: from the simulated scanner's
  ``scan()`` (payload + CR written to the pty) to the driver's callback.

Run alone: ``python bench/bench_qr.py [--quick]`` (the last line is one JSON object).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.qr_camera import QrCamera
from drivers.qr_common import QrReading, QrResult
from drivers.qr_scanner import QrScanner
from hardware_sim import personas
from hardware_sim.camera import CameraSim
from hardware_sim.code_tokens import SIM_ISSUER
from hardware_sim.qr_scanner import QrScannerSim

WAIT_S = 5.0  # longest wait for one code, in seconds


class _Arrivals:
    """Callback noting when each text first reached it (perf_counter)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.cond = threading.Condition()

    def __call__(self, result: QrResult) -> None:
        now = time.perf_counter()
        if isinstance(result, QrReading) and result.text is not None:
            with self.cond:
                self.at.setdefault(result.text, now)
                self.cond.notify_all()

    def wait(self, text: str) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: text in self.at, WAIT_S):
                raise RuntimeError(f"code not read within {WAIT_S} s")
            return self.at[text]


def _codes(n: int) -> list[str]:
    people = personas.load()
    return [SIM_ISSUER.issue(people[i % len(people)].id_number, people[i % len(people)].code_colour,
                             issued_at=1_790_000_000 + i) for i in range(n)]


def camera_latencies_ms(n: int, max_fps: float = 10.0, backend: str = "auto") -> list[float]:
    """Frame-served-to-callback times for ``n`` new codes."""
    cam = CameraSim("qr_camera")
    cam.start()
    arrivals = _Arrivals()
    drv = QrCamera(cam.url, max_fps=max_fps, backend=backend, on_result=arrivals)
    out = []
    try:
        drv.start()
        deadline = time.monotonic() + WAIT_S
        while drv.health()["frames_decoded"] < 3:  # warm: connected and decoding
            if time.monotonic() > deadline:
                raise RuntimeError(f"camera driver not decoding: {drv.health()}")
            time.sleep(0.01)
        for code in _codes(n):
            version = cam.show(code)
            got = arrivals.wait(code)
            served = cam.first_served_at(version)
            assert served is not None
            out.append((got - served) * 1000)
            time.sleep(0.05)  # a couple of frames between residents
    finally:
        drv.close()
        cam.stop()
    return out


def scanner_latencies_ms(n: int) -> list[float]:
    """scan()-to-callback times for ``n`` codes over a pty."""
    with tempfile.TemporaryDirectory() as tmp:
        sim = QrScannerSim("qr_scanner", Path(tmp) / "qr_scanner")
        sim.start()
        arrivals = _Arrivals()
        drv = QrScanner(str(sim.link_path), on_result=arrivals)
        out = []
        try:
            drv.start()
            deadline = time.monotonic() + WAIT_S
            while not drv.link.connected:
                if time.monotonic() > deadline:
                    raise RuntimeError("scanner driver did not open the port")
                time.sleep(0.01)
            for code in _codes(n):
                start = time.perf_counter()
                sim.scan(code)
                out.append((arrivals.wait(code) - start) * 1000)
        finally:
            drv.close()
            sim.stop()
    return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(quick: bool) -> dict[str, float]:
    """The QR figures (milliseconds)."""
    n = 10 if quick else 40
    default_cap = camera_latencies_ms(n)
    scanner = scanner_latencies_ms(3 * n)
    figures = {
        "qr_decode_latency_ms": statistics.median(default_cap),
        "qr_decode_latency_p95_ms": _p95(default_cap),
        "qr_decode_latency_cap30_ms": statistics.median(camera_latencies_ms(n, max_fps=30.0)),
        "qr_decode_latency_cv2_ms": statistics.median(camera_latencies_ms(n, backend="cv2")),
        "qr_scanner_latency_ms": statistics.median(scanner),
        "qr_scanner_latency_p95_ms": _p95(scanner),
    }
    return {k: round(v, 2) for k, v in figures.items()}


def main() -> None:
    """Print the figures, then one JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds")
    figures = run(p.parse_args().quick)
    for name, value in figures.items():
        print(f"{name:32} {value:10.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
