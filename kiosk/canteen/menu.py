"""Today's menu at one canteen: from the pulled ``menu`` rows, else the canteen's seed file.

A ``menu`` row (docs/community-card.md §2) is ``{item_id, name, name_en, price_fen, canteen, kind,
photo?, days?}``: ``canteen`` is this canteen's site or ``*`` for all, ``kind`` is ``set_meal`` (a
big button on the self-pay screen) or ``dish`` (the clerk's list), ``days`` the ISO weekdays (1 =
Monday) it is served, all days when absent.  Rows that are not for this canteen or today are left
out; a row with a bad price is left out and logged, never shown at a wrong price.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_PRICE_FEN = 100_000  # a dish over 1,000 元 is a typo, not a price


@dataclass(frozen=True)
class MenuItem:
    """One dish or set meal on today's menu."""

    item_id: str
    name: str
    name_en: str
    price_fen: int
    kind: str  # "set_meal" or "dish"
    photo: str | None = None

    def as_item(self, qty: int = 1) -> dict[str, Any]:
        """The basket line the flow and the payment carry."""
        return {"item_id": self.item_id, "name": self.name, "name_en": self.name_en, "unit_fen": self.price_fen,
                "qty": qty, "set_meal": self.kind == "set_meal"}


def _item(key: str, row: Mapping[str, Any]) -> MenuItem | None:
    price = row.get("price_fen")
    if isinstance(price, bool) or not isinstance(price, int) or not 0 < price <= MAX_PRICE_FEN:
        log.error("menu item %r left out: price_fen %r is not a whole number of fen between 1 and %d", key, price,
                  MAX_PRICE_FEN)
        return None
    name = str(row.get("name") or "").strip()
    if not name:
        log.error("menu item %r left out: no name", key)
        return None
    kind = "set_meal" if row.get("kind") == "set_meal" else "dish"
    photo = row.get("photo") if isinstance(row.get("photo"), str) else None
    return MenuItem(str(row.get("item_id") or key), name, str(row.get("name_en") or name), price, kind, photo)


def todays_menu(rows: Mapping[str, Mapping[str, Any]], canteen: str, day: dt.date) -> list[MenuItem]:
    """The items of ``rows`` served at ``canteen`` on ``day``, set meals first, then by price and name."""
    items = []
    for key, row in rows.items():
        if row.get("canteen", "*") not in ("*", canteen):
            continue
        days = row.get("days")
        if isinstance(days, list) and days and day.isoweekday() not in days:
            continue
        item = _item(key, row)
        if item is not None:
            items.append(item)
    return sorted(items, key=lambda i: (i.kind != "set_meal", i.price_fen, i.name))


def load_menu_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """A seed menu file: a JSON list of ``menu`` rows (used while the central's feed has none)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows: Iterable[Any] = data.get("rows", []) if isinstance(data, dict) else data
    out = {}
    for row in rows:
        if isinstance(row, dict) and row.get("item_id"):
            out[str(row["item_id"])] = row
    return out
