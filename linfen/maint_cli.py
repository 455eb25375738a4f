"""``linfen read DEVICE`` and ``linfen doctor``: maintenance tools for a terminal's devices."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.config import load_config
from ui.texts import COMPONENT_NAMES

DEVICE_NAMES = ("idcard", "sscard", "ccard", "qr_camera", "qr_scanner", "thermometer", "printer", "door", "locker")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``read`` and ``doctor``."""
    r = sub.add_parser("read", help="read one device as the terminal sees it (maintenance)", description=(
        "Open one configured device, wait for one reading (a card, a code, a temperature) or, for the printer, "
        "door and locker board, ask its status, and print what the terminal sees. ID numbers and names are "
        "shown masked."))
    r.add_argument("device", choices=DEVICE_NAMES)
    r.add_argument("--config", required=True, type=Path, help="the terminal's TOML file")
    r.add_argument("--json", action="store_true", help="print JSON instead of lines")
    r.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for a reading (default 15)")
    r.set_defaults(func=run_read)
    d = sub.add_parser("doctor", help="check every configured device and say what is wrong", description=(
        "Check each device of a terminal's config: is it there (port, reader, camera), does it answer its "
        "protocol (SAM status, paper, temperature, locks). Exit status 1 if any device is down."))
    d.add_argument("--config", required=True, type=Path, help="the terminal's TOML file")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=run_doctor)


def run_read(args: argparse.Namespace) -> int:
    """Print one reading or status of a device."""
    from drivers.errors import DriverError
    from kiosk.maintenance import read_device

    config = load_config(args.config)
    try:
        data = read_device(config, args.device, args.timeout)
    except (DriverError, ValueError) as exc:
        print(f"linfen read: {args.device}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for key, value in data.items():
            print(f"{key:18s} {value}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    """Check every device and print one line each."""
    from kiosk.maintenance import diagnose

    config = load_config(args.config)
    results = diagnose(config)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], ensure_ascii=False, indent=2))
    else:
        for r in results:
            zh, en = COMPONENT_NAMES.get(r.device, (r.device, r.device))
            mark = "OK  " if r.ok else "DOWN"
            print(f"{mark} {r.device:12s} {zh} / {en}: {r.words}")
        down = sum(not r.ok for r in results)
        print(f"{len(results) - down} of {len(results)} devices working" if results else "no devices configured")
    return 1 if any(not r.ok for r in results) else 0
