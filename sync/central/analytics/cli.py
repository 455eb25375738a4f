"""``linfen central analytics``: the 65+ population setting, publishing the top dishes, the month's figures.

    linfen central analytics settings --population-65 41000     # set (prints the settings either way)
    linfen central analytics publish [--month 2026-12]           # top 5 dishes to every site's feed
    linfen central analytics show [--month 2026-12] [--canteen SITE]   # every figure as JSON

``publish`` is what a daily timer on the central's machine runs (the central has no scheduler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from ..db import read_transaction
from .load import population_65
from .models import SettingsAnswer
from .queries import canteen_month, publish_top_dishes, set_population_65, this_month, top_dishes

if TYPE_CHECKING:
    from ..storage import CentralStore


def run_analytics_command(store: CentralStore, command: str, out: TextIO, *, population: int | None = None,
                          month: str | None = None, canteen: str | None = None) -> int:
    """Run one ``analytics`` subcommand; returns the exit status."""
    if command == "settings":
        if population is not None:
            set_population_65(store, population)
        with read_transaction(store.engine) as conn:
            out.write(SettingsAnswer(population_65_plus=population_65(conn)).model_dump_json() + "\n")
        return 0
    if command == "publish":
        month = month or this_month()
        changed = publish_top_dishes(store, month)
        dishes = top_dishes(store, month).dishes
        names = "、".join(f"{d.dish} {d.qty}" for d in dishes) or "(no payments yet)"
        out.write(f"top dishes of {month}: {names}\n")
        out.write(f"published to {len(changed)} sites ({sum(changed.values())} changed)\n")
        return 0
    out.write(canteen_month(store, month or this_month(), canteen).model_dump_json(indent=1) + "\n")
    return 0
