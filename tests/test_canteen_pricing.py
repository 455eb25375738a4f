"""Canteen pricing under the Putuo rule, computed by hand: each age band and tier, the 59/60 and 79/80
boundaries, spend just under and at a tier's minimum, the once-a-day subsidy, special groups, and
properties over random baskets and random policies."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.canteen.policy import POLICY_DIR, load_policy, parse_policy
from kiosk.canteen.pricing import (
    Holder,
    Item,
    PricingError,
    Quote,
    quote,
    round_half_up,
    yuan_text,
    zhe_text,
)
from kiosk.reference import CardEntry

pytestmark = pytest.mark.unit

PUTUO = load_policy(POLICY_DIR / "putuo-canteen-2025-12.json")
DAY = dt.date(2025, 12, 3)  # ages are DAY.year - birth_year


def born(age: int) -> int:
    return DAY.year - age


def meal(*fen: int) -> list[Item]:
    return [Item(f"M{n}", f"菜{n}", f"dish {n}", unit, 1) for n, unit in enumerate(fen, 1)]


def price(gross: int, age: int | None, *, groups: tuple[str, ...] = (), dibao: bool = False, used: bool = False,
          policy=PUTUO) -> Quote:
    holder = Holder(born(age) if age is not None else None, groups, dibao)
    return quote(meal(gross), holder, DAY, policy, used)


def summary(q: Quote) -> tuple:
    return q.gross_fen, q.discount_fen, q.subsidy_fen, q.subsidy_tier, q.paid_fen, q.age_band, q.group


# -- hand-computed cases ------------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "gross", "expected"), [
    # age 59: no band, no tier
    (59, 2000, (2000, 0, 0, None, 2000, None, None)),
    # 60 and 79: 10 % off 20 元 = 2 元; 18 元 left >= 15 元: 2 元 subsidy
    (60, 2000, (2000, 200, 200, "age-60", 1600, "60-79", None)),
    (79, 2000, (2000, 200, 200, "age-60", 1600, "60-79", None)),
    # 80: 15 % off 30 元 = 4.50 元; 25.50 left: 3 元 subsidy
    (80, 3000, (3000, 450, 300, "age-80", 2250, "80+", None)),
    (101, 3000, (3000, 450, 300, "age-80", 2250, "80+", None)),
    # birth year unknown: list price, nothing else
    (None, 3000, (3000, 0, 0, None, 3000, None, None)),
])
def test_each_age_band_and_its_tier(age, gross, expected):
    assert summary(price(gross, age)) == expected


def test_the_80_plus_lines_read_as_the_resident_hears_them():
    q = price(3000, 85)
    assert [line.zh for line in q.lines] == ["合计 30 元", "80 岁以上 85 折 −4.50 元", "今日补贴 −3 元", "应付 22.50 元"]
    assert [line.en for line in q.lines] == ["Total 30 yuan", "Aged 80+ 15% off −4.50 yuan",
                                             "Today's meal subsidy −3 yuan", "To pay 22.50 yuan"]
    assert [line.kind for line in q.lines] == ["gross", "discount", "subsidy", "paid"]
    assert [line.amount_fen for line in q.lines] == [3000, -450, -300, 2250]
    assert q.text() == "合计 30 元\n80 岁以上 85 折 −4.50 元\n今日补贴 −3 元\n应付 22.50 元"
    assert q.text("en").endswith("To pay 22.50 yuan")
    assert q.reason_no_subsidy is None and q.age == 85 and q.policy == "putuo-canteen:1"
    with pytest.raises(PricingError):
        q.text("fr")


def test_the_60_to_79_band_is_nine_zhe():
    q = price(2000, 65)
    assert [line.zh for line in q.lines] == ["合计 20 元", "60–79 岁 9 折 −2 元", "今日补贴 −2 元", "应付 16 元"]


@pytest.mark.parametrize(("age", "gross", "left", "subsidy"), [
    # 60-79: 10 % off; 16.67 元 → 1.667 元 rounds half up to 1.67 元 → 15.00 元 left: at the minimum
    (60, 1667, 1500, 200),
    (60, 1666, 1499, 0),  # 1.666 元 → 1.67 元 → 14.99 元 left: one fen under
    # 80+: 15 % off; 17.65 元 → 2.6475 元 → 2.65 元 → 15.00 元 left
    (80, 1765, 1500, 300),
    (80, 1764, 1499, 0),  # 2.646 元 → 2.65 元 → 14.99 元
])
def test_spend_just_under_and_at_the_minimum_after_the_discount(age, gross, left, subsidy):
    q = price(gross, age)
    assert gross - q.discount_fen == left
    assert (q.subsidy_fen, q.paid_fen) == (subsidy, left - subsidy)
    if subsidy:
        assert q.reason_no_subsidy is None
    else:
        amount = "2 元" if age < 80 else "3 元"
        assert q.reason_no_subsidy is not None and q.subsidy_tier is None
        assert q.reason_no_subsidy.zh == f"优惠后消费满 15 元可享今日补贴 {amount}"
        assert q.reason_no_subsidy.en == f"Today's {amount[:-2]} yuan meal subsidy needs 15 yuan spent after discount"
        assert q.lines[-2] == q.reason_no_subsidy and q.lines[-1].kind == "paid"


def test_dibao_60_plus_from_8_yuan():
    q = price(889, 70, dibao=True)  # 10 % of 8.89 元 = 0.889 → 0.89 元; 8.00 元 left: 低保 tier 5 元
    assert summary(q) == (889, 89, 500, "dibao-60", 300, "60-79", None)
    assert [line.zh for line in q.lines][-2:] == ["今日补贴 −5 元", "应付 3 元"]
    under = price(888, 70, dibao=True)  # 7.99 元 left
    assert (under.subsidy_fen, under.paid_fen) == (0, 799)
    assert under.reason_no_subsidy is not None
    assert under.reason_no_subsidy.zh == "优惠后消费满 8 元可享今日补贴 5 元"  # the nearest tier is named


def test_dibao_gets_the_single_best_tier_not_two():
    q = price(3000, 85, dibao=True)  # qualifies for 低保 (5 元) and 80+ (3 元): 5 元 only
    assert summary(q) == (3000, 450, 500, "dibao-60", 2050, "80+", None)
    between = price(1000, 85, dibao=True)  # 8.50 left: 低保 reached, 80+ not: still the 低保 tier
    assert (between.subsidy_fen, between.subsidy_tier, between.paid_fen) == (500, "dibao-60", 350)
    young = price(3000, 59, dibao=True)  # 低保 tier starts at 60
    assert (young.subsidy_fen, young.reason_no_subsidy) == (0, None)


def test_standard_diner_without_a_discount_spends_gross():
    q = price(800, 30)
    assert summary(q) == (800, 0, 0, None, 800, None, None)
    assert [line.kind for line in q.lines] == ["gross", "paid"]


def test_subsidy_already_used_today():
    q = price(3000, 85, used=True)
    assert summary(q) == (3000, 450, 0, None, 2550, "80+", None)
    assert q.reason_no_subsidy is not None
    assert (q.reason_no_subsidy.zh, q.reason_no_subsidy.en) == ("今日补贴已用", "Today's meal subsidy already used")
    assert [line.zh for line in q.lines] == ["合计 30 元", "80 岁以上 85 折 −4.50 元", "今日补贴已用", "应付 25.50 元"]
    assert price(3000, 40, used=True).reason_no_subsidy is None  # never eligible: nothing to explain


def doc_with(**rules) -> dict:
    doc = json.loads((POLICY_DIR / "putuo-canteen-2025-12.json").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc["rules"].update(rules)
    return doc


def test_without_once_per_day_a_used_subsidy_is_granted_again():
    daily = parse_policy(doc_with(once_per_day=False))
    assert price(3000, 85, used=True, policy=daily).subsidy_fen == 300


def test_a_subsidy_never_exceeds_what_is_left_to_pay():
    generous = parse_policy(doc_with(subsidy_tiers=[
        {"tier": "all", "label_zh": "全体", "label_en": "everyone", "min_age": 0, "max_age": None,
         "min_spend_fen": 0, "amount_fen": 500}]))
    q = price(300, 30, policy=generous)
    assert summary(q) == (300, 0, 300, "all", 0, None, None)
    assert [line.zh for line in q.lines] == ["合计 3 元", "今日补贴 −3 元", "应付 0 元"]
    free = parse_policy(doc_with(
        subsidy_spend="gross",
        group_prices=[{"group": "guest", "percent_off": 100, "label_zh": "嘉宾", "label_en": "Guest"}],
        subsidy_tiers=[{"tier": "all", "label_zh": "全体", "label_en": "everyone", "min_age": 0, "max_age": None,
                        "min_spend_fen": 0, "amount_fen": 500}]))
    q = price(1000, 30, groups=("guest",), policy=free)  # nothing left to pay: no subsidy is used up
    assert summary(q) == (1000, 1000, 0, None, 0, None, "guest")
    assert q.lines[1].zh == "嘉宾 免费 −10 元"


def test_special_groups_take_the_best_single_price():
    care = price(2000, 65, groups=("special_care",))  # 20 % beats the band's 10 %: 4 元 off, 16 元 ≥ 15 元
    assert summary(care) == (2000, 400, 200, "age-60", 1400, "60-79", "special_care")
    assert care.lines[1].zh == "特殊关爱对象 8 折 −4 元" and care.lines[1].en == "Special care 20% off −4 yuan"
    old_care = price(3000, 85, groups=("special_care",))  # 20 % beats 15 %
    assert summary(old_care) == (3000, 600, 300, "age-80", 2100, "80+", "special_care")
    tie = price(2000, 65, groups=("home_care",))  # 10 % both: the age band
    assert summary(tie) == (2000, 200, 200, "age-60", 1600, "60-79", None)
    home = price(2000, 50, groups=("home_care",))
    assert summary(home) == (2000, 200, 0, None, 1800, None, "home_care")
    unknown = price(2000, 50, groups=("astronaut",))  # a group the policy does not price: list price
    assert summary(unknown) == (2000, 0, 0, None, 2000, None, None)


def test_white_collar_fixed_set_meal_price():
    basket = [Item("S1", "红烧肉套餐", "Braised pork set", 2500, 2, set_meal=True),
              Item("D1", "青菜", "Greens", 800, 1)]
    q = quote(basket, Holder(born(30), ("white_collar",)), DAY, PUTUO, False)
    assert summary(q) == (5800, 1000, 0, None, 4800, None, "white_collar")  # 2 × (25 − 20) off, greens list price
    assert q.lines[1].zh == "白领套餐 20 元/份 −10 元"
    assert q.lines[1].en == "White-collar set meal 20 yuan each −10 yuan"
    cheap = quote([Item("S2", "素套餐", "Veg set", 1800, 1, set_meal=True)], Holder(born(30), ("white_collar",)),
                  DAY, PUTUO, False)
    assert summary(cheap) == (1800, 0, 0, None, 1800, None, None)  # a fixed price never raises a price


def test_percent_discounts_round_half_up_to_the_fen():
    assert round_half_up(5 * 10, 100) == 1 and round_half_up(4 * 10, 100) == 0
    assert price(5, 65).discount_fen == 1  # 0.5 fen → 1
    assert price(15, 65).discount_fen == 2  # 1.5 fen → 2
    assert price(14, 65).discount_fen == 1  # 1.4 fen → 1
    assert price(10, 80).discount_fen == 2  # 1.5 fen → 2


def test_items_as_tuples_or_dicts_price_the_same():
    as_items = [Item("M1", "面", "Noodles", 1200, 2), Item("S1", "套餐", "Set", 2500, 1, True)]
    as_tuples = [("M1", "面", "Noodles", 1200, 2), ("S1", "套餐", "Set", 2500, 1, True)]
    as_dicts = [{"item_id": "M1", "name": "面", "name_en": "Noodles", "unit_fen": 1200, "qty": 2},
                {"item_id": "S1", "name": "套餐", "unit_fen": 2500, "set_meal": True}]
    holder = Holder(born(30), ("white_collar",))
    quotes = [quote(b, holder, DAY, PUTUO, False) for b in (as_items, as_tuples, as_dicts)]
    assert quotes[0] == quotes[1] == quotes[2] and quotes[0].gross_fen == 4900 and quotes[0].discount_fen == 500


def test_holder_from_a_pulled_card_and_payment_fields():
    card = CardEntry("04A1B2C3", "active", birth_year=born(82), groups=("special_care",), dibao=True,
                     masked_name="陈*英", hukou="local")
    holder = Holder.from_card(card)
    assert holder == Holder(born(82), ("special_care",), True)
    assert Holder.from_card(CardEntry("X", "active")) == Holder(None)
    q = quote(meal(3000), holder, DAY, PUTUO, False)
    assert q.payment_fields() == {"gross_fen": 3000, "discount_fen": 600, "subsidy_fen": 500,
                                  "subsidy_tier": "dibao-60", "paid_fen": 1900, "age_band": "80+",
                                  "group": "special_care", "policy": "putuo-canteen:1"}


@pytest.mark.parametrize(("fen", "zh", "en"), [
    (2250, "22.50 元", "22.50 yuan"), (300, "3 元", "3 yuan"), (5, "0.05 元", "0.05 yuan"), (0, "0 元", "0 yuan"),
    (1, "0.01 元", "0.01 yuan"), (10, "0.10 元", "0.10 yuan"), (-450, "−4.50 元", "−4.50 yuan"),
    (123456, "1234.56 元", "1234.56 yuan"),
])
def test_yuan_text(fen, zh, en):
    assert (yuan_text(fen), yuan_text(fen, "en")) == (zh, en)


@pytest.mark.parametrize("bad", [22.5, True, "300"])
def test_yuan_text_takes_whole_fen_only(bad):
    with pytest.raises(PricingError):
        yuan_text(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("off", "text"), [(10, "9 折"), (15, "85 折"), (5, "95 折"), (12, "88 折"), (50, "5 折"),
                                           (100, "免费")])
def test_zhe_text(off, text):
    assert zhe_text(off) == text


@pytest.mark.parametrize(("items", "words"), [
    ([], "empty basket"),
    ([("M1", "面", "Noodles", 1200, 0)], "qty"),
    ([("M1", "面", "Noodles", 12.5, 1)], "unit_fen"),
    ([("M1", "面", "Noodles", -1, 1)], "unit_fen"),
    ([("M1", "面", "Noodles", 1200, True)], "qty"),
    ([("", "面", "Noodles", 1200, 1)], "item_id"),
    ([("M1", "面")], "expected"),
])
def test_a_basket_that_cannot_be_priced_is_refused(items, words):
    with pytest.raises(PricingError, match=words):
        quote(items, Holder(1950), DAY, PUTUO, False)


def test_a_policy_not_in_force_or_a_future_birth_year_is_refused():
    with pytest.raises(PricingError, match="does not cover 2025-11-30"):
        quote(meal(1000), Holder(1950), dt.date(2025, 11, 30), PUTUO, False)
    with pytest.raises(PricingError, match="birth year 2026"):
        quote(meal(1000), Holder(2026), DAY, PUTUO, False)


# -- properties ---------------------------------------------------------------------------------------

ITEMS = st.lists(st.builds(Item, st.sampled_from(["M1", "M2", "S1"]), st.just("菜"), st.just("dish"),
                           st.integers(0, 6000), st.integers(1, 5), st.booleans()), min_size=1, max_size=6)
HOLDERS = st.builds(Holder, st.one_of(st.none(), st.integers(1900, DAY.year)),
                    st.lists(st.sampled_from(["special_care", "home_care", "white_collar", "veteran"]),
                             unique=True).map(tuple), st.booleans())


def check_invariants(q: Quote, used: bool, once: bool) -> None:
    assert q.paid_fen == q.gross_fen - q.discount_fen - q.subsidy_fen >= 0
    assert 0 <= q.discount_fen <= q.gross_fen
    assert q.subsidy_fen <= q.gross_fen - q.discount_fen
    assert (q.subsidy_tier is None) == (q.subsidy_fen == 0)
    if used and once:
        assert q.subsidy_fen == 0
    assert q.lines[0].kind == "gross" and q.lines[-1].kind == "paid"
    assert sum(line.amount_fen for line in q.lines[:-1] if line.amount_fen is not None) == q.paid_fen
    assert q.lines[-1].amount_fen == q.paid_fen
    assert all(line.zh and line.en for line in q.lines)


@settings(max_examples=400, deadline=None)
@given(ITEMS, HOLDERS, st.booleans())
def test_property_putuo_amounts_add_up(items, holder, used):
    q = quote(items, holder, DAY, PUTUO, used)
    check_invariants(q, used, PUTUO.once_per_day)
    assert q.subsidy_fen in {0} | {t.amount_fen for t in PUTUO.subsidy_tiers}  # minimum spends ≥ amounts here
    assert q.gross_fen == sum(i.unit_fen * i.qty for i in items)
    if q.age is None or q.age < 60:
        assert q.subsidy_fen == 0 and q.reason_no_subsidy is None


TIER = st.fixed_dictionaries({
    "label_zh": st.just("补贴"), "label_en": st.just("subsidy"), "min_age": st.integers(0, 100),
    "max_age": st.one_of(st.none(), st.integers(100, 150)), "requires": st.sampled_from([[], ["dibao"]]),
    "min_spend_fen": st.integers(0, 5000), "amount_fen": st.integers(1, 5000)})
RULES = st.fixed_dictionaries({
    "rounding": st.just("half_up"), "once_per_day": st.booleans(),
    "subsidy_spend": st.sampled_from(["after_discount", "gross"]),
    "discounts": st.lists(st.integers(0, 100), min_size=0, max_size=2).map(lambda offs: [
        {"band": f"b{n}", "min_age": 60 + 20 * n, "max_age": None if n == len(offs) - 1 else 79 + 20 * n,
         "percent_off": off, "label_zh": "长者", "label_en": "elder"} for n, off in enumerate(offs)]),
    "group_prices": st.tuples(st.integers(0, 100), st.integers(0, 6000)).map(lambda g: [
        {"group": "special_care", "percent_off": g[0], "label_zh": "关爱", "label_en": "care"},
        {"group": "white_collar", "set_meal_fen": g[1], "label_zh": "白领", "label_en": "office"}]),
    "subsidy_tiers": st.lists(TIER, max_size=3).map(lambda ts: [{**t, "tier": f"t{n}"} for n, t in enumerate(ts)]),
})


@settings(max_examples=300, deadline=None)
@given(ITEMS, HOLDERS, st.booleans(), RULES)
def test_property_any_valid_policy_keeps_the_amounts_whole_and_bounded(items, holder, used, rules):
    policy = parse_policy({"policy_id": "random", "version": 1, "valid_from": "2025-01-01", "rules": rules})
    q = quote(items, holder, DAY, policy, used)
    check_invariants(q, used, policy.once_per_day)
    left = q.gross_fen - q.discount_fen
    assert q.subsidy_fen in {0, left} | {t.amount_fen for t in policy.subsidy_tiers}  # capped at what is left
