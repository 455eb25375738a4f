"""What the calling display shows between calls besides its tips: the month's most popular canteen dishes.

The central computes them (``linfen central analytics publish``) and puts a ``terminal_config``
row named :data:`TOP_DISHES` in every site's feed, value ``{"month": "2026-12", "dishes":
[{"dish": "红烧肉套餐", "qty": 10}, ...]}`` (most popular first).  The hall terminal pulls it with
the rest of its reference data; its LAN service hands it to displays at ``GET
/v1/display/info`` (:func:`read_display_info`), and :meth:`kiosk.hall.client.HallClient.display_info`
reads it back.  Pulled data is untrusted: :func:`parse_top_dishes` keeps at most :data:`MAX_DISHES`
well-formed entries with short names and returns None for anything else.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from kiosk.store import Store, StoreError
from sync import apply

TOP_DISHES = "top_dishes"  # the terminal_config row's name
MAX_DISHES = 5
MAX_DISH_CHARS = 24
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class TopDishes:
    """The month's most popular dishes, most popular first: (name, portions)."""

    month: str
    dishes: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the feed's shape)."""
        return {"month": self.month, "dishes": [{"dish": d, "qty": q} for d, q in self.dishes]}


def parse_top_dishes(value: Any) -> TopDishes | None:
    """The top dishes in ``value`` (the config row's value), or None when it holds none usable."""
    if not isinstance(value, dict) or not isinstance(value.get("month"), str) or not _MONTH.match(value["month"]):
        return None
    dishes = []
    for entry in value.get("dishes") if isinstance(value.get("dishes"), list) else []:
        if not isinstance(entry, dict):
            continue
        name, qty = entry.get("dish"), entry.get("qty")
        if not isinstance(name, str) or not name.strip() or not name.isprintable() or type(qty) is not int or qty < 0:
            continue
        dishes.append((name.strip()[:MAX_DISH_CHARS], qty))
        if len(dishes) == MAX_DISHES:
            break
    return TopDishes(value["month"], tuple(dishes)) if dishes else None


def read_display_info(store: Store) -> dict[str, Any]:
    """``{"top_dishes": {...} | None}`` from the hall store's pulled reference data."""
    try:
        row = apply.reference_get(store, "terminal_config", TOP_DISHES)
    except (sqlite3.Error, StoreError, ValueError):  # no reference tables (a store that never synced), bad JSON
        row = None
    found = parse_top_dishes(row.get("value")) if isinstance(row, dict) else None
    return {"top_dishes": found.to_dict() if found else None}
