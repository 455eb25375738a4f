"""Reading a month's canteen payments and the data around them out of the central database.

Plain SQLAlchemy Core, the same on SQLite and PostgreSQL: the JSON payloads are read as text
and parsed here (the two backends' JSON functions differ), which for a month of ~33,000
payments takes well under a second (``tests/test_central_analytics.py`` prints the time).

- **Payments**: ``card.payment`` events pushed by a terminal whose role is ``canteen`` (a
  cinema's card payments are not meals), whose payload ``day`` falls in the month; the ones a
  ``card.void`` names (``voids``) are left out, and so is every money event the ledger refused
  (a ``card_problems`` row).  Events are narrowed first by ``occurred_at`` text (a day's margin
  each side, so any UTC offset is covered), then by the payload's ``day``.
- **Meals after the month** (up to 30 days, for repurchase windows that end after it).
- **Seating**: ``space`` rows of a canteen's site with ``kind: "canteen"``: ``capacity`` (seats)
  and ``sittings`` (whole numbers; the CSV importer keeps a CSV's ``sittings`` as text, so
  digit text is read too).  A site without such a row has no seats: its occupancy is null.
- **Cards issued**: distinct ``card`` rows with ``status: "active"`` on any site, and their
  ``birth_year``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from ..card.schema import card_problems
from ..errors import CentralError
from ..sync_api.schema import events, reference, terminals
from .figures import SHANGHAI, Inputs, Item, Meal, Seating
from .schema import POPULATION_65, analytics_settings

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
LOOK_AHEAD_DAYS = 30  # meals after the month read for repurchase windows
_MAX_TEXT = 100


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM``; CentralError when it is not one."""
    match = MONTH.match(month or "")
    if not match:
        raise CentralError("bad_month", f"month must be YYYY-MM, e.g. 2026-12, not {str(month)[:20]!r}")
    first = dt.date(int(match.group(1)), int(match.group(2)), 1)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def _whole(value: Any) -> int | None:
    if type(value) is int:  # the usual case, first (bool is a subclass of int: refused below)
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value[:_MAX_TEXT] if isinstance(value, str) and value else None


def _local_time(value: Any) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at.astimezone(SHANGHAI) if at.tzinfo else None


def _items(value: Any) -> tuple[Item, ...]:
    out = []
    for raw in value if isinstance(value, list) else []:
        if not isinstance(raw, dict):
            continue
        item_id, qty, unit = _text(raw.get("item_id")), _whole(raw.get("qty")), _whole(raw.get("unit_fen"))
        if item_id is None or qty is None or qty <= 0:
            continue
        out.append(Item(item_id, _text(raw.get("dish")) or _text(raw.get("name")) or item_id, qty, unit or 0))
    return tuple(out)


def _day(value: Any, cache: dict[Any, dt.date | None]) -> dt.date | None:
    if value not in cache:
        try:
            cache[value] = dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            cache[value] = None
    return cache[value]


def meal_of(event_id: str, canteen: str, payload: Any, days: dict[Any, dt.date | None] | None = None) -> Meal | None:
    """The meal a payment payload describes, or None when its card, day or amounts are unreadable."""
    if not isinstance(payload, dict):
        return None
    card_no = _text(payload.get("card_no"))
    day = _day(payload.get("day"), {} if days is None else days)
    amounts = [_whole(payload.get(k)) for k in ("gross_fen", "discount_fen", "subsidy_fen", "paid_fen")]
    if card_no is None or day is None or any(a is None or a < 0 for a in amounts):
        return None
    gross, discount, subsidy, paid = (int(a or 0) for a in amounts)
    return Meal(event_id, canteen, card_no, day, _local_time(payload.get("at")), _items(payload.get("items")),
                gross, discount, subsidy, paid, _text(payload.get("subsidy_tier")), _text(payload.get("age_band")))


