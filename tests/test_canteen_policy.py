"""The canteen policy document: the shipped Putuo rule loads, every malformed field is refused by its
path, and :func:`policy_in_force` picks the version for a day."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from common.canteen_policy import policy_problem
from kiosk.canteen.policy import (
    POLICY_DIR,
    POLICY_FORMAT,
    AgeDiscount,
    GroupPrice,
    Policy,
    PolicyError,
    SubsidyTier,
    load_policy,
    parse_policy,
    policy_in_force,
)

pytestmark = pytest.mark.unit

PUTUO = POLICY_DIR / "putuo-canteen-2025-12.json"


def putuo_doc() -> dict:
    return json.loads(PUTUO.read_text(encoding="utf-8"))


def test_the_shipped_putuo_rule_loads_as_the_district_states_it():
    policy = load_policy(PUTUO)
    assert (policy.policy_id, policy.version, policy.key) == ("putuo-canteen", 1, "putuo-canteen:1")
    assert (policy.valid_from, policy.valid_to) == (dt.date(2025, 12, 1), None)
    assert (policy.once_per_day, policy.rounding, policy.subsidy_spend) == (True, "half_up", "after_discount")
    assert [(d.band, d.min_age, d.max_age, d.percent_off) for d in policy.discounts] == [
        ("60-79", 60, 79, 10), ("80+", 80, None, 15)]
    assert [(t.tier, t.min_age, t.max_age, t.requires, t.min_spend_fen, t.amount_fen)
            for t in policy.subsidy_tiers] == [
        ("dibao-60", 60, None, ("dibao",), 800, 500),
        ("age-80", 80, None, (), 1500, 300),
        ("age-60", 60, 79, (), 1500, 200)]
    assert {g.group for g in policy.group_prices} == {"special_care", "home_care", "white_collar"}
    white = policy.group_price("white_collar")
    assert white is not None and (white.set_meal_fen, white.percent_off) == (2000, None)
    assert policy.group_price("standard") is None
    assert not policy.covers(dt.date(2025, 11, 30)) and policy.covers(dt.date(2025, 12, 1))
    assert policy.covers(dt.date(2040, 1, 1))
    assert [policy.band_for(a) for a in (None, 59)] == [None, None]
    assert [policy.band_for(a).band for a in (60, 79, 80, 104)] == ["60-79", "60-79", "80+", "80+"]
    assert putuo_doc()["format"] == POLICY_FORMAT


def test_the_dataclasses_are_frozen():
    policy = load_policy(PUTUO)
    with pytest.raises(AttributeError):
        policy.version = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        policy.subsidy_tiers[0].amount_fen = 9999  # type: ignore[misc]
    assert isinstance(policy, Policy) and isinstance(policy.discounts[0], AgeDiscount)
    assert isinstance(policy.group_prices[0], GroupPrice) and isinstance(policy.subsidy_tiers[0], SubsidyTier)


def _set(doc: dict, path: tuple, value: object) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


#: (where to change, the new value or KeyError to delete, the path the refusal names, words of the reason)
BAD = [
    (("policy_id",), KeyError, "policy_id", "missing"),
    (("policy_id",), "Putuo Canteen", "policy_id", "must be an id"),
    (("version",), "1", "version", "whole number"),
    (("version",), True, "version", "whole number"),
    (("version",), 1.0, "version", "whole number"),
    (("version",), 0, "version", "must be 1-"),
    (("key",), "putuo-canteen:2", "key", "policy_id:version"),
    (("format",), "linfen-menu", "format", "linfen-canteen-policy"),
    (("valid_from",), "2025-13-01", "valid_from", "not a real date"),
    (("valid_from",), "1 Dec 2025", "valid_from", "ISO date"),
    (("valid_from",), KeyError, "valid_from", "missing"),
    (("valid_to",), "2025-11-30", "valid_to", "before valid_from"),
    (("surprise",), 1, "surprise", "unknown field"),
    (("rules",), [], "rules", "must be an object"),
    (("rules", "rounding"), "bankers", "rules.rounding", "half_up"),
    (("rules", "once_per_day"), "yes", "rules.once_per_day", "true or false"),
    (("rules", "once_per_day"), KeyError, "rules.once_per_day", "missing"),
    (("rules", "subsidy_spend"), "net", "rules.subsidy_spend", "after_discount"),
    (("rules", "discount"), [], "rules.discount", "unknown field"),
    (("rules", "discounts", 1, "percent_off"), 120, "rules.discounts[1].percent_off", "must be 0-100"),
    (("rules", "discounts", 1, "percent_off"), 15.5, "rules.discounts[1].percent_off", "whole number"),
    (("rules", "discounts", 0, "max_age"), 50, "rules.discounts[0].max_age", "at least min_age"),
    (("rules", "discounts", 1, "min_age"), 79, "rules.discounts[1]", "overlap band '60-79'"),
    (("rules", "discounts", 1, "band"), "60-79", "rules.discounts[1].band", "appears twice"),
    (("rules", "discounts", 0, "label_zh"), "", "rules.discounts[0].label_zh", "text"),
    (("rules", "discounts", 0, "percent_of"), 10, "rules.discounts[0].percent_of", "unknown field"),
    (("rules", "group_prices", 2, "percent_off"), 10, "rules.group_prices[2]", "exactly one"),
    (("rules", "group_prices", 0, "percent_off"), KeyError, "rules.group_prices[0]", "exactly one"),
    (("rules", "group_prices", 0, "group"), "dibao", "rules.group_prices[0].group", "subsidy condition"),
    (("rules", "group_prices", 1, "group"), "special_care", "rules.group_prices[1].group", "appears twice"),
    (("rules", "group_prices", 2, "set_meal_fen"), -1, "rules.group_prices[2].set_meal_fen", "must be 0-"),
    (("rules", "subsidy_tiers", 1, "amount_fen"), 2.5, "rules.subsidy_tiers[1].amount_fen", "whole number"),
    (("rules", "subsidy_tiers", 1, "amount_fen"), 0, "rules.subsidy_tiers[1].amount_fen", "must be 1-"),
    (("rules", "subsidy_tiers", 0, "requires"), "dibao", "rules.subsidy_tiers[0].requires", "a list"),
    (("rules", "subsidy_tiers", 0, "requires"), ["Di Bao"], "rules.subsidy_tiers[0].requires[0]", "group name"),
    (("rules", "subsidy_tiers", 2, "tier"), "age-80", "rules.subsidy_tiers[2].tier", "appears twice"),
    (("rules", "subsidy_tiers", 2, "min_spend_fen"), KeyError, "rules.subsidy_tiers[2].min_spend_fen", "missing"),
    (("rules", "subsidy_tiers", 2, "min_spend_fen"), None, "rules.subsidy_tiers[2].min_spend_fen", "whole number"),
    (("rules", "subsidy_tiers", 0, "label_en"), 7, "rules.subsidy_tiers[0].label_en", "text"),
]


@pytest.mark.parametrize(("path", "value", "where", "words"), BAD, ids=[f"{'.'.join(map(str, b[0]))}={b[1]!r}"
                                                                        for b in BAD])
def test_a_malformed_document_is_refused_naming_the_field(path, value, where, words):
    doc = _set(putuo_doc(), path, value)
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc)
    assert caught.value.path == where, str(caught.value)
    assert words in caught.value.reason, str(caught.value)
    assert str(caught.value).startswith(f"{where}: ")
    assert policy_problem(doc) == str(caught.value)  # the importer's check is the same rule


def test_optional_fields_take_their_defaults():
    doc = putuo_doc()
    for name in ("format", "key", "valid_to", "title_zh", "title_en", "note"):
        del doc[name]
    del doc["rules"]["subsidy_spend"]
    del doc["rules"]["group_prices"]
    del doc["rules"]["subsidy_tiers"][1]["requires"]
    policy = parse_policy(doc)
    assert policy.subsidy_spend == "after_discount" and policy.group_prices == () and policy.valid_to is None
    assert policy.subsidy_tiers[1].requires == () and policy.title_zh == ""
    assert policy_problem(doc) is None
    assert parse_policy(putuo_doc()) == load_policy(PUTUO)


def test_a_document_that_is_not_an_object_is_refused():
    with pytest.raises(PolicyError, match=r"^\(document\): must be an object"):
        parse_policy([putuo_doc()])


def test_load_policy_refuses_unreadable_and_non_strict_files(tmp_path):
    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "missing.json")
    nan = tmp_path / "nan.json"
    nan.write_text(PUTUO.read_text(encoding="utf-8").replace('"amount_fen": 500', '"amount_fen": NaN'),
                   encoding="utf-8")
    with pytest.raises(PolicyError, match="not strict UTF-8 JSON"):
        load_policy(nan)
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff\xfe{")
    with pytest.raises(PolicyError, match=r"^\(file\)"):
        load_policy(broken)


def version(number: int, valid_from: dt.date, valid_to: dt.date | None = None, policy_id: str = "putuo-canteen"):
    doc = putuo_doc()
    del doc["key"]
    doc.update(policy_id=policy_id, version=number, valid_from=valid_from.isoformat(),
               valid_to=valid_to.isoformat() if valid_to else None)
    return parse_policy(doc)


def test_policy_in_force_picks_the_highest_version_covering_the_day():
    v1 = version(1, dt.date(2025, 12, 1))
    v2 = version(2, dt.date(2026, 3, 1), dt.date(2026, 6, 30))  # a spring rule, then back to v1
    v3 = version(3, dt.date(2027, 1, 1))
    other = version(9, dt.date(2026, 4, 1), dt.date(2026, 4, 30), policy_id="jingan-canteen")
    policies = [v3, other, v1, v2]
    assert policy_in_force(policies, dt.date(2025, 11, 30)) is None
    assert policy_in_force(policies, dt.date(2025, 12, 1)) is v1
    assert policy_in_force(policies, dt.date(2026, 2, 28)) is v1
    assert policy_in_force(policies, dt.date(2026, 3, 1)) is v2
    assert policy_in_force(policies, dt.date(2026, 6, 30)) is v2  # valid_to is the last day it applies
    assert policy_in_force(policies, dt.date(2026, 7, 1)) is v1
    assert policy_in_force(policies, dt.date(2027, 1, 1)) is v3
    assert policy_in_force(policies, dt.date(2026, 4, 15)) is other  # without an id, every policy competes
    assert policy_in_force(policies, dt.date(2026, 4, 15), policy_id="putuo-canteen") is v2
    assert policy_in_force(policies, dt.date(2026, 4, 15), policy_id="nowhere") is None
    assert policy_in_force([], dt.date(2026, 1, 1)) is None
    assert policy_in_force(iter(policies), dt.date(2026, 3, 1)) is v2  # any iterable
