"""``linfen central timebank``: what an operator does on the central's machine.

    linfen central timebank policy FILE                     # import a policy version (caps and ages)
    linfen central timebank staff LOGIN --name N --role organiser|committee|admin
                                   [--community C] [--unit ID]   # password read from stdin (or asked)
    linfen central timebank close-forgotten                 # close check-ins older than the policy's hours
    linfen central timebank close-votes                     # decide the 小区微事 whose voting has closed
    linfen central timebank publish-roster                  # every member's roster row to the halls
    linfen central timebank ledger-check                    # sums; exit 1 when the ledger does not hold
    linfen central timebank join-link COMMUNITY --base-url URL [--svg FILE]   # the service point's QR

``close-forgotten`` also runs at every push that carries volunteer events; the hourly tasks unit runs it and ``close-votes``
(deploy/systemd/linfen-central-tasks.service).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError

if TYPE_CHECKING:
    from ..storage import CentralStore

OPERATOR = "admin"  # the actor of what is done on the central's machine
COMMANDS = ("policy", "staff", "close-forgotten", "close-votes", "publish-roster", "ledger-check", "join-link")


def add_arguments(t: argparse.ArgumentParser) -> None:
    """The ``timebank`` subcommand's arguments."""
    t.add_argument("timebank_command", choices=COMMANDS, help="what to do (see `linfen central timebank -h`)")
    t.add_argument("target", nargs="?", help="policy: the JSON file; staff: the login; join-link: the community")
    t.add_argument("--name", help="staff: the name shown on pages")
    t.add_argument("--role", choices=("organiser", "committee", "admin"), help="staff: the role")
    t.add_argument("--community", help="staff: the community a committee worker or organiser works for")
    t.add_argument("--unit", type=int, help="staff: an organiser's partner unit or team id")
    t.add_argument("--base-url", help="join-link: the central's public address, e.g. https://tb.example.org")
    t.add_argument("--svg", type=Path, help="join-link: also write the QR as an SVG file")


def _need(value: str | None, what: str) -> str:
    if not value:
        raise CentralError("missing_argument", f"give {what}")
    return value


def _password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise CentralError("password_mismatch", "the two passwords differ")
        return first
    return stdin.readline().rstrip("\n")


def join_link(base_url: str, community: str) -> str:
    """The registration address a service point's QR opens (the community comes from it)."""
    if not base_url.startswith(("https://", "http://")):
        raise CentralError("bad_base_url", "--base-url must start with https:// (or http:// on a test LAN)")
    return f"{base_url.rstrip('/')}/tb/join?c={quote(community, safe='')}"


def run_timebank_command(store: CentralStore, args: argparse.Namespace, out: TextIO,
                         stdin: TextIO | None = None) -> int:
    """Run one ``timebank`` subcommand; returns the exit status."""
    command, at = args.timebank_command, now_text()
    if command == "policy":
        from .policy import import_policy

        try:
            doc = json.loads(Path(_need(args.target, "the policy file")).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CentralError("bad_policy_file", f"{args.target}: {exc}") from None
        with write_transaction(store.engine) as conn:
            policy = import_policy(conn, doc, OPERATOR)
        out.write(f"policy {policy.version} in force from {policy.valid_from}\n")
        return 0
    if command == "staff":
        from .staff import add_staff

        login = _need(args.target, "the login")
        with write_transaction(store.engine) as conn:
            staff_id = add_staff(conn, login=login, display_name=_need(args.name, "--name"),
                                 role=_need(args.role, "--role"), password=_password(stdin or sys.stdin),
                                 actor=OPERATOR,
                                 unit_id=args.unit, community=args.community, at=at)
        out.write(f"staff {login} ({args.role}) is number {staff_id}\n")
        return 0
    if command == "close-forgotten":
        from .hours import close_forgotten

        with write_transaction(store.engine) as conn:
            closed = close_forgotten(conn, at)
        out.write(f"closed {len(closed)} forgotten check-ins; they wait for an organiser\n")
        return 0
    if command == "close-votes":
        from .projects import close_votes

        with write_transaction(store.engine) as conn:
            chosen = close_votes(conn, at, OPERATOR)
        out.write(f"voting closed; chosen projects: {', '.join(map(str, chosen)) or 'none'}\n")
        return 0
    if command == "publish-roster":
        from .feed import publish_all

        with write_transaction(store.engine) as conn:
            changed = publish_all(conn, at)
        out.write(f"roster rows changed: {changed}\n")
        return 0
    if command == "ledger-check":
        from .ledger_check import check_ledger

        with read_transaction(store.engine) as conn:
            found = check_ledger(conn)
        out.write(json.dumps(found, ensure_ascii=False) + "\n")
        return 0 if found["total_cc"] == 0 and not found["mismatched_accounts"] and not found["unbalanced_entries"] \
            else 1
    link = join_link(_need(args.base_url, "--base-url"), _need(args.target, "the community"))
    out.write(link + "\n")
    if args.svg:
        import segno

        segno.make(link, error="m").save(str(args.svg), scale=8, border=4)
        out.write(f"QR written to {args.svg}\n")
    return 0