def _events(conn: Connection, first: dt.date, last: dt.date, horizon: dt.date
            ) -> tuple[list[Meal], list[tuple[str, str, str, dt.date]], set[str]]:
    """Canteen payments whose payload day is in ``first..last``; (id, canteen, card, day) of those up to
    ``horizon``; every void's target id."""
    low = (first - dt.timedelta(days=1)).isoformat()
    high = (horizon + dt.timedelta(days=2)).isoformat()
    refused = set(conn.execute(select(card_problems.c.event_id)).scalars())
    query = (select(events.c.id, events.c.type, events.c.payload, terminals.c.site)
             .join(terminals, terminals.c.terminal_id == events.c.terminal_id)
             .where(terminals.c.role == "canteen", events.c.occurred_at >= low,
                    ((events.c.type == "card.payment") & (events.c.occurred_at < high))
                    | (events.c.type == "card.void")))
    meals, later, voided = [], [], set()
    days: dict[Any, dt.date | None] = {}
    for row in conn.execute(query):
        if row.id in refused:
            continue
        try:
            payload = json.loads(row.payload)
        except ValueError:
            continue
        if row.type == "card.void":
            if isinstance(payload, dict) and isinstance(payload.get("voids"), str):
                voided.add(payload["voids"])
            continue
        day = _day(payload.get("day"), days) if isinstance(payload, dict) else None
        if day is None or not first <= day <= horizon:
            continue
        if day > last:  # only who came back, and when
            card_no = _text(payload.get("card_no"))
            if card_no is not None:
                later.append((row.id, row.site, card_no, day))
            continue
        meal = meal_of(row.id, row.site, payload, days)
        if meal is not None:
            meals.append(meal)
    return meals, later, voided


def _rows(conn: Connection, kind: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for site, data in conn.execute(select(reference.c.site, reference.c.data)
                                   .where(reference.c.kind == kind, reference.c.op == "upsert")):
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            continue
        if isinstance(parsed, dict):
            out.append((site, parsed))
    return out


def seating(conn: Connection) -> dict[str, Seating]:
    """Seats and meal capacity of each site from its ``space`` rows of ``kind: "canteen"``."""
    seats: dict[str, int] = defaultdict(int)
    capacity: dict[str, int] = defaultdict(int)
    for site, row in _rows(conn, "space"):
        if row.get("kind") != "canteen":
            continue
        cap, sittings = _whole(row.get("capacity")), _whole(row.get("sittings"))
        if cap is None or cap <= 0 or sittings is None or sittings <= 0:
            continue
        seats[site] += cap
        capacity[site] += cap * sittings
    return {site: Seating(seats[site], capacity[site]) for site in seats}


def cards(conn: Connection) -> tuple[set[str], dict[str, int]]:
    """Card numbers with an active ``card`` row on some site, and the birth year each row gives."""
    issued: set[str] = set()
    born: dict[str, int] = {}
    for _site, row in _rows(conn, "card"):
        card_no = _text(row.get("card_no"))
        if card_no is None:
            continue
        if row.get("status") == "active":
            issued.add(card_no)
        year = _whole(row.get("birth_year"))
        if year is not None:
            born[card_no] = year
    return issued, born


def population_65(conn: Connection) -> int | None:
    """The 65+ population set in the analytics settings, or None."""
    value = conn.execute(select(analytics_settings.c.value)
                         .where(analytics_settings.c.name == POPULATION_65)).scalar()
    return _whole(value)


def load_inputs(conn: Connection, month: str, as_of: dt.date, *, with_context: bool = True) -> Inputs:
    """Everything :func:`.figures.canteen_analytics` needs for ``month``, read in one transaction.

    ``with_context=False`` skips seating, cards and the population (enough for a dish ranking).
    """
    first, last = month_bounds(month)
    horizon = last + dt.timedelta(days=LOOK_AHEAD_DAYS)
    found, after, voided = _events(conn, first, last, horizon)
    payments: dict[str, int] = defaultdict(int)
    dropped: dict[str, int] = defaultdict(int)
    meals = []
    for meal in found:
        payments[meal.canteen] += 1
        if meal.event_id in voided:
            dropped[meal.canteen] += 1
        else:
            meals.append(meal)
    later = [(canteen, card_no, day) for event_id, canteen, card_no, day in after if event_id not in voided]
    inputs = Inputs(first, last, as_of, meals, later, dict(payments), dict(dropped))
    if with_context:
        inputs.seating = seating(conn)
        inputs.issued, inputs.birth_years = cards(conn)
        inputs.population_65 = population_65(conn)
    return inputs
