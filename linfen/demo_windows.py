"""The demo on a machine with a display: every window of the hall open at once, for people to try.

The simulator runs with realistic timing and its maintenance console opens beside the
hall ticket machine, so a visitor can pick a persona and present their card or code.
Counters and the calling display connect to the hall's LAN service as in the field.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kiosk.config import Counter, TerminalConfig
from linfen.demo import Stack


def _lan_config(hall: TerminalConfig, role: str, terminal_id: str, url: str, **extra: object) -> TerminalConfig:
    return TerminalConfig.model_validate({
        "role": role, "terminal_id": terminal_id, "site": hall.site, "hall_url": url,
        "lan": {"secret": hall.lan.secret if hall.lan else ""}, "screen": {"fullscreen": False}, **extra})


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

        for n in (1, 2):
            cfg = _lan_config(stack.config, "counter", f"counter-{n}", stack.service_url,
                              counter=Counter(window=n).model_dump())
            windows.append(open_counter(cfg))
        windows.append(open_display(_lan_config(stack.config, "display", "display-1", stack.service_url)))
    except ImportError as exc:  # counters and display not installed in this build: say so, run the rest
        print(f"demo: counters and display not available: {exc}")
    for i, w in enumerate(windows):
        w.resize(1280, 800)
        w.move(40 * i, 30 * i)
        w.show()
    print(f"demo: simulator control API {stack.sim.url}; hall queue service {stack.service_url}")
    print("demo: use the maintenance console to present a resident's card or code; close the hall window to stop")
    try:
        return app.exec()
    finally:
        for w in windows[1:]:
            w.close()
        stack.close()
