"""The canteen policy document: its JSON format, parsed and checked into frozen dataclasses.

DESIGN §6b: prices, subsidies and ages are policy data (versioned, dated, pulled from the central),
not code; a new district rule is an import, not a release.  This module is the one place the
format's rules live: the central's importer (:mod:`sync.central.importer`) checks a ``policy`` row
with it, and the terminal (:mod:`kiosk.canteen.policy`, :mod:`kiosk.reference`) parses pulled rows
with it, so both refuse exactly the same documents.  Pure standard library (``common`` imports
only itself).

A policy document (one ``policy`` reference row, docs/community-card.md §2)::

    {
      "format": "linfen-canteen-policy",          (optional; when present, exactly this)
      "key": "putuo-canteen:1",                   (optional; when present, policy_id:version)
      "policy_id": "putuo-canteen",               lowercase letters, digits, '.', '_', '-'
      "version": 1,                               whole number >= 1
      "valid_from": "2025-12-01",                 ISO date, the first day it applies
      "valid_to": null,                           ISO date (the last day it applies) or null
      "title_zh": "...", "title_en": "...", "note": "..."      (optional text)
      "rules": {
        "rounding": "half_up",                    a percentage discount is rounded half up to the fen
        "once_per_day": true,                     one daily subsidy per person per day, all canteens
        "subsidy_spend": "after_discount",        spend a tier's minimum is compared with:
                                                  "after_discount" (what is left to pay) or "gross"
        "discounts": [                            by age; bands must not overlap
          {"band": "80+", "min_age": 80, "max_age": null, "percent_off": 15,
           "label_zh": "80 岁以上", "label_en": "aged 80+"}],
        "group_prices": [                         per group: exactly one of percent_off / set_meal_fen
          {"group": "special_care", "percent_off": 20, "label_zh": "...", "label_en": "..."},
          {"group": "white_collar", "set_meal_fen": 2000, "label_zh": "...", "label_en": "..."}],
        "subsidy_tiers": [                        a person gets the single best tier they qualify for
          {"tier": "dibao-60", "label_zh": "低保 60 岁以上", "label_en": "dibao, 60+",
           "min_age": 60, "max_age": null, "requires": ["dibao"],
           "min_spend_fen": 800, "amount_fen": 500}]
      }
    }

Money is whole fen, percentages whole percent (0-100), ages whole years; no floats anywhere.
``requires`` names groups a holder must all be in; ``dibao`` (低保) is matched against the
card's ``dibao`` flag, any other name against its ``groups``.  Unknown fields are refused (a
typo such as ``percent_of`` must not silently mean "no discount").  Every refusal is a
:class:`PolicyError` whose text starts with the field's path (``rules.subsidy_tiers[1].amount_fen:``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

#: The ``format`` value of a policy document.
POLICY_FORMAT = "linfen-canteen-policy"
#: Rounding rules a document may name (one for now: a percentage discount rounded half up to the fen).
ROUNDINGS = ("half_up",)
#: What a subsidy tier's ``min_spend_fen`` is compared with.
SPEND_BASES = ("after_discount", "gross")
#: The ``requires`` name matched against a holder's 低保 flag rather than their groups.
DIBAO = "dibao"
#: Largest money amount (fen) a policy may name: 10 000 元.
MAX_FEN = 1_000_000
MAX_AGE = 150

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_GROUP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_BAND = re.compile(r"^[a-z0-9][a-z0-9.+_-]{0,31}$")
_TOP_FIELDS = frozenset({"format", "key", "policy_id", "version", "valid_from", "valid_to", "title_zh", "title_en",
                         "note", "rules"})
_RULE_FIELDS = frozenset({"rounding", "once_per_day", "subsidy_spend", "discounts", "group_prices", "subsidy_tiers"})


class PolicyError(ValueError):
    """A policy document that cannot be used; the text starts with the field's path."""

    def __init__(self, path: str, reason: str) -> None:
        """``path``: where in the document (``rules.discounts[0].min_age``); ``reason``: what is wrong."""
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class AgeDiscount:
    """A percentage off the whole order for residents of an age band (inclusive ages)."""

    band: str
    min_age: int
    max_age: int | None  # None: no upper bound
    percent_off: int
    label_zh: str
    label_en: str

    def covers(self, age: int) -> bool:
        """Whether ``age`` (whole years) falls in the band."""
        return self.min_age <= age and (self.max_age is None or age <= self.max_age)


@dataclass(frozen=True)
class GroupPrice:
    """A group's own price: a percentage off the order, or a fixed price per set meal (in fen)."""

    group: str
    label_zh: str
    label_en: str
    percent_off: int | None = None
    set_meal_fen: int | None = None


@dataclass(frozen=True)
class SubsidyTier:
    """One tier of the daily meal subsidy: who qualifies, from what spend, and how much it takes off."""

    tier: str
    label_zh: str
    label_en: str
    min_age: int
    max_age: int | None
    requires: tuple[str, ...]
    min_spend_fen: int
    amount_fen: int

    def covers(self, age: int | None, groups: frozenset[str], dibao: bool) -> bool:
        """Whether a holder of ``age`` with ``groups`` and the 低保 flag qualifies, whatever they spend."""
        if age is None or age < self.min_age or (self.max_age is not None and age > self.max_age):
            return False
        return all(dibao if need == DIBAO else need in groups for need in self.requires)


