"""Put a canteen reader together from its config: the shared terminal base plus the canteen's own parts.

    app = open_canteen(config, on_show=..., on_say=...)   # started: reader loop, sync, supervisor
    app.terminal.ui("meal:set-a"); app.terminal.basket({"dish-1": 2})
    app.close()

The policy and the menu follow what sync pulled; ``[canteen] policy_file`` and ``menu_file`` are
only the offline seed used while the feed has none.  Anything wrong at start (a seed file that
cannot be read, no card master key) stops with one line naming the setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.canteen.card_data import reader_payments
from kiosk.canteen.day_close import Z_MIGRATIONS, DayClose
from kiosk.canteen.flow import CanteenSettings
from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.canteen.menu import MenuItem, load_menu_file, todays_menu
from kiosk.canteen.payments import CardPayments
from kiosk.canteen.policy import Policy, load_policy, policy_in_force
from kiosk.canteen.terminal import CanteenServices, CanteenTerminal
from kiosk.canteen.wallet import CardLimits
from kiosk.config import TerminalConfig
from kiosk.runtime.compose import TerminalBase, load_seed, open_base
from kiosk.store import Store
from kiosk.voice import Speaker
from sync import apply


@dataclass(frozen=True)
class CanteenOptions:
    """The canteen's own settings (config ``[canteen]``), defaults when the table is absent."""

    mode: str = "self"
    title: str = "临汾路街道社区长者食堂"
    menu_file: str | None = None
    policy_file: str | None = None
    void_window_s: float = 600.0
    limits: CardLimits = CardLimits()
    photo_dir: str | None = None


def canteen_options(config: TerminalConfig) -> CanteenOptions:
    """The ``[canteen]`` table of a config as options (defaults without one)."""
    table = config.canteen
    if table is None:
        return CanteenOptions()
    return CanteenOptions(table.mode, table.title, table.menu_file, table.policy_file, table.void_window_s,
                          CardLimits(**table.limits.model_dump()), table.photo_dir)


@dataclass
class CanteenApp:
    """A running canteen reader: the shared base plus its payments and terminal."""

    config: TerminalConfig
    base: TerminalBase
    payments: CardPayments
    terminal: CanteenTerminal

    @property
    def store(self) -> Store:
        """The reader's SQLite store (journal, outbox, pulled data)."""
        return self.base.store

    @property
    def day_close(self) -> DayClose:
        """The reader's Z reports (close a day, list, verify the chain)."""
        return DayClose(self.base.store)

    def blacklist_age_s(self) -> float | None:
        """How far behind the deny list and balances may be: seconds since the last caught-up pull."""
        return apply.feed_age_s(self.base.store, dt.datetime.now(dt.UTC))

    def close(self) -> None:
        """Stop the terminal, then the shared base (sync, devices, store)."""
        self.base.close()


def open_canteen(config: TerminalConfig, *, speaker: Speaker | None = None, language: Callable[[], str] | None = None,
                 clock: Callable[[], dt.datetime] | None = None, **callbacks: Any) -> CanteenApp:
    """Open the reader's store, payments and devices, and start the canteen (``callbacks`` → CanteenTerminal)."""
    options = canteen_options(config)
    seed_policy = load_seed("canteen.policy_file", options.policy_file, load_policy)
    seed_menu = load_seed("canteen.menu_file", options.menu_file, load_menu_file, {})
    base = open_base(config, migrations=(CANTEEN_MIGRATIONS, Z_MIGRATIONS), speaker=speaker)
    try:
        now = clock or (lambda: dt.datetime.now().astimezone())
        ref = base.reference
        payments = reader_payments(base.store, ref, options.limits, now, options.void_window_s)

        def policy(day: dt.date) -> Policy | None:
            pulled = ref.policies()
            return policy_in_force(pulled if pulled else ([seed_policy] if seed_policy else []), day)

        def menu(day: dt.date) -> list[MenuItem]:
            return todays_menu(ref.entries("menu") or seed_menu, config.site, day)

        services = CanteenServices(payments, policy, menu, base.speaker, language or (lambda: config.language),
                                   base.health, options.title, config.terminal_id)
        terminal = CanteenTerminal(base.drivers.get("ccard"), base.drivers.get("printer"), services,
                                   CanteenSettings(mode=options.mode, idle_timeout_s=config.thresholds.idle_timeout_s),
                                   clock=now, **callbacks)
        base.on_device_change = terminal.device_changed
        base.closers[:0] = [terminal.stop]
        terminal.start()
        base.start()
        return CanteenApp(config, base, payments, terminal)
    except BaseException:
        base.close()
        raise
