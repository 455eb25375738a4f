"""``linfen staff set | list | remove``: enrol the clerks who may log in at the hall's counters.

The registry lives in the hall ticket machine's store (the hall owns the queue).  A clerk is
enrolled with a staff id, a display name (a masked form such as 王*丽 is fine), the staff card's
UID (``linfen read ccard --config COUNTER.toml`` shows it) and a PIN.  The PIN is read from the
terminal without echo (asked twice), or as the first line of standard input when that is not a
terminal; it is never taken from the command line.  Only keyed hashes of the card and the PIN
are stored.  A problem the operator can fix ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.errors import KioskError


class StaffCommandError(Exception):
    """A problem the operator can fix; printed as one line."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``staff`` with its ``set``, ``list`` and ``remove`` commands."""
    p = sub.add_parser("staff", help="enrol the clerks who log in at the counters (card + PIN)", description=(
        "Enrol, list or remove the clerks of a hall. The registry is kept in the hall ticket machine's store; "
        "counters log in against it over the hall LAN with the staff card and the PIN."))
    cmds = p.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    s = cmds.add_parser("set", help="enrol a clerk, or change their name, card or PIN", description=(
        "Enrol a clerk (or replace their name, card and PIN; this also ends their open logins and clears a "
        "lockout). The PIN (4-8 digits) is asked without echo, or read as the first line of standard input."))
    s.add_argument("--config", required=True, type=Path, help="the hall's TOML file")
    s.add_argument("--staff-id", required=True, help="the clerk's staff id (letters, digits, '_', '.', '-')")
    s.add_argument("--name", required=True, help="display name shown at the counter, e.g. 王*丽")
    s.add_argument("--card-uid", required=True, help="the staff card's UID in hex (linfen read ccard shows it)")
    s.set_defaults(func=run_set)
    ls = cmds.add_parser("list", help="list the enrolled clerks", description=(
        "List the enrolled clerks: staff id, name, and whether their card is locked after wrong PINs."))
    ls.add_argument("--config", required=True, type=Path, help="the hall's TOML file")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    r = cmds.add_parser("remove", help="remove a clerk (their open logins end)", description=(
        "Remove a clerk from the registry; a counter where they are logged in is refused from its next action."))
    r.add_argument("--config", required=True, type=Path, help="the hall's TOML file")
    r.add_argument("--staff-id", required=True, help="the clerk's staff id")
    r.set_defaults(func=run_remove)


def _registry(config_path: Path) -> tuple[Any, Any]:
    """The hall's store and its staff registry (the caller closes the store)."""
    from kiosk.config import load_config
    from kiosk.hall.staff import StaffRegistry
    from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
    from kiosk.priority import load_key
    from kiosk.store import Store

    config = load_config(config_path)
    if config.role != "hall":
        raise StaffCommandError(f"{config_path}: role is '{config.role}'; the staff registry lives in the hall's "
                                "store, give the hall's config")
    if not config.privacy.person_key_file:
        raise StaffCommandError("privacy.person_key_file: missing; staff cards are stored as keyed hashes and "
                                "need the deployment's key")
    key = load_key(config.privacy.person_key_file)
    store = Store.open(config.store_path(), config.terminal_id, extra_migrations=(STAFF_ALERT_MIGRATIONS,))
    return store, StaffRegistry(store, key)


def read_pin() -> str:
    """The PIN: asked twice without echo on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN (4-8 digits): ")
        if getpass.getpass("PIN again: ") != pin:
            raise StaffCommandError("the two PINs differ; nothing was changed")
        return pin
    line = sys.stdin.readline()
    if not line.strip():
        raise StaffCommandError("no PIN on standard input; nothing was changed")
    return line.strip()


def _run(args: argparse.Namespace, action: Callable[[argparse.Namespace], int]) -> int:
    try:
        return int(action(args))
    except (StaffCommandError, KioskError) as exc:
        text = getattr(exc, "words_en", None) or str(exc)
        print(f"linfen staff {args.staff_command}: {text}", file=sys.stderr)
        return 2


def run_set(args: argparse.Namespace) -> int:
    """Enrol or update one clerk."""
    def act(a: argparse.Namespace) -> int:
        store, registry = _registry(a.config)
        try:
            pin = read_pin()
            member = registry.set(a.staff_id, a.name, a.card_uid, pin)
        finally:
            store.close()
        print(f"staff {member.staff_id} ({member.display_name}) enrolled: card and PIN stored as keyed hashes")
        return 0
    return _run(args, act)


def run_list(args: argparse.Namespace) -> int:
    """Print the enrolled clerks."""
    def act(a: argparse.Namespace) -> int:
        store, registry = _registry(a.config)
        try:
            members = registry.members()
        finally:
            store.close()
        if a.json:
            print(json.dumps([{"staff_id": m.staff_id, "name": m.display_name, "locked_until": m.locked_until,
                               "wrong_pins": m.failures, "updated_at": m.updated_at} for m in members],
                             ensure_ascii=False, indent=2))
            return 0
        now = datetime.now(UTC)
        for m in members:
            locked = m.locked_until and datetime.fromisoformat(m.locked_until) > now
            state = f"locked until {m.locked_until}" if locked else f"{m.failures} wrong PIN(s) in a row"
            print(f"{m.staff_id:12s} {m.display_name:10s} {state}; updated {m.updated_at}")
        print(f"{len(members)} clerk(s) enrolled")
        return 0
    return _run(args, act)


def run_remove(args: argparse.Namespace) -> int:
    """Remove one clerk."""
    def act(a: argparse.Namespace) -> int:
        store, registry = _registry(a.config)
        try:
            registry.remove(a.staff_id)
        finally:
            store.close()
        print(f"staff {a.staff_id} removed; their open logins have ended")
        return 0
    return _run(args, act)