@dataclass(frozen=True)
class Policy:
    """One version of a canteen policy, as the document states it."""

    policy_id: str
    version: int
    valid_from: dt.date
    valid_to: dt.date | None  # the last day it applies (inclusive); None: open-ended
    discounts: tuple[AgeDiscount, ...]
    group_prices: tuple[GroupPrice, ...]
    subsidy_tiers: tuple[SubsidyTier, ...]
    once_per_day: bool
    rounding: str = "half_up"
    subsidy_spend: str = "after_discount"
    title_zh: str = ""
    title_en: str = ""

    @property
    def key(self) -> str:
        """``policy_id:version``: the reference key, and what a payment records as its policy."""
        return f"{self.policy_id}:{self.version}"

    def covers(self, day: dt.date) -> bool:
        """Whether ``day`` lies within ``valid_from`` .. ``valid_to`` (both inclusive)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def band_for(self, age: int | None) -> AgeDiscount | None:
        """The age band ``age`` falls in, or None."""
        return None if age is None else next((d for d in self.discounts if d.covers(age)), None)

    def group_price(self, group: str) -> GroupPrice | None:
        """The price of ``group``, or None when the policy gives it none."""
        return next((g for g in self.group_prices if g.group == group), None)


# -- field readers: each raises PolicyError naming the path ------------------------------------------


def _obj(value: Any, path: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(path or "(document)", "must be an object")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise PolicyError(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")
    return value


def _need(obj: dict[str, Any], name: str, path: str) -> Any:
    if name not in obj:
        raise PolicyError(_at(path, name), "missing")
    return obj[name]


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _int(value: Any, path: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyError(path, f"must be a whole number, not {str(value)[:30]!r}")
    if not low <= value <= high:
        raise PolicyError(path, f"must be {low}-{high}, not {value}")
    return value


def _text(value: Any, path: str, *, required: bool = True, limit: int = 200) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise PolicyError(path, f"must be text of 1-{limit} characters")
    return value


def _ident(value: Any, path: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise PolicyError(path, f"must be {what}, not {str(value)[:30]!r}")
    return value


def _date(value: Any, path: str) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PolicyError(path, f"must be an ISO date (YYYY-MM-DD), not {str(value)[:30]!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PolicyError(path, f"{value!r} is not a real date") from None


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(path, "must be a list")
    return value


def _ages(obj: dict[str, Any], path: str) -> tuple[int, int | None]:
    low = _int(_need(obj, "min_age", path), f"{path}.min_age", 0, MAX_AGE)
    high_raw = obj.get("max_age")
    high = None if high_raw is None else _int(high_raw, f"{path}.max_age", 0, MAX_AGE)
    if high is not None and high < low:
        raise PolicyError(f"{path}.max_age", f"must be at least min_age ({low}), not {high}")
    return low, high


def _unique(values: list[str], path: str, field: str) -> None:
    seen: set[str] = set()
    for n, value in enumerate(values):
        if value in seen:
            raise PolicyError(f"{path}[{n}].{field}", f"{value!r} appears twice")
        seen.add(value)


def _discounts(value: Any, path: str) -> tuple[AgeDiscount, ...]:
    fields = frozenset({"band", "min_age", "max_age", "percent_off", "label_zh", "label_en"})
    out = []
    for n, raw in enumerate(_list(value, path)):
        at = f"{path}[{n}]"
        obj = _obj(raw, at, fields)
        low, high = _ages(obj, at)
        out.append(AgeDiscount(
            band=_ident(_need(obj, "band", at), f"{at}.band", _BAND, "a band id (a-z, 0-9, '.', '+', '_', '-')"),
            min_age=low, max_age=high,
            percent_off=_int(_need(obj, "percent_off", at), f"{at}.percent_off", 0, 100),
            label_zh=_text(_need(obj, "label_zh", at), f"{at}.label_zh"),
            label_en=_text(_need(obj, "label_en", at), f"{at}.label_en")))
    _unique([d.band for d in out], path, "band")
    for n, band in enumerate(out):
        for other in out[:n]:
            top, other_top = band.max_age if band.max_age is not None else MAX_AGE, (
                other.max_age if other.max_age is not None else MAX_AGE)
            if band.min_age <= other_top and other.min_age <= top:
                raise PolicyError(f"{path}[{n}]", f"ages overlap band {other.band!r}")
    return tuple(out)


def _group_prices(value: Any, path: str) -> tuple[GroupPrice, ...]:
    fields = frozenset({"group", "percent_off", "set_meal_fen", "label_zh", "label_en"})
    out = []
    for n, raw in enumerate(_list(value, path)):
        at = f"{path}[{n}]"
        obj = _obj(raw, at, fields)
        group = _ident(_need(obj, "group", at), f"{at}.group", _GROUP, "a group name (a-z, 0-9, _)")
        if group == DIBAO:
            raise PolicyError(f"{at}.group", "dibao is a subsidy condition, not a price group")
        has_percent, has_fixed = obj.get("percent_off") is not None, obj.get("set_meal_fen") is not None
        if has_percent == has_fixed:
            raise PolicyError(at, "give exactly one of percent_off and set_meal_fen")
        out.append(GroupPrice(
            group=group,
            label_zh=_text(_need(obj, "label_zh", at), f"{at}.label_zh"),
            label_en=_text(_need(obj, "label_en", at), f"{at}.label_en"),
            percent_off=_int(obj["percent_off"], f"{at}.percent_off", 0, 100) if has_percent else None,
            set_meal_fen=_int(obj["set_meal_fen"], f"{at}.set_meal_fen", 0, MAX_FEN) if has_fixed else None))
    _unique([g.group for g in out], path, "group")
    return tuple(out)


def _tiers(value: Any, path: str) -> tuple[SubsidyTier, ...]:
    fields = frozenset({"tier", "label_zh", "label_en", "min_age", "max_age", "requires", "min_spend_fen",
                        "amount_fen"})
    out = []
    for n, raw in enumerate(_list(value, path)):
        at = f"{path}[{n}]"
        obj = _obj(raw, at, fields)
        low, high = _ages(obj, at)
        requires = tuple(_ident(g, f"{at}.requires[{i}]", _GROUP, "a group name (a-z, 0-9, _)")
                         for i, g in enumerate(_list(obj.get("requires", []), f"{at}.requires")))
        out.append(SubsidyTier(
            tier=_ident(_need(obj, "tier", at), f"{at}.tier", _ID, "a tier id (a-z, 0-9, '.', '_', '-')"),
            label_zh=_text(_need(obj, "label_zh", at), f"{at}.label_zh"),
            label_en=_text(_need(obj, "label_en", at), f"{at}.label_en"),
            min_age=low, max_age=high, requires=requires,
            min_spend_fen=_int(_need(obj, "min_spend_fen", at), f"{at}.min_spend_fen", 0, MAX_FEN),
            amount_fen=_int(_need(obj, "amount_fen", at), f"{at}.amount_fen", 1, MAX_FEN)))
    _unique([t.tier for t in out], path, "tier")
    return tuple(out)


def parse_policy(doc: Any) -> Policy:
    """The policy ``doc`` (a parsed JSON object, or a ``policy`` reference row) states; PolicyError otherwise."""
    obj = _obj(doc, "", _TOP_FIELDS)
    if "format" in obj and obj["format"] != POLICY_FORMAT:
        raise PolicyError("format", f"must be {POLICY_FORMAT!r}, not {str(obj['format'])[:40]!r}")
    policy_id = _ident(_need(obj, "policy_id", ""), "policy_id", _ID, "an id of a-z, 0-9, '.', '_', '-'")
    version = _int(_need(obj, "version", ""), "version", 1, 1_000_000)
    if "key" in obj and obj["key"] != f"{policy_id}:{version}":
        raise PolicyError("key", f"must be policy_id:version ({policy_id}:{version}), not {str(obj['key'])[:60]!r}")
    valid_from = _date(_need(obj, "valid_from", ""), "valid_from")
    valid_to = None if obj.get("valid_to") is None else _date(obj["valid_to"], "valid_to")
    if valid_to is not None and valid_to < valid_from:
        raise PolicyError("valid_to", f"{valid_to} is before valid_from {valid_from}")
    for name in ("title_zh", "title_en", "note"):
        _text(obj.get(name), name, required=False, limit=2000)
    rules = _obj(_need(obj, "rules", ""), "rules", _RULE_FIELDS)
    rounding = _need(rules, "rounding", "rules")
    if rounding not in ROUNDINGS:
        raise PolicyError("rules.rounding", f"must be one of {', '.join(ROUNDINGS)}, not {str(rounding)[:30]!r}")
    once = _need(rules, "once_per_day", "rules")
    if not isinstance(once, bool):
        raise PolicyError("rules.once_per_day", "must be true or false")
    spend = rules.get("subsidy_spend", "after_discount")
    if spend not in SPEND_BASES:
        raise PolicyError("rules.subsidy_spend", f"must be one of {', '.join(SPEND_BASES)}, not {str(spend)[:30]!r}")
    return Policy(
        policy_id=policy_id, version=version, valid_from=valid_from, valid_to=valid_to,
        discounts=_discounts(rules.get("discounts", []), "rules.discounts"),
        group_prices=_group_prices(rules.get("group_prices", []), "rules.group_prices"),
        subsidy_tiers=_tiers(rules.get("subsidy_tiers", []), "rules.subsidy_tiers"),
        once_per_day=once, rounding=rounding, subsidy_spend=spend,
        title_zh=obj.get("title_zh") or "", title_en=obj.get("title_en") or "")


def policy_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a usable policy (``field: reason``), or None: the importer's check."""
    try:
        parse_policy(doc)
    except PolicyError as exc:
        return str(exc)
    return None
