"""Start the Qt application for one terminal: the role's window (from :mod:`ui.role_windows`), signals, screenshot."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from kiosk.config import TerminalConfig
from ui import theme
from ui.qt import QApplication, QFont, QThreadPool, QTimer, qInstallMessageHandler
from ui.role_windows import role_window
from ui.shell import KioskWindow

WINDOWED_SIZE = (1280, 800)  # px, the windowed size and the offscreen screenshot size
SCREENSHOT_WAIT_MS = 4000  # longest wait for the first status probe before a screenshot, in ms
SIGNAL_POLL_MS = 200  # how often Qt's loop hands Python a moment to run signal handlers, in ms
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def has_display() -> bool:
    """True when a real display is available (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def ensure_platform() -> str:
    """Use the offscreen platform when there is no display; return the platform name in use."""
    if not os.environ.get("QT_QPA_PLATFORM") and not has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return os.environ.get("QT_QPA_PLATFORM", "xcb")


QUIET_QT_WARNINGS = ("propagateSizeHints",)  # offscreen-platform chatter, not a problem of ours


def _qt_messages(mode: object, context: object, message: str) -> None:
    if not any(q in message for q in QUIET_QT_WARNINGS):
        print(message, file=sys.stderr)


def application() -> QApplication:
    """The process's QApplication, created once with the theme's font."""
    ensure_platform()
    qInstallMessageHandler(_qt_messages)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    font = QFont()
    font.setFamilies(theme.FONT_FAMILIES)
    font.setPointSize(theme.ELDER.body_pt)
    app.setFont(font)
    return app  # type: ignore[return-value]


def open_window(config: TerminalConfig, windowed: bool) -> KioskWindow:
    """Create and show a role's window, full screen unless ``windowed``."""
    window, closer = role_window(config)
    window.closer = closer  # type: ignore[attr-defined]
    if windowed or not config.screen.fullscreen or not has_display():
        window.resize(*WINDOWED_SIZE)
        window.show()
    else:
        window.showFullScreen()
    return window


def save_screenshot(window: KioskWindow, path: Path) -> Path:
    """Wait (bounded) for the first status probe, then save the window as a PNG."""
    app = QApplication.instance()
    deadline = time.monotonic() + SCREENSHOT_WAIT_MS / 1000
    while window.statuses is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise OSError(f"could not write screenshot {path}")
    return path


def run_kiosk(config: TerminalConfig, windowed: bool = False, screenshot: Path | None = None) -> int:
    """Run one terminal until its window closes; with ``screenshot``, save it and quit."""
    app = application()
    window = open_window(config, windowed)
    if screenshot is not None:
        saved = save_screenshot(window, screenshot)
        print(f"screenshot of role {config.role}: {saved}")
        _dispose(window)
        return 0
    ticker = quit_on_stop_signals(app)
    print(f"linfen kiosk: {config.role} terminal {config.terminal_id} running (pid {os.getpid()})", flush=True)
    try:
        return app.exec()
    finally:
        ticker.stop()
        _dispose(window)
        print(f"linfen kiosk: {config.role} terminal {config.terminal_id} closed", flush=True)


def quit_on_stop_signals(app: QApplication) -> QTimer:
    """Make SIGTERM (``systemctl stop``), SIGINT and SIGHUP end the event loop, so the terminal closes cleanly.

    Python runs a signal handler only when the interpreter gets control, which Qt's loop never
    gives while idle; the returned timer wakes it every :data:`SIGNAL_POLL_MS` ms.
    """
    def stop(signum: int, _frame: object) -> None:
        print(f"linfen kiosk: {signal.Signals(signum).name} received, closing", file=sys.stderr, flush=True)
        app.quit()

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(SIGNAL_POLL_MS)
    return ticker


def _dispose(window: KioskWindow) -> None:
    """Close a window (and its terminal) and delete it on the Qt side, after background probes have finished."""
    getattr(window, "closer", window.close)()
    QThreadPool.globalInstance().waitForDone(5000)
    app = QApplication.instance()
    app.processEvents()
    window.deleteLater()
    app.sendPostedEvents(None, 0)  # 0 = QEvent.DeferredDelete
