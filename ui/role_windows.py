"""Which window each role opens: role name (from ``common.roles``) → window factory.

A factory takes the terminal's config and returns the role's window and what to call when
it closes (the hall's also runs its terminal: store, LAN queue service, device loops).  Only
roles this version runs have a factory; ``tests/test_role_registry.py`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable

from common.roles import refusal
from kiosk.config import TerminalConfig
from ui.shell import KioskWindow

Opened = tuple[KioskWindow, Callable[[], None]]
WindowFactory = Callable[[TerminalConfig], Opened]


class RoleNotAvailable(LookupError):
    """A role with no window in this version; ``str()`` is one line for the operator."""


def _hall(config: TerminalConfig) -> Opened:
    from ui.hall_app import HallUi

    hall = HallUi(config)
    return hall.window, hall.close


def _counter(config: TerminalConfig) -> Opened:
    from ui.counter import open_counter

    counter = open_counter(config)
    return counter, counter.close


def _display(config: TerminalConfig) -> Opened:
    from ui.display import open_display

    display = open_display(config)
    return display, display.close


def _canteen(config: TerminalConfig) -> Opened:
    from ui.canteen_app import CanteenUi

    canteen = CanteenUi(config)
    return canteen.window, canteen.close


def _cinema(config: TerminalConfig) -> Opened:
    from ui.cinema_app import CinemaUi

    cinema = CinemaUi(config)
    return cinema.window, cinema.close


WINDOW_FACTORIES: dict[str, WindowFactory] = {
    "hall": _hall,
    "counter": _counter,
    "display": _display,
    "canteen": _canteen,
    "cinema": _cinema,
}


def role_window(config: TerminalConfig) -> Opened:
    """The role's window and its closer; :class:`RoleNotAvailable` for a role this version does not run."""
    factory = WINDOW_FACTORIES.get(config.role)
    if factory is None:
        raise RoleNotAvailable(refusal(config.role) or f"role '{config.role}' has no window")
    return factory(config)
