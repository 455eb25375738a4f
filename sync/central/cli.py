"""``linfen central``: run the central service, enrol and revoke terminals, import reference data.

    linfen central --db central.db --bind 127.0.0.1:8720                 # serve (SIGTERM stops it cleanly)
    linfen central --db postgresql://u:pw@db/linfen --bind 0.0.0.0:8720 --tls-cert c.pem --tls-key k.pem --workers 2
    linfen central --db central.db enrol --role hall --site linfen-road [--terminal-id hall-01]
    linfen central --db central.db import card cards.csv --site linfen-road [--replace]
    linfen central --db central.db revoke hall-01 [--reason "stolen"]
    linfen central --db central.db card statement 04A1B2C3 | card problems | card check | card publish
    linfen central --db central.db analytics settings --population-65 41000 | analytics publish | analytics show

``--db`` (and ``--log-level``) may also follow the subcommand.  The database defaults to
``$LINFEN_CENTRAL_DB`` or ``linfen-central.db``.  Admin commands work on the database directly,
on the central's own machine; the HTTP admin endpoints need ``--admin-token-file`` or
``$LINFEN_CENTRAL_ADMIN_TOKEN``.  Errors an operator can fix end in one line on stderr and exit
status 2; an import with rejected rows exits 1 after importing the good ones.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Any, get_args

from sqlalchemy.exc import SQLAlchemyError

from common.cli_args import ExactParser

from ..protocol import Role
from .app import DB_ENV
from .auth import ADMIN_TOKEN_ENV
from .errors import CentralError

DEFAULT_DB = "linfen-central.db"
DEFAULT_BIND = "127.0.0.1:8720"


def _db_option(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else os.environ.get(DB_ENV, DEFAULT_DB)
    parser.add_argument("--db", default=default, metavar="PATH|URL",
                        help=f"SQLite file or postgresql:// URL (default: ${DB_ENV} or {DEFAULT_DB})")
    parser.add_argument("--log-level", default=argparse.SUPPRESS if suppress else "info",
                        choices=["debug", "info", "warning", "error"], help="log level (default: info)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``central`` and its subcommands on ``subparsers`` (from ``linfen.cli``)."""
    from .importer import KINDS

    c = subparsers.add_parser("central", help="run the central sync service; enrol, revoke, import", description=(
        "Run the central sync service (terminals push events, pull reference data), or manage it:\n"
        "enrol a terminal, revoke one, import reference data. Plain HTTP only on loopback unless\n"
        "--insecure-lan; otherwise give --tls-cert and --tls-key. SIGTERM stops it cleanly."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1].split("\n\n")[0])
    _db_option(c, suppress=False)
    c.add_argument("--bind", default=DEFAULT_BIND, metavar="HOST:PORT", help=f"where to listen (default {DEFAULT_BIND})")
    c.add_argument("--tls-cert", type=Path, metavar="PEM", help="TLS certificate chain (with --tls-key)")
    c.add_argument("--tls-key", type=Path, metavar="PEM", help="TLS private key")
    c.add_argument("--insecure-lan", action="store_true",
                   help="allow plain HTTP on a non-loopback address (tokens cross the LAN in clear)")
    c.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (default 1; more scale on PostgreSQL)")
    c.add_argument("--admin-token-file", type=Path, metavar="FILE",
                   help=f"file holding the admin token for /v1/admin/* (or set ${ADMIN_TOKEN_ENV})")
    c.add_argument("--person-key-file", type=Path, metavar="FILE",
                   help="the deployment's person key (the halls' person_key_file): the Time Bank keys typed ID "
                   "numbers with it; without it phone registration is off")
    c.add_argument("--sms", metavar="SPEC", help="the Time Bank's SMS gateway: log (default), log:FILE or http:URL")
    sub = c.add_subparsers(dest="central_command", metavar="SUBCOMMAND")

    e = sub.add_parser("enrol", help="enrol a terminal and print its credentials (the token is shown once)")
    _db_option(e, suppress=True)
    e.add_argument("--role", required=True, choices=get_args(Role), help="the terminal's role")
    e.add_argument("--site", required=True, help="the site whose reference data it may read")
    e.add_argument("--terminal-id", help="its id (default: ROLE-<8 hex>)")

    i = sub.add_parser("import", help="load reference data from CSV/JSON into a site's change feed",
                       description="Rows are checked one by one; rejected rows are listed with their reason. "
                       "Key field per kind: " + ", ".join(f"{k}: {s.key}" for k, s in KINDS.items()) + ".")
    _db_option(i, suppress=True)
    i.add_argument("kind", choices=sorted(KINDS), help="what the file holds")
    i.add_argument("file", type=Path, help=".csv (header row), .json (list, or {entries: [...]}) or .jsonl")
    i.add_argument("--site", required=True, help="the site the data is for")
    i.add_argument("--replace", action="store_true", help="the file is the whole set: delete keys it leaves out")

    r = sub.add_parser("revoke", help="refuse a terminal from now on")
    _db_option(r, suppress=True)
    r.add_argument("terminal_id", help="the terminal to revoke")
    r.add_argument("--reason", default="", help="why (kept with the terminal, shown in its refusals)")

    k = sub.add_parser("card", help="the community-card ledger: a card's statement, refused events, the check")
    _db_option(k, suppress=True)
    k.add_argument("card_command", choices=["statement", "problems", "check", "publish"],
                   help="statement CARD_NO: movements with running balance; problems: refused money events; "
                   "check: the ledger's invariants (exit 1 when they fail); publish: send every card's balance "
                   "to the sites listing it (after importing cards)")
    k.add_argument("card_no", nargs="?", help="the card (UID, upper-case hex) for 'statement'")

    a = sub.add_parser("analytics", help="canteen analytics: the 65+ population, publish the top dishes, figures")
    _db_option(a, suppress=True)
    a.add_argument("analytics_command", choices=["settings", "publish", "show"],
                   help="settings [--population-65 N]: set/print the 65+ population; publish: the month's top 5 "
                   "dishes to every site's feed (terminal_config top_dishes); show: every figure as JSON")
    a.add_argument("--population-65", type=int, metavar="N", help="the sub-district's residents aged 65+")
    a.add_argument("--month", metavar="YYYY-MM", help="the month (default: this month, Shanghai time)")
    a.add_argument("--canteen", metavar="SITE", help="one canteen's site for 'show' (default: all)")

    t = sub.add_parser("timebank", help="Time Bank: policy, staff accounts, forgotten check-outs, roster, ledger, "
                       "the join QR")
    _db_option(t, suppress=True)
    from .timebank.cli import add_arguments as add_timebank_arguments

    add_timebank_arguments(t)

    c.set_defaults(func=run)
    return c


