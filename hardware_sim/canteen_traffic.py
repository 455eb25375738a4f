"""A week of community-canteen traffic: diners with their cards, and who eats what, where and when.

The sub-district's three canteens serve about 1,100 meals a day, mostly to elderly residents;
12,000 cards are issued.  :func:`diners` makes card holders (a 4-byte card UID, a masked name,
birth year, groups, 低保) with the district's mix — about 15 % aged 80+, 55 % aged 60–79, the rest
younger (a tenth of them white-collar diners), 6 % of the elderly on 低保, a few in special care
or home care.  :func:`week` makes each day's meals: regulars come most days to the same canteen,
others now and then; lunch from 10:45 to 12:45 holds most meals, supper from 16:45 to 18:00 the
rest; most buy a set meal, some pick dishes and rice.  Deterministic for a seed, so tests, the
demo and the bench replay the same week.  Nothing here imports kiosk or sync.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hardware_sim.personas import _GIVEN_F, _GIVEN_M, _SURNAMES

CANTEENS = ("canteen-1", "canteen-2", "canteen-3")
MEALS_PER_DAY = 1100
SEED = 20261203


@dataclass(frozen=True)
class Diner:
    """One community card holder as the central lists them (no raw ID number, a masked name)."""

    card_no: str
    masked_name: str
    birth_year: int
    groups: tuple[str, ...] = ()
    dibao: bool = False
    home: str = CANTEENS[0]  # the canteen a regular goes to
    regular: bool = False

    def card_row(self) -> dict[str, Any]:
        """The ``card`` reference row (docs/community-card.md §2)."""
        return {"card_no": self.card_no, "status": "active", "masked_name": self.masked_name,
                "birth_year": self.birth_year, "groups": list(self.groups), "dibao": self.dibao, "hukou": "local"}


@dataclass(frozen=True)
class Meal:
    """One meal: who, where, when, and the basket as (item id, quantity)."""

    day: dt.date
    canteen: str
    at: dt.datetime  # local time (UTC+8)
    card_no: str
    items: tuple[tuple[str, int], ...] = field(default_factory=tuple)


def _uid(rng: random.Random, taken: set[str]) -> str:
    while True:
        uid = f"{rng.getrandbits(32):08X}"
        if uid not in taken:
            taken.add(uid)
            return uid


def diners(n: int = 3000, seed: int = SEED, year: int = 2026, avoid: Sequence[str] = ()) -> list[Diner]:
    """``n`` card holders with the district's mix of ages and groups (UIDs avoid ``avoid``)."""
    rng = random.Random(seed)
    taken = set(avoid)
    out = []
    for i in range(n):
        roll = rng.random()
        age = rng.randint(80, 98) if roll < 0.15 else rng.randint(60, 79) if roll < 0.70 else rng.randint(25, 59)
        female = rng.random() < 0.55
        given = rng.choice(_GIVEN_F if female else _GIVEN_M)
        masked = rng.choice(_SURNAMES) + "*" + (given[-1] if len(given) > 1 else "")
        groups: list[str] = []
        if age >= 60 and rng.random() < 0.03:
            groups.append("special_care")
        if age >= 70 and rng.random() < 0.05:
            groups.append("home_care")
        if age < 60 and rng.random() < 0.10:
            groups.append("white_collar")
        out.append(Diner(_uid(rng, taken), masked, year - age, tuple(groups), age >= 60 and rng.random() < 0.06,
                         CANTEENS[i % len(CANTEENS)], regular=rng.random() < (0.45 if age >= 60 else 0.15)))
    return out


def _basket(rng: random.Random, set_meals: Sequence[str], dishes: Sequence[str], rice: str | None) -> tuple:
    if rng.random() < 0.72 or not dishes:
        return ((rng.choice(set_meals), 1),)
    picked = rng.sample(list(dishes), k=min(len(dishes), rng.choice((1, 2, 2, 3))))
    basket = [(d, 1) for d in picked]
    if rice is not None:
        basket.append((rice, 1))
    return tuple(basket)


def week(people: Sequence[Diner], start: dt.date, set_meals: Sequence[str], dishes: Sequence[str] = (),
         rice: str | None = None, days: int = 7, meals_per_day: int = MEALS_PER_DAY, seed: int = SEED) -> list[Meal]:
    """Each day's meals, in time order; about ``meals_per_day`` a day, one meal per diner per sitting."""
    rng = random.Random(seed + 1)
    tz = dt.timezone(dt.timedelta(hours=8))
    regulars = [d for d in people if d.regular]
    others = [d for d in people if not d.regular]
    meals: list[Meal] = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        want = max(1, int(rng.gauss(meals_per_day, meals_per_day * 0.04)))
        coming = [d for d in regulars if rng.random() < 0.8]
        extra = max(0, want - len(coming))
        coming += rng.sample(others, k=min(extra, len(others)))
        rng.shuffle(coming)
        day_meals = []
        for diner in coming[:want]:
            supper = rng.random() < 0.2
            opens = dt.datetime.combine(day, dt.time(16, 45) if supper else dt.time(10, 45), tz)
            minutes = rng.triangular(0, 75 if supper else 120, 20 if supper else 55)
            canteen = diner.home if diner.regular or rng.random() < 0.6 else rng.choice(CANTEENS)
            day_meals.append(Meal(day, canteen, opens + dt.timedelta(minutes=minutes, seconds=rng.randint(0, 59)),
                                  diner.card_no, _basket(rng, set_meals, dishes, rice)))
        meals += sorted(day_meals, key=lambda m: m.at)
    return meals
