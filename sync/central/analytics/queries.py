"""The analytics module's entry points: figures of a month, top dishes, settings, and publishing the top dishes.

    canteen_month(store, "2026-12")                 -> CanteenAnalytics
    top_dishes(store, "2026-12", site=None)         -> TopDishes (every canteen together)
    set_population_65(store, 41_000)
    publish_top_dishes(store, "2026-12")            -> sites written

Publishing writes a ``terminal_config`` row named ``top_dishes`` to every site's change feed
(each enrolled terminal's site and each site with a feed), value ``{month, dishes: [{dish,
qty}]}``: the month's five most popular dishes across canteens.  The hall pulls it like
any reference row; its LAN service hands it to the calling displays.  It is written by ``linfen
central analytics publish`` (a daily cron or systemd timer on the central's machine is the
schedule; the central runs no scheduler of its own).  An unchanged list takes no cursor.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from ..reference import RowChange, apply_changes
from ..sync_api.schema import sites, terminals
from .figures import SHANGHAI, canteen_analytics, rank_dishes
from .load import load_inputs, month_bounds
from .models import CanteenAnalytics, TopDishes
from .schema import POPULATION_65, analytics_settings

if TYPE_CHECKING:  # storage imports the modules, which import this module
    from ..storage import CentralStore

TOP = 5  # dishes the display shows
CONFIG_NAME = "top_dishes"  # the terminal_config row's name
MAX_POPULATION = 100_000_000


def default_as_of(today: dt.date | None = None) -> dt.date:
    """Yesterday in Shanghai: today's payments are still coming in (readers sync late when offline)."""
    return (today or dt.datetime.now(SHANGHAI).date()) - dt.timedelta(days=1)


def this_month(today: dt.date | None = None) -> str:
    """The current month in Shanghai, ``YYYY-MM``."""
    return (today or dt.datetime.now(SHANGHAI).date()).strftime("%Y-%m")


def canteen_month(store: CentralStore, month: str, canteen: str | None = None,
                  as_of: dt.date | None = None) -> CanteenAnalytics:
    """Every canteen figure of ``month`` (of one canteen, its site, when given); see :mod:`.figures`."""
    month_bounds(month)
    with read_transaction(store.engine) as conn:
        inputs = load_inputs(conn, month, as_of or default_as_of())
    return canteen_analytics(inputs, month, canteen)


def canteen_views(store: CentralStore, month: str, canteen: str | None) -> tuple[CanteenAnalytics, CanteenAnalytics]:
    """The month's figures of ``canteen`` (or all) and of all canteens, from one read (for the web page)."""
    with read_transaction(store.engine) as conn:
        inputs = load_inputs(conn, month, default_as_of())
    everything = canteen_analytics(inputs, month)
    return (canteen_analytics(inputs, month, canteen) if canteen else everything), everything


def top_dishes(store: CentralStore, month: str, site: str | None = None, limit: int = TOP) -> TopDishes:
    """The month's most popular dishes at ``site``'s canteen, or across every canteen when ``site`` is None."""
    with read_transaction(store.engine) as conn:
        inputs = load_inputs(conn, month, default_as_of(), with_context=False)
    meals = [m for m in inputs.meals if site is None or m.canteen == site]
    return TopDishes(month=month, site=site, dishes=rank_dishes(meals, limit))


def set_population_65(store: CentralStore, population: int) -> None:
    """Set the sub-district's 65+ population (the denominator of the 65+ share)."""
    if not 0 < population <= MAX_POPULATION:
        raise CentralError("bad_population", f"the 65+ population must be 1-{MAX_POPULATION}, not {population}")
    dialect = postgresql if store.backend == "postgresql" else sqlite
    values = {"name": POPULATION_65, "value": str(population), "set_at": now_text()}
    stmt = dialect.insert(analytics_settings).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[analytics_settings.c.name],
                                      set_={"value": stmt.excluded.value, "set_at": stmt.excluded.set_at})
    with write_transaction(store.engine) as conn:
        conn.execute(stmt)


def top_dishes_value(found: TopDishes) -> dict[str, Any]:
    """The ``top_dishes`` config value: the month and each dish's name and portions, most popular first."""
    return {"month": found.month, "dishes": [{"dish": d.dish, "qty": d.qty} for d in found.dishes]}


def publish_top_dishes(store: CentralStore, month: str | None = None) -> dict[str, int]:
    """Write the month's top dishes across canteens to every site's feed; returns rows changed per site."""
    found = top_dishes(store, month or this_month())
    value = top_dishes_value(found)
    changed: dict[str, int] = {}
    with write_transaction(store.engine) as conn:
        names = set(conn.execute(select(terminals.c.site).distinct()).scalars())
        names |= set(conn.execute(select(sites.c.site)).scalars())
        for site in sorted(names):  # one order for every writer (each site's counter is locked in turn)
            result = apply_changes(conn, site, "terminal_config",
                                   [RowChange(CONFIG_NAME, "upsert", {"name": CONFIG_NAME, "value": value})],
                                   replace=False, changed_at=now_text())
            changed[site] = result.upserted
    return changed
