"""Canteen pricing: a basket, a card holder, a day and the policy in force → a quote that explains itself.

:func:`quote` applies a :class:`~kiosk.canteen.policy.Policy` (pulled data, never code):

1. **Gross**: the sum of ``unit_fen × qty`` over the basket.
2. **Discount**: the single best price the holder is entitled to, never two stacked: their age
   band's percentage, or the price of one of their groups (a percentage off the order, or a fixed
   price per set meal: each set-meal line costs at most that price, other lines their list
   price).  The candidate that takes most off wins; a tie goes to the age band, then to the
   group listed first in the policy.  A percentage discount is rounded half up to the fen
   (``rounding: half_up``: exactly half a fen goes to the resident).
3. **Daily subsidy**, on top of the discount, deducted at checkout (never cash): the one best tier
   (largest amount) whose age range and ``requires`` the holder meets and whose ``min_spend_fen``
   the spend reaches (the spend after the discount, or the gross, as the policy's
   ``subsidy_spend`` says).  It never exceeds what is left to pay.  With ``once_per_day`` it is
   granted once per person per day across all canteens: the caller says whether today's was
   already used (the card's journal and the central's ``balance.subsidy_day``).
4. **Paid** = gross − discount − subsidy, never below 0.

Age: a card carries only the birth **year**, which gives the age to within a year.  The rule
here is ``age = day.year − birth_year``: the age the resident reaches in the calendar year of
``day``.  It can be one year above the age by birthday (a resident born in December counts as 60
from 1 January of the year they turn 60), never below it, so no one entitled is refused; the
bands' boundaries (59/60, 79/80) apply to that number.

Money is whole fen everywhere.  :func:`yuan_text` writes an amount for screens and voice
(``22.50 元``, ``3 元`` when whole).  Every quote carries ``lines``: what the resident sees and
hears, in Chinese and English (``80 岁以上 85 折 −4.50 元``, ``今日补贴 −3 元``, ``应付 22.50 元``),
and, when they qualify for a subsidy by age but get none today, the reason why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.errors import KioskError

from .policy import AgeDiscount, GroupPrice, Policy, SubsidyTier

#: Largest unit price (fen) and quantity one basket line may hold.
MAX_UNIT_FEN = 1_000_000
MAX_QTY = 999
MINUS = "−"  # U+2212, as the screens print a reduction


class PricingError(KioskError):
    """A basket, holder or policy that cannot be priced (a bug in the caller, not a resident's fault)."""


@dataclass(frozen=True)
class Item:
    """One basket line: a menu item, its names, unit price in fen and quantity."""

    item_id: str
    name: str
    name_en: str
    unit_fen: int
    qty: int
    set_meal: bool = False  # a set meal (套餐): a group's fixed set-meal price applies to it

    @property
    def total_fen(self) -> int:
        """``unit_fen × qty``."""
        return self.unit_fen * self.qty


@dataclass(frozen=True)
class Holder:
    """What pricing needs to know about a card holder (from the ``card`` reference row)."""

    birth_year: int | None
    groups: tuple[str, ...] = ()
    dibao: bool = False  # 低保

    def age_on(self, day: dt.date) -> int | None:
        """``day.year − birth_year`` (see the module docstring), or None when the year is unknown."""
        return None if self.birth_year is None else day.year - self.birth_year

    @classmethod
    def from_card(cls, card: Any) -> Holder:
        """The holder of a :class:`kiosk.reference.CardEntry` (or anything with the same fields)."""
        return cls(getattr(card, "birth_year", None), tuple(getattr(card, "groups", ()) or ()),
                   bool(getattr(card, "dibao", False)))


@dataclass(frozen=True)
class QuoteLine:
    """One line of a quote's explanation: its kind, the Chinese and English text, and its amount in fen.

    ``kind``: ``gross``, ``discount``, ``subsidy``, ``no_subsidy`` (the reason for none) or ``paid``;
    ``amount_fen`` is negative for a reduction, None for a line without an amount.
    """

    kind: str
    zh: str
    en: str
    amount_fen: int | None = None


@dataclass(frozen=True)
class Quote:
    """The price of one basket for one holder on one day, and its explanation."""

    gross_fen: int
    discount_fen: int
    subsidy_fen: int
    subsidy_tier: str | None  # the tier granted, None when no subsidy
    paid_fen: int
    age: int | None
    age_band: str | None  # the holder's age band in the policy, whichever price applied
    group: str | None  # the group whose own price applied (None: the age band's or the list price)
    policy: str  # "policy_id:version"
    lines: tuple[QuoteLine, ...]
    reason_no_subsidy: QuoteLine | None = None

    def text(self, lang: str = "zh") -> str:
        """The explanation as lines of text in ``zh`` or ``en``."""
        if lang not in ("zh", "en"):
            raise PricingError(f"unknown language {lang!r}: zh or en")
        return "\n".join(line.zh if lang == "zh" else line.en for line in self.lines)

    def payment_fields(self) -> dict[str, Any]:
        """The quote's fields of a ``card.payment`` event (docs/community-card.md §3)."""
        return {"gross_fen": self.gross_fen, "discount_fen": self.discount_fen, "subsidy_fen": self.subsidy_fen,
                "subsidy_tier": self.subsidy_tier, "paid_fen": self.paid_fen, "age_band": self.age_band,
                "group": self.group, "policy": self.policy}


# -- money as text ------------------------------------------------------------------------------------


def yuan_text(fen: int, lang: str = "zh") -> str:
    """``2250`` → ``22.50 元``, ``300`` → ``3 元``, ``5`` → ``0.05 元`` (``lang="en"``: ``22.50 yuan``)."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise PricingError(f"an amount must be whole fen, not {fen!r}")
    unit = {"zh": "元", "en": "yuan"}.get(lang)
    if unit is None:
        raise PricingError(f"unknown language {lang!r}: zh or en")
    sign, fen = (MINUS, -fen) if fen < 0 else ("", fen)
    whole, cents = divmod(fen, 100)
    number = f"{whole}" if cents == 0 else f"{whole}.{cents:02d}"
    return f"{sign}{number} {unit}"


def zhe_text(percent_off: int) -> str:
    """A percentage off as the Chinese 折: 10 → ``9 折``, 15 → ``85 折``, 5 → ``95 折``, 100 → ``免费``."""
    pay = 100 - percent_off
    if pay <= 0:
        return "免费"
    return f"{pay // 10} 折" if pay % 10 == 0 else f"{pay} 折"


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative whole numbers."""
    return (2 * numerator + denominator) // (2 * denominator)


# -- the quote ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Deal:
    """A price the holder is entitled to, and what it takes off this basket."""

    off_fen: int
    zh: str
    en: str
    band: AgeDiscount | None = None
    group: GroupPrice | None = None


def _items(items: Iterable[Item | Sequence[Any] | Mapping[str, Any]]) -> list[Item]:
    out = []
    for n, raw in enumerate(items):
        if isinstance(raw, Item):
            item = raw
        elif isinstance(raw, Mapping):
            item = Item(raw.get("item_id"), raw.get("name", ""), raw.get("name_en", ""),  # type: ignore[arg-type]
                        raw.get("unit_fen"), raw.get("qty", 1), bool(raw.get("set_meal", False)))  # type: ignore[arg-type]
        elif isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) in (5, 6):
            item = Item(*raw)
        else:
            raise PricingError(f"item {n}: expected (item_id, name, name_en, unit_fen, qty), not {raw!r}")
        if not isinstance(item.item_id, str) or not item.item_id:
            raise PricingError(f"item {n}: no item_id")
        for name, value, low, high in (("unit_fen", item.unit_fen, 0, MAX_UNIT_FEN), ("qty", item.qty, 1, MAX_QTY)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise PricingError(f"item {item.item_id!r}: {name} must be a whole number {low}-{high}, not {value!r}")
        out.append(item)
    if not out:
        raise PricingError("an empty basket has no price")
    return out


def _percent_deal(gross: int, percent_off: int, label_zh: str, label_en: str) -> tuple[int, str, str]:
    off = round_half_up(gross * percent_off, 100)
    return off, f"{label_zh} {zhe_text(percent_off)}", f"{label_en} {percent_off}% off"


def _deals(items: list[Item], gross: int, band: AgeDiscount | None, holder: Holder, policy: Policy) -> list[_Deal]:
    deals = []
    if band is not None:
        off, zh, en = _percent_deal(gross, band.percent_off, band.label_zh, band.label_en)
        deals.append(_Deal(off, zh, en, band=band))
    for price in policy.group_prices:
        if price.group not in holder.groups:
            continue
        if price.percent_off is not None:
            off, zh, en = _percent_deal(gross, price.percent_off, price.label_zh, price.label_en)
        else:
            fixed = price.set_meal_fen or 0
            off = sum(max(0, i.unit_fen - fixed) * i.qty for i in items if i.set_meal)
            zh = f"{price.label_zh} {yuan_text(fixed)}/份"
            en = f"{price.label_en} {yuan_text(fixed, 'en')} each"
        deals.append(_Deal(off, zh, en, group=price))
    return deals


def _best_tier(tiers: list[SubsidyTier], spend: int) -> SubsidyTier | None:
    reached = [t for t in tiers if spend >= t.min_spend_fen]
    return max(reached, key=lambda t: t.amount_fen, default=None)  # max keeps the first of equals


def quote(items: Iterable[Item | Sequence[Any] | Mapping[str, Any]], holder: Holder, day: dt.date, policy: Policy,
          subsidy_used_today: bool) -> Quote:
    """Price ``items`` for ``holder`` on ``day`` under ``policy`` (see the module docstring for the rules).

    ``items``: :class:`Item` values, or ``(item_id, name, name_en, unit_fen, qty[, set_meal])``
    tuples, or dictionaries with those keys.  ``subsidy_used_today``: the holder already had
    today's subsidy (at any canteen).  PricingError when the basket or holder cannot be priced, or
    ``policy`` does not cover ``day``.
    """
    basket = _items(items)
    if not policy.covers(day):
        raise PricingError(f"policy {policy.key} does not cover {day.isoformat()} "
                           f"({policy.valid_from.isoformat()}..{policy.valid_to or ''})")
    age = holder.age_on(day)
    if age is not None and age < 0:
        raise PricingError(f"birth year {holder.birth_year} is after {day.isoformat()}")
    gross = sum(i.total_fen for i in basket)
    band = policy.band_for(age)
    deals = _deals(basket, gross, band, holder, policy)
    best = max(deals, key=lambda d: d.off_fen, default=None)  # the first of equals: the age band, then policy order
    discount = min(best.off_fen, gross) if best is not None else 0
    left = gross - discount

    groups = frozenset(holder.groups)
    eligible = [t for t in policy.subsidy_tiers if t.covers(age, groups, holder.dibao)]
    spend = left if policy.subsidy_spend == "after_discount" else gross
    subsidy, tier, reason = 0, None, None
    if eligible and policy.once_per_day and subsidy_used_today:
        reason = QuoteLine("no_subsidy", "今日补贴已用", "Today's meal subsidy already used")
    elif eligible:
        tier = _best_tier(eligible, spend)
        subsidy = min(tier.amount_fen, left) if tier is not None else 0
        if tier is None:
            near = min(eligible, key=lambda t: (t.min_spend_fen, -t.amount_fen))
            after = policy.subsidy_spend == "after_discount" and discount > 0
            reason = QuoteLine(
                "no_subsidy",
                f"{'优惠后' if after else ''}消费满 {yuan_text(near.min_spend_fen)}可享今日补贴 "
                f"{yuan_text(near.amount_fen)}",
                f"Today's {yuan_text(near.amount_fen, 'en')} meal subsidy needs "
                f"{yuan_text(near.min_spend_fen, 'en')} spent{' after discount' if after else ''}")
    if subsidy == 0:
        tier = None
    paid = left - subsidy

    lines = [QuoteLine("gross", f"合计 {yuan_text(gross)}", f"Total {yuan_text(gross, 'en')}", gross)]
    if best is not None and discount > 0:
        lines.append(QuoteLine("discount", f"{best.zh} {MINUS}{yuan_text(discount)}",
                               f"{best.en} {MINUS}{yuan_text(discount, 'en')}", -discount))
    if subsidy > 0:
        lines.append(QuoteLine("subsidy", f"今日补贴 {MINUS}{yuan_text(subsidy)}",
                               f"Today's meal subsidy {MINUS}{yuan_text(subsidy, 'en')}", -subsidy))
    if reason is not None:
        lines.append(reason)
    lines.append(QuoteLine("paid", f"应付 {yuan_text(paid)}", f"To pay {yuan_text(paid, 'en')}", paid))
    group = best.group.group if best is not None and best.group is not None and discount > 0 else None
    return Quote(gross_fen=gross, discount_fen=discount, subsidy_fen=subsidy,
                 subsidy_tier=tier.tier if tier is not None else None, paid_fen=paid, age=age,
                 age_band=band.band if band is not None else None, group=group, policy=policy.key,
                 lines=tuple(lines), reason_no_subsidy=reason)
