"""The canteen figures, computed in Python from a month's payments (pure: no database, no clock).

:mod:`.load` reads the payments out of the ``events`` table into :class:`Meal` values (voided
and ledger-refused ones already left out); :func:`canteen_analytics` turns them into the API's
answer.  Definitions (the page and the API say the same):

- **canteen**: the site of the terminal that pushed the payment (a canteen's cashier and its
  self-pay readers share one site, as in the ledger's ``canteen:<site>`` account).
- **meal**: one ``card.payment`` that was not voided; **customers** of a day: distinct cards
  that paid that day; **customer-days**: the sum of those over the month's days.
- **revenue**: ``earned`` = paid + subsidy (what the canteen earns); ``paid`` alone is what the
  cards paid.  **Per-capita spend** = earned (or paid) ÷ customer-days, rounded half up to a fen.
- **dish ranking**: portions (``qty``) per ``item_id``; equal portions rank by sales (qty ×
  unit price), then by name; the name shown is the one its latest payment carried.
- **occupancy** of a day = meals ÷ meal capacity (Σ seats × sittings of the site's canteen
  spaces); of the month = meals ÷ (meal capacity × serving days).  Per 15-minute slot (Shanghai
  time of the payment): meals, meals per serving day, and that ÷ seats.
- **repurchase** (:func:`repurchase`): see its docstring.
- **card activity** = cards with ≥ 1 meal in the month that are issued ÷ cards issued (active
  ``card`` rows).
- **elderly meals by subsidy tier**: meals with a ``subsidy_tier``, their count and subsidy sum
  (the reimbursement base) and distinct cards; **share of the 65+ population** = distinct paying
  cards whose card row gives a birth year 65 or more years before the month's year ÷ the 65+
  population set in the analytics settings.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .models import (
    CanteenAnalytics,
    CanteenFigures,
    CardActivity,
    DayFigures,
    DishRank,
    ElderlyFigures,
    RepurchaseFigures,
    Revenue,
    SlotFigures,
    TierFigures,
)

ALL = "*"  # the canteen name of the all-canteens figures
NO_BAND = "under-60"  # a payment without an age band (the holder is under the policy's bands)
BAND_ORDER = (NO_BAND, "60-79", "80+")
WINDOWS = (7, 30)  # repurchase windows, days
SLOT_MINUTES = 15
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
_NO_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # sorts a payment without a time first


@dataclass(frozen=True)
class Item:
    """One line of a payment's basket."""

    item_id: str
    dish: str
    qty: int
    unit_fen: int


@dataclass(frozen=True)
class Meal:
    """One payment that stands (not voided), as analytics needs it."""

    event_id: str
    canteen: str
    card_no: str
    day: dt.date
    at: dt.datetime | None  # Shanghai time; None when the payload had no readable time
    items: tuple[Item, ...]
    gross_fen: int
    discount_fen: int
    subsidy_fen: int
    paid_fen: int
    subsidy_tier: str | None
    age_band: str | None


@dataclass(frozen=True)
class Seating:
    """A canteen's seats and the meals a full day seats (Σ capacity × sittings)."""

    seats: int
    meal_capacity: int


@dataclass
class Inputs:
    """What :func:`canteen_analytics` needs, read by :mod:`.load`."""

    first: dt.date  # the month's first day
    last: dt.date  # its last day
    as_of: dt.date
    meals: list[Meal]  # the month's meals
    later: list[tuple[str, str, dt.date]] = field(default_factory=list)  # (canteen, card, day) after the month
    payments: dict[str, int] = field(default_factory=dict)  # the month's payments before voids, per canteen
    voided: dict[str, int] = field(default_factory=dict)  # of those, voided, per canteen
    seating: dict[str, Seating] = field(default_factory=dict)
    issued: set[str] = field(default_factory=set)
    birth_years: dict[str, int] = field(default_factory=dict)
    population_65: int | None = None


def half_up(num: int, den: int) -> int | None:
    """``num / den`` rounded half up (non-negative ``num``), None when ``den`` is 0."""
    return None if den <= 0 else (2 * num + den) // (2 * den)


def ratio(num: float, den: float | None, places: int = 4) -> float | None:
    """``num / den`` rounded to ``places``, None when ``den`` is 0 or unknown."""
    return None if not den else round(num / den, places)


