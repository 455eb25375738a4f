"""The demo on a machine with a display: every window of the hall open at once, for people to try.

The simulator runs with realistic timing and its maintenance console opens beside the
hall ticket machine, so a visitor can pick a persona and present their card or code.
Counters and the calling display connect to the hall's LAN service as in the field.  The two
counters share the simulator's community-card reader as their staff-card reader: two personas'
community cards are enrolled as the clerks of windows 1 and 2 (PIN :data:`linfen.demo.DEMO_STAFF_PIN`),
so a visitor presents a clerk's card from the maintenance console and types the PIN at that window.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hardware_sim import personas
from kiosk.config import Counter, TerminalConfig
from linfen.demo import DEMO_STAFF_PIN, Stack

CLERKS = {1: "P011", 2: "P012"}  # window -> the persona whose community card is that window's staff card


def enrol_clerks(stack: Stack) -> list[str]:
    """Enrol each window's clerk (a persona's community card) in the hall; one line per clerk for the visitor."""
    from kiosk.hall.checkin.setup import read_person_key
    from kiosk.hall.staff import StaffRegistry

    app = stack.hall.app
    assert app is not None
    registry = StaffRegistry(app.store, read_person_key(app.config))
    lines = []
    for window, persona_id in CLERKS.items():
        person = personas.by_id(persona_id)
        registry.set(f"S{window:03d}", f"演示*{window}", person.ccard_uid, DEMO_STAFF_PIN)
        lines.append(f"demo: clerk of window {window}: present {persona_id}'s community card (ccard), PIN "
                     f"{DEMO_STAFF_PIN}")
    return lines


def _lan_config(hall: TerminalConfig, role: str, terminal_id: str, url: str, **extra: object) -> TerminalConfig:
    return TerminalConfig.model_validate({
        "role": role, "terminal_id": terminal_id, "site": hall.site, "hall_url": url,
        "lan": {"secret": hall.lan.secret if hall.lan else ""}, "screen": {"fullscreen": False}, **extra})


def counter_config(stack: Stack, window: int) -> TerminalConfig:
    """The config of the demo's counter at ``window``: a LAN client of the hall with the simulator's ccard reader."""
    reader = stack.sim.http.get("/status").json()["devices"]["ccard"]["reader"]  # e.g. "Linfen CC VPCD 00 00"
    return _lan_config(stack.config, "counter", f"counter-{window}", stack.service_url,
                       counter=Counter(window=window).model_dump(), devices={"ccard": {"reader": reader}})


def run_windows(timing: str) -> int:
    """Open the simulator console, the hall, two counters and the display; run until the hall window closes."""
    from ui.app import application
    from ui.sim_console import SimConsole

    app = application()
    stack = Stack(Path(tempfile.mkdtemp(prefix="linfen-demo-")), timing, 0, voice=True)
    windows = [stack.hall.window]
    console = SimConsole(stack.sim.url)
    windows.append(console)
    try:
        from ui.counter import open_counter
        from ui.display import open_display

        clerks = enrol_clerks(stack)
        windows += [open_counter(counter_config(stack, n)) for n in CLERKS]
        windows.append(open_display(_lan_config(stack.config, "display", "display-1", stack.service_url)))
    except ImportError as exc:  # counters and display not installed in this build: say so, run the rest
        clerks = []
        print(f"demo: counters and display not available: {exc}")
    for i, w in enumerate(windows):
        w.resize(1280, 800)
        w.move(40 * i, 30 * i)
        w.show()
    print(f"demo: simulator control API {stack.sim.url}; hall queue service {stack.service_url}")
    for line in clerks:
        print(line)
    print("demo: use the maintenance console to present a resident's card or code; close the hall window to stop")
    try:
        return app.exec()
    finally:
        for w in windows[1:]:
            w.close()
        stack.close()