def _admin_token(args: argparse.Namespace) -> str | None:
    if args.admin_token_file is not None:
        try:
            return args.admin_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CentralError("bad_admin_token", f"{args.admin_token_file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CentralError("bad_admin_token", f"{args.admin_token_file}: not UTF-8 text (byte {exc.start}); "
                               "the admin token file holds one line of text") from None
    return os.environ.get(ADMIN_TOKEN_ENV) or None


def _serve(args: argparse.Namespace) -> int:
    from .logs import configure_logging
    from .server import ServeOptions, parse_bind, serve

    configure_logging(args.log_level)
    host, port = parse_bind(args.bind)
    return serve(ServeOptions(db=args.db, host=host, port=port, tls_cert=args.tls_cert, tls_key=args.tls_key,
                              insecure_lan=args.insecure_lan, workers=args.workers,
                              admin_token=_admin_token(args), log_level=args.log_level,
                              person_key_file=args.person_key_file, sms=args.sms))


def _manage(args: argparse.Namespace) -> int:
    from .storage import CentralStore

    store = CentralStore.open(args.db)
    try:
        if args.central_command == "enrol":
            creds = store.enrol(args.role, args.site, args.terminal_id)
            print(creds.model_dump_json())
            print(f"enrolled {creds.terminal_id} ({creds.role}, site {creds.site}); the token is shown only "
                  "this once: put it in the terminal's config", file=sys.stderr)
            return 0
        if args.central_command == "revoke":
            when = store.revoke(args.terminal_id, args.reason)
            print(f"revoked {args.terminal_id} at {when}")
            return 0
        if args.central_command == "card":
            from .card.report import run_card_command

            return run_card_command(store, args.card_command, args.card_no, sys.stdout)
        if args.central_command == "analytics":
            from .analytics.cli import run_analytics_command

            return run_analytics_command(store, args.analytics_command, sys.stdout, population=args.population_65,
                                         month=args.month, canteen=args.canteen)
        if args.central_command == "timebank":
            from .timebank.cli import run_timebank_command

            return run_timebank_command(store, args, sys.stdout)
        from .importer import import_file, progress_bar

        report = import_file(store, args.kind, args.file, args.site, replace=args.replace,
                             progress=progress_bar(sys.stderr))
        print(report.summary())
        return 1 if report.rejected else 0
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    """Run what ``args`` asks for; an operator error is one line on stderr and status 2."""
    try:
        if getattr(args, "central_command", None):
            return _manage(args)
        return _serve(args)
    except CentralError as exc:
        print(f"linfen central: {exc.detail}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError, RecursionError, csv.Error, UnicodeError) as exc:  # a safety net: never a traceback
        print(f"linfen central: {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return 2


def _one_line(text: str) -> str:
    """``text`` as one line (the first, saying how many more there were)."""
    lines = [line for line in text.splitlines() if line.strip()] or [""]
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return lines[0][:500] + more


def main(argv: list[str] | None = None) -> int:
    """``python -m sync.central ...``: the same command without the rest of ``linfen``."""
    parser = ExactParser(prog="linfen")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["central", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