def _revenue(meals: Iterable[Meal]) -> Revenue:
    g = d = s = p = 0
    for m in meals:
        g, d, s, p = g + m.gross_fen, d + m.discount_fen, s + m.subsidy_fen, p + m.paid_fen
    return Revenue(gross_fen=g, discount_fen=d, subsidy_fen=s, paid_fen=p, earned_fen=p + s)


def rank_dishes(meals: Iterable[Meal], limit: int | None = None) -> list[DishRank]:
    """Dishes by portions sold (ties: more sales first, then name, then item id); ``limit`` keeps the first ones."""
    qty: dict[str, int] = defaultdict(int)
    sales: dict[str, int] = defaultdict(int)
    names: dict[str, tuple[tuple[dt.date, dt.datetime], str]] = {}
    for m in meals:
        when = (m.day, m.at or _NO_TIME)
        for item in m.items:
            qty[item.item_id] += item.qty
            sales[item.item_id] += item.qty * item.unit_fen
            if item.item_id not in names or names[item.item_id][0] <= when:
                names[item.item_id] = (when, item.dish)
    order = sorted(qty, key=lambda i: (-qty[i], -sales[i], names[i][1], i))[:limit]
    return [DishRank(rank=n, item_id=i, dish=names[i][1], qty=qty[i], sales_fen=sales[i])
            for n, i in enumerate(order, 1)]


def _tiers(meals: Iterable[Meal]) -> list[TierFigures]:
    count: dict[str, int] = defaultdict(int)
    subsidy: dict[str, int] = defaultdict(int)
    cards: dict[str, set[str]] = defaultdict(set)
    for m in meals:
        if m.subsidy_tier:
            count[m.subsidy_tier] += 1
            subsidy[m.subsidy_tier] += m.subsidy_fen
            cards[m.subsidy_tier].add(m.card_no)
    return [TierFigures(tier=t, meals=count[t], subsidy_fen=subsidy[t], cards=len(cards[t])) for t in sorted(count)]


