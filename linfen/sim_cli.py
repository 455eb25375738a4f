"""``linfen sim`` (run the simulator) and ``linfen sim ctl …`` (talk to a running one).

The ``ctl`` commands are thin clients of the control API, exactly like the GUI; they
print the JSON answer, or one line saying what went wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from common.roles import ROLE_NAMES, ROLES

DEFAULT_CONTROL_PORT = 8790  # the control API's loopback port when none is given
CONTROL_URL_ENV = "LINFEN_SIM_URL"


class SimCliError(Exception):
    """A problem the technician can fix; printed as one line."""


def default_url() -> str:
    """The control API's URL: $LINFEN_SIM_URL, or the default loopback port."""
    return os.environ.get(CONTROL_URL_ENV, f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sim`` and its ``ctl`` subcommands on the top-level parser."""
    s = sub.add_parser("sim", help="run the hardware simulator (maintenance)", description=(
        "Play every device (ID reader, social-security and community cards through pcscd+vpcd, QR camera "
        "over MJPEG and serial scanner, thermometer, printer, door, lockers) over the real transports, with "
        "60 personas and scripted faults. Prints the endpoints, writes a terminal config for `linfen kiosk`, "
        "and serves a control API that `linfen sim ctl`, the GUI and tests use."))
    timing = s.add_mutually_exclusive_group()
    timing.add_argument("--fast", dest="timing", action="store_const", const="fast", help="zero-delay answers")
    timing.add_argument("--realistic", dest="timing", action="store_const", const="realistic",
                        help="answer with real devices' delays (the default)")
    s.set_defaults(timing="realistic")
    s.add_argument("--config-out", type=Path, metavar="FILE", help="write a terminal config for these devices")
    s.add_argument("--role", default="hall", choices=ROLE_NAMES, help=(
        "role of the written config (default hall); every declared role, also one `linfen kiosk` does not "
        "run yet, so staff can rehearse its devices with `linfen doctor` and `linfen read`"))
    s.add_argument("--port", type=int, default=DEFAULT_CONTROL_PORT, help="control API port on 127.0.0.1")
    s.add_argument("--workdir", type=Path, help="folder for ptys, traffic logs and printed tickets")
    s.add_argument("--gui", action="store_true", help="also open the maintenance console")
    s.add_argument("--population", type=int, default=0, metavar="N",
                   help="play N generated residents instead of the 60 shared personas (demo, load tests)")
    s.add_argument("--population-seed", type=int, default=7, help="seed of the generated residents")
    s.add_argument("--card-master-key", type=Path, metavar="FILE", help=(
        "hex file (mode 0600) of the master key the community cards' keys are diversified from; default: "
        "card-master-key.hex in the work folder, made at random when missing. Canteen and cinema configs "
        "written with --config-out name the same file"))
    s.set_defaults(func=run_simulator)
    ctl_parsers = s.add_subparsers(dest="sim_command", metavar="ctl")
    c = ctl_parsers.add_parser("ctl", help="send a command to a running simulator", description=(
        "Commands for a running simulator's control API (default "
        f"{default_url()}, or --url / ${CONTROL_URL_ENV})."))
    c.add_argument("--url", default=None, help="control API URL")
    cs = c.add_subparsers(dest="ctl_command", required=True, metavar="COMMAND")
    p = cs.add_parser("present", help="put a persona's card on a reader: present idcard|sscard|ccard P001")
    p.add_argument("device", choices=["idcard", "sscard", "ccard"])
    p.add_argument("persona")
    p.add_argument("--card", choices=["genuine", "clone", "no_applet"], default="genuine", help=(
        "ccard only: the persona's own card (default), a clone (its UID, no key: refused by canteen and cinema "
        "readers) or a card with its UID and no community card application"))
    q = cs.add_parser("show-qr", help="show a persona's signed code to the camera (or --scanner)")
    q.add_argument("persona")
    q.add_argument("--scanner", action="store_true", help="scan it with the serial scanner instead")
    r = cs.add_parser("remove", help="take the card off a reader (or the code off the camera)")
    r.add_argument("device")
    t = cs.add_parser("temperature", help="what the thermometer measures next, in °C")
    t.add_argument("celsius", type=float)
    f = cs.add_parser("fault", help="inject a fault: fault DEVICE KIND [ARG] [--count N]")
    f.add_argument("device")
    f.add_argument("kind")
    f.add_argument("arg", nargs="?")
    f.add_argument("--count", type=int)
    cl = cs.add_parser("clear", help="clear a device's faults (DEVICE all clears every device)")
    cl.add_argument("device")
    cl.add_argument("kind", nargs="?")
    pa = cs.add_parser("paper", help="printer paper: ok, near_end or out")
    pa.add_argument("state", choices=["ok", "near_end", "out"])
    u = cs.add_parser("unplug", help="pull a device's cable")
    u.add_argument("device")
    pl = cs.add_parser("plug", help="plug a device back in")
    pl.add_argument("device")
    co = cs.add_parser("colour", help="change a persona's code colour at the city service: colour P001 red")
    co.add_argument("persona")
    co.add_argument("colour", choices=["green", "yellow", "red"])
    d = cs.add_parser("door", help="someone opens or closes a door: door DEVICE LOCK open|closed")
    d.add_argument("device", choices=["door", "locker"])
    d.add_argument("lock", type=int)
    d.add_argument("state", choices=["open", "closed"])
    tr = cs.add_parser("traffic", help="a device's recent bytes, in hex with timestamps")
    tr.add_argument("device")
    tr.add_argument("--last", type=int, default=50)
    cs.add_parser("status", help="the whole simulator's state as JSON")
    c.set_defaults(func=run_ctl)


def _request(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    try:
        response = httpx.request(method, url.rstrip("/") + path, json=body, timeout=10.0)
    except httpx.HTTPError as exc:
        raise SimCliError(f"no simulator answers at {url} ({exc.__class__.__name__}); start one with `linfen sim`") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        if isinstance(detail, list):  # pydantic validation errors
            detail = "; ".join(f"{'.'.join(map(str, e.get('loc', [])[1:]))}: {e.get('msg')}" for e in detail)
        raise SimCliError(f"simulator refused: {detail}")
    return response.json()


def ctl_call(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """The control API request (method, path, body) for a parsed ``ctl`` command."""
    c = args.ctl_command
    if c == "present":
        return "POST", "/present", {"device": args.device, "persona": args.persona, "card": args.card}
    if c == "show-qr":
        return "POST", "/show-qr", {"persona": args.persona, "device": "qr_scanner" if args.scanner else "qr_camera"}
    if c in ("remove", "unplug", "plug"):
        return "POST", f"/{c}", {"device": args.device}
    if c == "temperature":
        return "POST", "/temperature", {"celsius": args.celsius}
    if c == "fault":
        return "POST", "/fault", {"device": args.device, "kind": args.kind, "arg": args.arg, "count": args.count}
    if c == "clear":
        return "POST", "/clear", {"device": args.device, "kind": args.kind}
    if c == "paper":
        return "POST", "/paper", {"state": args.state}
    if c == "colour":
        return "POST", "/code-colour", {"persona": args.persona, "colour": args.colour}
    if c == "door":
        return "POST", "/door", {"device": args.device, "lock": args.lock, "open": args.state == "open"}
    if c == "traffic":
        return "GET", f"/traffic/{args.device}?last={args.last}", None
    return "GET", "/status", None


def run_ctl(args: argparse.Namespace) -> int:
    """Send one command to a running simulator and print its answer."""
    method, path, body = ctl_call(args)
    try:
        answer = _request(args.url or default_url(), method, path, body)
    except SimCliError as exc:
        print(f"linfen sim ctl: {exc}", file=sys.stderr)
        return 2
    if args.ctl_command == "traffic":
        print("\n".join(answer))
    else:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0


def run_simulator(args: argparse.Namespace) -> int:
    """Start every device and the control API; run until Ctrl-C or SIGTERM."""
    from hardware_sim import personas
    from hardware_sim.control_api import ControlServer
    from hardware_sim.runner import Simulator
    from hardware_sim.timing import Timing


    population = personas.generate(args.population, seed=args.population_seed) if args.population else None
    try:
        sim = Simulator(args.workdir, Timing(args.timing), population=tuple(population) if population else None,
                        card_master_key_file=args.card_master_key)
    except ValueError as exc:  # the card master key file cannot be used (MasterKeyError)
        print(f"linfen sim: cannot start: card master key: {exc}", file=sys.stderr)
        return 2
    try:
        sim.start()
        server = ControlServer(sim, port=args.port)
        sim.control_url = server.start()
    except Exception as exc:
        sim.stop()
        print(f"linfen sim: cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"simulator running ({args.timing} timing); control API {sim.control_url} (docs at /docs)")
    for name, dev in sim.devices.items():
        print(f"  {name:12s} {json.dumps(dev.config_entry(), ensure_ascii=False)}")
    if args.config_out:
        from linfen.reference import write_sim_reference

        args.config_out.parent.mkdir(parents=True, exist_ok=True)
        extra = write_sim_reference(sim, sim.workdir / "reference", args.role)
        tmp = args.config_out.with_name(args.config_out.name + ".tmp")
        tmp.write_text(sim.terminal_config(args.role, extra=extra), encoding="utf-8")
        tmp.replace(args.config_out)  # whoever waits for the file sees it whole
        print(f"terminal config for role {args.role}: {args.config_out}")
        if not ROLES[args.role].available:
            print(f"note: role {args.role} is not available yet in this version ({ROLES[args.role].not_built}); "
                  "`linfen kiosk` refuses it, `linfen doctor` and `linfen read` work on this config")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.gui:
            from ui.sim_console import run_console

            run_console(sim.control_url)
        else:
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sim.stop()
    return 0
