"""The two child processes of ``bench/slowloris.py``: a hall service to attack, and the attacker.

    python bench/slowloris_parts.py serve-hall DIR            # prints "listening http://127.0.0.1:PORT"
    python bench/slowloris_parts.py attack HOST PORT --idle N --half M --seconds S --grace G

The hall child serves a real hall queue (store, staff registry, two services with waiting
tickets) through :class:`kiosk.hall.service_server.HallServer`, logging warnings to stderr.

The attacker holds ``--idle`` connections that send nothing and ``--half`` that send half a
request (half of them a partial head dribbled a line per second, half a full head and a
partial body dribbled a byte per second; ``--no-bodies``: all partial heads), replacing each one the server closes, for
``--seconds``; then it stops replacing and waits up to ``--grace`` seconds for the server to
close the rest.  It prints one JSON line: sockets opened, closed by the server, still open
at the end, and the lifetimes (connected → closed) by kind.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import resource
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "slowloris-bench-hall-secret-7Hq2"
CARD, PIN = "C0FFEE01", "2580"
SERVICES = [{"code": "A", "name_zh": "综合受理", "name_en": "General", "daily_cap": 999},
            {"code": "B", "name_zh": "社保医保", "name_en": "Insurance", "daily_cap": 999}]


def serve_hall(folder: Path, tickets: int = 400) -> int:
    """Run a hall service on a free loopback port until stdin closes."""
    from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
    from kiosk.hall.service_server import serve_hall as serve
    from kiosk.hall.staff import ScryptParams, StaffRegistry
    from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
    from kiosk.store import Store

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    store = Store.open(folder / "hall.db", "hall-bench", extra_migrations=(HALL_MIGRATIONS, STAFF_ALERT_MIGRATIONS))
    queue = HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict"))
    staff = StaffRegistry(store, b"slowloris-bench-person-key-0123", kdf=ScryptParams(n=2**10))
    staff.set("s001", "王*一", CARD, PIN)
    for i in range(tickets):
        queue.take_ticket("AB"[i % 2], f"bench-person-{i:05d}-0123456789ab", masked_name="张*明")
    server = serve(queue, SECRET, staff=staff)
    print(f"listening {server.url}", flush=True)
    sys.stdin.read()
    server.stop()
    store.close()
    return 0


@dataclass
class _Conn:
    kind: str
    sock: socket.socket
    opened: float
    connected: float | None = None


@dataclass
class AttackReport:
    """What the attacker saw."""

    opened: int = 0
    connect_failures: int = 0
    closed_by_server: int = 0
    answered: int = 0
    still_open_at_end: int = 0
    lifetimes: dict[str, list[float]] = field(default_factory=lambda: {"idle": [], "head": [], "body": []})

    def summary(self) -> dict[str, object]:
        """The report as one JSON-able dict (lifetimes as max and median per kind, seconds)."""
        out: dict[str, object] = {k: v for k, v in vars(self).items() if k != "lifetimes"}
        for kind, values in self.lifetimes.items():
            values = sorted(values)
            out[f"{kind}_closed"] = len(values)
            out[f"{kind}_lifetime_max_s"] = round(values[-1], 3) if values else None
            out[f"{kind}_lifetime_median_s"] = round(values[len(values) // 2], 3) if values else None
        return out


def _greeting(kind: str, host: str, path: str) -> bytes:
    if kind == "head":
        return f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n".encode()
    if kind == "body":
        return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{\"a\":").encode()
    return b""


def attack(host: str, port: int, idle: int, half: int, seconds: float, grace: float,
           path: str = "/v1/counters/1/next", bodies: bool = True) -> AttackReport:
    """Hold ``idle`` silent and ``half`` half-sent connections for ``seconds``; see the module docstring."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    report = AttackReport()
    sel = selectors.DefaultSelector()
    live: dict[int, _Conn] = {}

    def open_one(kind: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            report.connect_failures += 1
            sock.close()
            return
        conn = _Conn(kind, sock, time.monotonic())
        live[sock.fileno()] = conn
        sel.register(sock, selectors.EVENT_WRITE, conn)
        report.opened += 1

    def drop(conn: _Conn) -> None:
        sel.unregister(conn.sock)
        live.pop(conn.sock.fileno(), None)
        conn.sock.close()

    halves = ["head", "body"] * (half // 2) + ["head"] * (half % 2) if bodies else ["head"] * half
    kinds = ["idle"] * idle + halves
    for kind in kinds:
        open_one(kind)
    end = time.monotonic() + seconds
    next_dribble = time.monotonic() + 1.0
    while True:
        now = time.monotonic()
        attacking = now < end
        if not attacking and (not live or now > end + grace):
            break
        for key, _mask in sel.select(timeout=0.1):
            conn: _Conn = key.data
            now = time.monotonic()
            if conn.connected is None:
                if conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    report.connect_failures += 1
                    drop(conn)
                    if attacking:
                        open_one(conn.kind)
                    continue
                conn.connected = now
                sel.modify(conn.sock, selectors.EVENT_READ, conn)
                try:
                    conn.sock.send(_greeting(conn.kind, host, path))
                except OSError:
                    pass
                continue
            try:
                data = conn.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if data:
                report.answered += 1
                continue
            report.closed_by_server += 1
            report.lifetimes[conn.kind].append(now - conn.connected)
            drop(conn)
            if attacking:
                open_one(conn.kind)
        if time.monotonic() >= next_dribble:
            next_dribble += 1.0
            for conn in list(live.values()):
                if conn.connected is not None and conn.kind != "idle":
                    try:
                        conn.sock.send(b"X-a: b\r\n" if conn.kind == "head" else b"1")
                    except OSError:
                        pass
    report.still_open_at_end = len(live)
    for conn in list(live.values()):
        drop(conn)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return report


def main(argv: list[str] | None = None) -> int:
    """``serve-hall DIR`` or ``attack HOST PORT ...`` (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    hall = sub.add_parser("serve-hall")
    hall.add_argument("folder", type=Path)
    att = sub.add_parser("attack")
    att.add_argument("host")
    att.add_argument("port", type=int)
    att.add_argument("--idle", type=int, default=2000)
    att.add_argument("--half", type=int, default=500)
    att.add_argument("--seconds", type=float, default=60.0)
    att.add_argument("--grace", type=float, default=15.0)
    att.add_argument("--path", default="/v1/counters/1/next", help="target of the half-sent requests")
    att.add_argument("--no-bodies", action="store_true", help="half-sent = partial heads only")
    args = ap.parse_args(argv)
    if args.cmd == "serve-hall":
        return serve_hall(args.folder)
    report = attack(args.host, args.port, args.idle, args.half, args.seconds, args.grace, args.path,
                    not args.no_bodies)
    print(json.dumps(report.summary()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