def _slots(meals: Sequence[Meal], serving_days: int, seats: int | None) -> list[SlotFigures]:
    count: dict[int, int] = defaultdict(int)
    for m in meals:
        if m.at is not None:
            count[(m.at.hour * 60 + m.at.minute) // SLOT_MINUTES] += 1
    if not count:
        return []
    out = []
    for slot in range(min(count), max(count) + 1):
        per_day = round(count[slot] / serving_days, 2) if serving_days else 0.0
        out.append(SlotFigures(start=f"{slot * SLOT_MINUTES // 60:02d}:{slot * SLOT_MINUTES % 60:02d}",
                               meals=count[slot], per_day=per_day,
                               seat_share=ratio(count[slot], serving_days * seats if seats else None)))
    return out


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def canteen_figures(name: str, meals: Sequence[Meal], seating: Seating | None, days: Sequence[dt.date]
                    ) -> CanteenFigures:
    """The month's figures of one canteen (or of ``*``: every canteen together) over ``days``."""
    by_day: dict[dt.date, list[Meal]] = defaultdict(list)
    for m in meals:
        by_day[m.day].append(m)
    capacity = seating.meal_capacity if seating else None
    day_rows = []
    customer_days = 0
    for day in days:
        todays = by_day.get(day, [])
        rev = _revenue(todays)
        customers = len({m.card_no for m in todays})
        customer_days += customers
        day_rows.append(DayFigures(day=day.isoformat(), meals=len(todays), customers=customers,
                                   earned_fen=rev.earned_fen, paid_fen=rev.paid_fen, subsidy_fen=rev.subsidy_fen,
                                   per_capita_fen=half_up(rev.earned_fen, customers),
                                   occupancy=ratio(len(todays), capacity)))
    serving = sum(1 for d in days if by_day.get(d))
    rev = _revenue(meals)
    return CanteenFigures(
        canteen=name, meals=len(meals), customers=len({m.card_no for m in meals}), customer_days=customer_days,
        revenue=rev, per_capita_fen=half_up(rev.earned_fen, customer_days),
        per_capita_paid_fen=half_up(rev.paid_fen, customer_days),
        seats=seating.seats if seating else None, meal_capacity=capacity, serving_days=serving,
        occupancy=ratio(len(meals), capacity * serving if capacity else None), days=day_rows,
        slots=_slots(meals, serving, seating.seats if seating else None), dishes=rank_dishes(meals),
        tiers=_tiers(meals))


def repurchase(meals: Sequence[Meal], later: Iterable[tuple[str, dt.date]], as_of: dt.date,
               windows: Sequence[int] = WINDOWS) -> list[RepurchaseFigures]:
    """Repurchase rate per age band and window ``k`` (7 and 30 days).

    The base is every (card, day ``d``) pair with a meal in the month whose whole window is
    observed: ``d + k <= as_of`` (later days are left out, not counted as "did not return").
    The pair *returned* when the card has a meal on some day in ``d+1 .. d+k`` (in this month or
    after it: ``later``).  Rate = returned ÷ base, pooled over the month's days.  The pair's
    band is the age band of the card's first meal that day (``under-60`` when it had none).
    For one canteen, only that canteen's meals count, before and after.
    """
    days_of: dict[str, set[int]] = defaultdict(set)  # day ordinals: integer arithmetic in the loop below
    band: dict[tuple[str, int], tuple[dt.datetime, str]] = {}
    for m in meals:
        day = m.day.toordinal()
        days_of[m.card_no].add(day)
        key, when = (m.card_no, day), m.at or _NO_TIME
        if key not in band or when < band[key][0]:
            band[key] = (when, m.age_band or NO_BAND)
    for card_no, later_day in later:
        days_of[card_no].add(later_day.toordinal())
    sorted_days = {card: sorted(ds) for card, ds in days_of.items()}
    end = as_of.toordinal()
    base: dict[tuple[str, int], int] = defaultdict(int)
    back: dict[tuple[str, int], int] = defaultdict(int)
    for (card_no, day), (_, b) in band.items():
        ds = sorted_days[card_no]
        nxt = bisect.bisect_right(ds, day)
        following = ds[nxt] if nxt < len(ds) else None
        for k in windows:
            if day + k > end:
                continue
            base[b, k] += 1
            if following is not None and following <= day + k:
                back[b, k] += 1
    bands = sorted({b for _, b in band.values()}, key=lambda b: (BAND_ORDER.index(b) if b in BAND_ORDER else 99, b))
    return [RepurchaseFigures(age_band=b, window_days=k, base=base[b, k], returned=back[b, k],
                              rate=ratio(back[b, k], base[b, k])) for k in windows for b in bands]


def canteen_analytics(inputs: Inputs, month: str, canteen: str | None = None) -> CanteenAnalytics:
    """Every figure of the month (of one canteen when ``canteen`` is given)."""
    meals = [m for m in inputs.meals if canteen is None or m.canteen == canteen]
    last_data = max((m.day for m in meals), default=inputs.first)
    days = _days(inputs.first, min(inputs.last, max(inputs.as_of, last_data)))
    per: dict[str, list[Meal]] = defaultdict(list)
    for m in meals:
        per[m.canteen].append(m)
    names = sorted(per) if canteen is None else [canteen]
    canteens = [canteen_figures(n, per.get(n, []), inputs.seating.get(n), days) for n in names]
    seated = [inputs.seating.get(n) for n in names]
    total_seating = None if not names or None in seated else Seating(sum(s.seats for s in seated if s),
                                                                    sum(s.meal_capacity for s in seated if s))
    total = canteen_figures(ALL, meals, total_seating, days)
    paying = {m.card_no for m in meals}
    active = paying & inputs.issued
    old = {c for c in paying if c in inputs.birth_years and inputs.first.year - inputs.birth_years[c] >= 65}
    tier_meals = sum(t.meals for t in total.tiers)
    later = [(c, d) for where, c, d in inputs.later if canteen is None or where == canteen]
    counted = [n for n in inputs.payments if canteen is None or n == canteen]
    return CanteenAnalytics(
        month=month, as_of=inputs.as_of.isoformat(), canteen=canteen,
        payments=sum(inputs.payments[n] for n in counted), voided=sum(inputs.voided.get(n, 0) for n in counted),
        canteens=canteens, total=total,
        repurchase=repurchase(meals, later, inputs.as_of),
        cards=CardActivity(issued=len(inputs.issued), paying=len(paying), active=len(active),
                           activity=ratio(len(active), len(inputs.issued))),
        elderly=ElderlyFigures(meals=tier_meals, subsidy_fen=sum(t.subsidy_fen for t in total.tiers),
                               tiers=total.tiers, diners_65_plus=len(old),
                               population_65_plus=inputs.population_65,
                               share_65_plus=ratio(len(old), inputs.population_65)))
