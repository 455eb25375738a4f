"""Service-hall figures: residents through simulator, hall, two counters and a display (issue 4).

Runs the headless demo twice: zero-delay (software cost) and realistic device timing
(what a resident waits).  Targets: realistic p95 swipe-to-ticket <= 1500 ms; zero-delay
software p99 <= 25 ms; RSS growth <= 20 MB over the run; a call on the display <= 500 ms
after the clerk pressed.  The growth over the second half of the residents is printed too: a leak
keeps growing, caches that fill (SQLite pages, fonts, allocator arenas) level off.  ``--quick`` runs 100 + 30 residents instead of 1000 + 1000
(the realistic 1000 takes about half an hour).  The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linfen.demo import run_headless


def main() -> int:
    """Run both timings and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100 fast + 30 realistic residents")
    ap.add_argument("--residents", type=int, help="residents per run (overrides the defaults)")
    ap.add_argument("--skip-realistic", action="store_true", help="only the zero-delay run")
    args = ap.parse_args()
    fast_n = args.residents or (100 if args.quick else 1000)
    real_n = args.residents or (30 if args.quick else 1000)
    out = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    figures: dict[str, float] = {}
    fast = run_headless(fast_n, "fast", out / "fast.json", out / "fast")
    print(f"zero-delay, {fast_n} residents: software {fast['software_ms']}, swipe {fast['swipe_to_ticket_ms']}, "
          f"rss {fast['rss_mb_start']} -> {fast['rss_mb_half']} (half-way) -> {fast['rss_mb_end']} MB, display {fast['call_to_display_ms']}", flush=True)
    figures.update({
        "fast_residents": fast_n,
        "fast_software_p50_ms": fast["software_ms"]["p50"],
        "fast_software_p99_ms": fast["software_ms"]["p99"],
        "fast_swipe_to_ticket_p95_ms": fast["swipe_to_ticket_ms"]["p95"],
        "fast_rss_growth_mb": round(fast["rss_mb_end"] - fast["rss_mb_start"], 1),
        "fast_rss_growth_second_half_mb": round(fast["rss_mb_end"] - fast["rss_mb_half"], 1),
        "call_to_display_p95_ms": fast["call_to_display_ms"]["p95"],
        "call_to_display_max_ms": fast["call_to_display_ms"]["max"],
        "fast_tickets": fast["tickets"],
        **{f"fast_tickets_service_{code.lower()}": n for code, n in fast["tickets_by_service"].items()},
    })
    if not args.skip_realistic:
        real = run_headless(real_n, "realistic", out / "realistic.json", out / "realistic")
        print(f"realistic, {real_n} residents: swipe {real['swipe_to_ticket_ms']}, software {real['software_ms']}, "
              f"rss {real['rss_mb_start']} -> {real['rss_mb_half']} (half-way) -> {real['rss_mb_end']} MB", flush=True)
        figures.update({
            "realistic_residents": real_n,
            "realistic_swipe_to_ticket_p50_ms": real["swipe_to_ticket_ms"]["p50"],
            "realistic_swipe_to_ticket_p95_ms": real["swipe_to_ticket_ms"]["p95"],
            "realistic_swipe_to_ticket_max_ms": real["swipe_to_ticket_ms"]["max"],
            "realistic_rss_growth_mb": round(real["rss_mb_end"] - real["rss_mb_start"], 1),
            "realistic_rss_growth_second_half_mb": round(real["rss_mb_end"] - real["rss_mb_half"], 1),
        })
    print(f"reports in {out}")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
