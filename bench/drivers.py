"""Driver figures in zero-delay mode, each device against its simulator over the real transport.

Prints each part's figures, then one JSON object with all of them on the last line.
Targets (issue 3): ID-card driver overhead <= 5 ms per read; QR decode <= 60 ms after
the frame is served.  Usage: ``python bench/drivers.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = ("bench_idcard", "bench_pcsc", "bench_qr", "bench_thermometer", "bench_printer")


def main() -> int:
    """Run every part and print the combined figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    args = ap.parse_args()
    figures: dict[str, float] = {}
    failed: list[str] = []
    for part in PARTS:
        module = importlib.import_module(part)
        try:
            result = module.run(quick=args.quick)
        except Exception as exc:  # one broken part must not hide the others' figures
            print(f"{part}: FAILED: {exc}", flush=True)
            failed.append(part)
            continue
        for key, value in result.items():
            print(f"{part}: {key} = {value:.3f}" if isinstance(value, float) else f"{part}: {key} = {value}")
        figures.update(result)
    if failed:
        figures["failed_parts"] = len(failed)  # type: ignore[assignment]
    print(json.dumps(figures, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
