"""Command line: ``linfen kiosk | sim | central | demo``.

Each subcommand imports its package only when it runs, so ``linfen --help`` is quick
and a maintenance command never loads Qt.  Errors an operator can fix (a bad config,
a missing file) end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cli_args import ExactParser
from common.roles import AVAILABLE_ROLES, ROLE_NAMES, refusal
from kiosk.config import ConfigError, load_config


class CommandError(Exception):
    """A problem the operator can fix; printed as one line."""


def _cmd_kiosk(args: argparse.Namespace) -> int:
    refused = refusal(args.role)
    if refused:  # a role declared but not built: its screens would invite a card nothing reads
        raise CommandError(refused)
    config = load_config(args.config)
    if config.role != args.role:
        raise CommandError(f"{args.config}: role is '{config.role}' but --role says '{args.role}'")
    from ui.app import run_kiosk

    return run_kiosk(config, windowed=args.windowed, screenshot=args.screenshot)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ui.app import has_display

    if args.headless or not has_display() or args.role != "hall":
        if not args.headless and not has_display():
            print("demo: no display here, so the demo runs offscreen and saves what the screens showed")
        roles = DEMO_ROLES if args.role == "all" else (args.role,)
        return max(_headless_demo(role, args) for role in roles)
    from linfen.demo_windows import run_windows

    return run_windows(args.timing)


DEMO_ROLES = ("hall", "canteen", "cinema")  # what ``linfen demo`` (and ``make demo``) runs headless, in order


def _headless_demo(role: str, args: argparse.Namespace) -> int:
    """One role's headless demo: its report as one JSON line, then where its screenshots are."""
    several = args.role == "all"
    out = args.out / role if several else args.out
    report_path = (args.report.with_name(f"{args.report.stem}-{role}{args.report.suffix}") if several else args.report) \
        if args.report else out / "report.json"
    workdir = (args.workdir / role if several else args.workdir) if args.workdir else None
    if role == "hall":
        from linfen.demo import run_headless

        report = run_headless(args.residents, args.timing, report_path, out, workdir)
        ok = report["tickets"] > 0 and not report["terminal_errors"]
    elif role == "canteen":
        from linfen.demo_canteen import run_canteen_headless

        report = run_canteen_headless(args.residents, args.timing, report_path, out, workdir)
        ok = report["paid"] > 0 and not report["terminal_errors"] and report["ledger"]["sum_fen"] == 0
    else:
        from linfen.demo_cinema import run_cinema_headless

        report = run_cinema_headless(args.residents, args.timing, report_path, out, workdir)
        ok = report["tickets"] > 0 and not report["terminal_errors"] and report["ledger"]["sum_fen"] == 0
    print(f"demo {role}: " + json.dumps({k: v for k, v in report.items() if k != "screenshots"}, ensure_ascii=False))
    print(f"demo {role}: report {report_path}; screens:")
    for path in report["screenshots"].values():
        print(f"  {path}")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand and its help."""
    p = ExactParser(
        prog="linfen",
        description="Linfen community terminals: kiosk app, hardware simulator, central service, demo.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    k = sub.add_parser("kiosk", help="run a terminal's touchscreen app", description=(
        "Run one terminal: the role's screen full screen (or windowed), its devices and local store, "
        "as given in its TOML config (see config/examples/)."))
    not_yet = [r for r in ROLE_NAMES if r not in AVAILABLE_ROLES]
    k.add_argument("--role", required=True, choices=ROLE_NAMES, help=(
        f"which terminal this is; this version runs {', '.join(AVAILABLE_ROLES)}"
        + (f" ({', '.join(not_yet)}: not available yet)" if not_yet else "")))
    k.add_argument("--config", required=True, type=Path, help="the terminal's TOML file")
    k.add_argument("--windowed", action="store_true", help="a 1280x800 window instead of full screen")
    k.add_argument("--screenshot", type=Path, metavar="PNG",
                   help="save the idle screen as PNG once the device check is done, then quit")
    k.set_defaults(func=_cmd_kiosk)

    from linfen.sim_cli import add_parser as add_sim_parser

    add_sim_parser(sub)

    from linfen.maint_cli import add_parsers as add_maintenance_parsers

    add_maintenance_parsers(sub)

    from linfen.staff_cli import add_parser as add_staff_parser

    add_staff_parser(sub)

    from sync.central.cli import add_parser as add_central_parser

    add_central_parser(sub)

    d = sub.add_parser("demo", help="run every role's terminal together", description=(
        "Start the hardware simulator, the hall ticket machine, two counters and the calling display together. "
        "With a display they open in windows (with the maintenance console to present residents); without one, "
        "or with --headless, residents are driven through the whole stack offscreen and a JSON report and "
        "screenshots are written."))
    d.add_argument("--headless", action="store_true", help="drive residents through the stack offscreen")
    d.add_argument("--role", choices=["all", *DEMO_ROLES], default="all", help=(
        "which demo: the hall, a canteen lunch, a film screening, or all of them in turn offscreen (default); "
        "with a display, --role hall opens the hall in windows"))
    d.add_argument("--residents", type=int, default=12, help="residents to drive through (headless; default 12)")
    d.add_argument("--timing", choices=["fast", "realistic"], default="realistic",
                   help="device timing: realistic (default) or zero-delay")
    d.add_argument("--report", type=Path, help="where to write the JSON report (headless)")
    d.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for screenshots (headless)")
    d.add_argument("--workdir", type=Path, help="folder for the simulator and the hall's store (default: a temp dir)")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``linfen`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, CommandError) as exc:
        print(f"linfen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
