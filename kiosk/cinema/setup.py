"""Put a cinema terminal together from its config: the shared terminal base plus the cinema's own parts.

    app = open_cinema(config, on_show=..., on_say=...)   # started: reader loop, sync, supervisor
    app.terminal.ui("screening:film-2026-12-05-1400"); app.terminal.ui("entry:film-...")
    app.terminal.scan("LFC1:cinema-1:film-...:0A1B2C3D4E5F")
    app.close()

The screenings follow what sync pulled (``screening`` rows); ``[cinema] screenings_file`` is only
the offline seed used while the feed has none.  Payments use the canteen's card money parts as
they are (:class:`~kiosk.canteen.payments.CardPayments`, its journal and limits).  Anything wrong
at start (a seed file that cannot be read, no card master key) stops with one line naming the
setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.canteen.card_data import reader_payments
from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.canteen.payments import CardPayments
from kiosk.canteen.wallet import CardLimits
from kiosk.cinema.flow import CinemaSettings
from kiosk.cinema.screenings import Screening, expand_seed, load_screenings_file, upcoming
from kiosk.cinema.terminal import CinemaServices, CinemaTerminal
from kiosk.cinema.tickets import CINEMA_MIGRATIONS, CinemaTickets
from kiosk.config import TerminalConfig
from kiosk.runtime.compose import TerminalBase, load_seed, open_base
from kiosk.store import Store
from kiosk.voice import Speaker


@dataclass(frozen=True)
class CinemaOptions:
    """The cinema's own settings (config ``[cinema]``), defaults when the table is absent."""

    title: str = "临汾路街道党群服务中心 社区电影"
    screenings_file: str | None = None
    late_min: int = 20
    limits: CardLimits = CardLimits()


def cinema_options(config: TerminalConfig) -> CinemaOptions:
    """The ``[cinema]`` table of a config as options (defaults without one)."""
    table = config.cinema
    if table is None:
        return CinemaOptions()
    return CinemaOptions(table.title, table.screenings_file, table.late_min, CardLimits(**table.limits.model_dump()))


@dataclass
class CinemaApp:
    """A running cinema terminal: the shared base plus its payments, tickets and terminal."""

    config: TerminalConfig
    base: TerminalBase
    payments: CardPayments
    tickets: CinemaTickets
    terminal: CinemaTerminal

    @property
    def store(self) -> Store:
        """The terminal's SQLite store (tickets, card journal, outbox, pulled data)."""
        return self.base.store

    def close(self) -> None:
        """Stop the terminal, then the shared base (sync, devices, store)."""
        self.base.close()


def open_cinema(config: TerminalConfig, *, speaker: Speaker | None = None, language: Callable[[], str] | None = None,
                clock: Callable[[], dt.datetime] | None = None, settings: CinemaSettings | None = None,
                **callbacks: Any) -> CinemaApp:
    """Open the terminal's store, payments, tickets and devices, and start it (``callbacks`` → CinemaTerminal)."""
    options = cinema_options(config)
    seed = load_seed("cinema.screenings_file", options.screenings_file, load_screenings_file, {})
    base = open_base(config, migrations=(CANTEEN_MIGRATIONS, CINEMA_MIGRATIONS), speaker=speaker)
    try:
        now = clock or (lambda: dt.datetime.now().astimezone())
        ref = base.reference
        payments = reader_payments(base.store, ref, options.limits, now)
        tickets = CinemaTickets(base.store)

        def screenings(at: dt.datetime) -> list[Screening]:
            rows = ref.entries("screening") or expand_seed(seed, at.date())
            return upcoming(rows, at, late_s=options.late_min * 60)

        services = CinemaServices(payments, tickets, screenings, base.speaker, language or (lambda: config.language),
                                  base.health, options.title, config.terminal_id)
        terminal = CinemaTerminal(base.drivers.get("ccard"), base.drivers.get("printer"), services,
                                  settings or CinemaSettings(idle_timeout_s=config.thresholds.idle_timeout_s),
                                  clock=now, **callbacks)
        base.on_device_change = terminal.device_changed
        base.closers[:0] = [terminal.stop]
        terminal.start()
        base.start()
        return CinemaApp(config, base, payments, tickets, terminal)
    except BaseException:
        base.close()
        raise
