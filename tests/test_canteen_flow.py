"""The canteen reader's pure flow: self-pay and cashier, refusals, double taps, deadlines and help."""

from __future__ import annotations

import pytest

from kiosk.canteen.events import (
    Alert,
    BasketChanged,
    CardFailed,
    CardPresented,
    Dismissed,
    HelpRequested,
    MealChosen,
    MoreTime,
    Pay,
    PaymentDone,
    PaymentRefused,
    PrintReceipt,
    ReceiptWanted,
    Say,
    Show,
    Tick,
)
from kiosk.canteen.flow import CanteenFlow, CanteenSettings

MEAL = {"item_id": "set-a", "name": "套餐A", "name_en": "Set meal A", "unit_fen": 1500}
LINES = ({"zh": "80 岁以上 85 折 −2.25 元", "en": "Age 80+ 15% off −2.25 yuan"},
         {"zh": "今日补贴 −3 元", "en": "Today's subsidy −3 yuan"})


def says(effects):
    return [e.key for e in effects if isinstance(e, Say)]


def shown(effects):
    return [e for e in effects if isinstance(e, Show)]


def pay_of(effects) -> Pay:
    (pay,) = [e for e in effects if isinstance(e, Pay)]
    return pay


def done(pay: Pay, **kw) -> PaymentDone:
    base = dict(status="paid", entry_id="e1", paid_fen=975, lines=LINES, balance_after_fen=8025, low_balance=False,
                offline=False, tap=pay.tap)
    return PaymentDone(**{**base, **kw})


def test_self_pay_meal_then_card_pays_and_says_the_lines_and_balance():
    flow = CanteenFlow()
    effects = flow.handle(MealChosen(MEAL))
    assert flow.state == "present" and says(effects) == ["canteen_present"]
    assert shown(effects)[0].data["total_fen"] == 1500 and shown(effects)[0].data["stays_s"] == 60.0
    pay = pay_of(flow.handle(CardPresented("C5EEDA41", 1.0)))
    assert pay.items[0]["item_id"] == "set-a" and flow.state == "paying"
    effects = flow.handle(done(pay))
    assert flow.state == "paid" and says(effects) == ["canteen_paid"]
    said = [e for e in effects if isinstance(e, Say)][0].params
    assert "今日补贴 −3 元" in said["lines_zh"] and said["balance"] == "80.25"
    assert shown(effects)[0].data["lines"][1]["zh"] == "今日补贴 −3 元"


def test_a_card_tapped_first_is_held_until_a_meal_is_chosen_never_a_default_meal():
    flow = CanteenFlow()
    effects = flow.handle(CardPresented("C5EEDA41", 1.0))
    assert flow.state == "choosing" and says(effects) == ["canteen_choose_first"]
    assert not any(isinstance(e, Pay) for e in effects)
    effects = flow.handle(MealChosen(MEAL))
    assert says(effects)[0] == "canteen_meal_chosen" and pay_of(effects).card_no == "C5EEDA41"


def test_the_same_card_on_its_paid_screen_is_the_same_basket_again_and_is_told_so():
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    flow.handle(done(pay_of(flow.handle(CardPresented("C5EEDA41", 1.0)))))
    again = pay_of(flow.handle(CardPresented("C5EEDA41", 2.0)))
    assert again.items == (dict(MEAL, qty=1),)
    effects = flow.handle(done(again, status="duplicate"))
    assert says(effects) == ["canteen_already_paid"]


def test_a_low_balance_is_said_after_paying():
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    effects = flow.handle(done(pay_of(flow.handle(CardPresented("C5", 1.0))), balance_after_fen=1200,
                               low_balance=True))
    assert says(effects) == ["canteen_paid", "canteen_low_balance"]
    assert shown(effects)[0].data["low_balance"] is True


@pytest.mark.parametrize("code,alert", [("insufficient", False), ("over_day_limit", False), ("lost", True),
                                        ("denied", True), ("unknown_card", False)])
def test_refusals_are_worded_spoken_and_a_lost_card_alerts_staff(code, alert):
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    pay = pay_of(flow.handle(CardPresented("C5", 1.0)))
    effects = flow.handle(PaymentRefused(code, {"yuan": 3.5}, tap=pay.tap))
    assert flow.state == "refused" and says(effects) == [f"canteen_{code}"]
    assert shown(effects)[0].data["code"] == code
    assert any(isinstance(e, Alert) for e in effects) is alert
    # Another card may be tried for the same meal.
    assert pay_of(flow.handle(CardPresented("D6", 2.0))).items[0]["item_id"] == "set-a"


def test_a_clone_is_refused_in_words_and_staff_are_told():
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    effects = flow.handle(CardFailed("not_genuine"))
    assert says(effects) == ["canteen_not_genuine"] and any(isinstance(e, Alert) for e in effects)


def test_cashier_mode_pays_the_clerk_s_basket_and_clears_it():
    flow = CanteenFlow(CanteenSettings(mode="cashier"))
    assert says(flow.handle(CardPresented("C5", 0.5))) == ["canteen_wait_clerk"] and flow.state == "idle"
    basket = (dict(MEAL, qty=1), {"item_id": "soup", "name": "汤", "unit_fen": 300, "qty": 2})
    effects = flow.handle(BasketChanged(basket))
    assert shown(effects)[0].data["total_fen"] == 2100 and "汤×2" in shown(effects)[0].data["items_zh"]
    assert flow.handle(MealChosen(MEAL)) == []  # no set-meal buttons in cashier mode
    pay = pay_of(flow.handle(CardPresented("C5", 1.0)))
    flow.handle(done(pay))
    assert flow.items == ()


def test_a_payment_that_never_answers_ends_on_ask_staff_and_a_late_answer_is_still_shown():
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    pay = pay_of(flow.handle(CardPresented("C5", 1.0)))
    flow.handle(Tick(3.0))
    effects = flow.handle(Tick(7.0))
    assert flow.state == "error" and says(effects) == ["ask_staff"]
    assert any(isinstance(e, Alert) and e.kind == "payment_stuck" for e in effects)
    assert flow.handle(done(pay)) and flow.state == "paid"


def test_an_answer_for_an_earlier_tap_is_ignored():
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    first = pay_of(flow.handle(CardPresented("C5", 1.0)))
    flow.handle(PaymentRefused("insufficient", tap=first.tap))
    second = pay_of(flow.handle(CardPresented("D6", 2.0)))
    assert flow.handle(done(first)) == [] and flow.state == "paying"
    assert flow.handle(done(second))


def test_every_resident_screen_warns_can_be_extended_and_returns_to_the_menu_with_a_reset():
    flow = CanteenFlow()
    flow.handle(Tick(0.0))
    flow.handle(MealChosen(MEAL))
    assert flow.deadline() == 60.0
    effects = flow.handle(Tick(51.0))
    assert says(effects) == ["timeout_warning"] and shown(effects)[0].data["warning"] is True
    flow.handle(MoreTime())
    assert flow.deadline() == 111.0
    effects = flow.handle(Tick(112.0))
    assert flow.state == "idle" and shown(effects)[0].screen == "menu" and shown(effects)[0].data["reset"] is True
    assert flow.deadline() is None


def test_help_alerts_once_per_half_minute_and_keeps_the_screen():
    flow = CanteenFlow()
    flow.handle(Tick(0.0))
    flow.handle(MealChosen(MEAL))
    first = flow.handle(HelpRequested())
    assert [e.kind for e in first if isinstance(e, Alert)] == ["help"] and flow.state == "present"
    assert not any(isinstance(e, Alert) for e in flow.handle(HelpRequested()))


def test_a_receipt_prints_only_from_the_paid_screen_and_dismiss_goes_home():
    flow = CanteenFlow()
    assert flow.handle(ReceiptWanted()) == []
    flow.handle(MealChosen(MEAL))
    flow.handle(done(pay_of(flow.handle(CardPresented("C5", 1.0))), entry_id="abc"))
    assert flow.handle(ReceiptWanted()) == [PrintReceipt("abc")]
    flow.handle(Dismissed())
    assert flow.state == "idle" and flow.items == ()


def test_yuan_reads_whole_and_fractional_amounts():
    from kiosk.canteen.flow import yuan
    assert [yuan(1500), yuan(2250), yuan(5), yuan(-300)] == ["15", "22.50", "0.05", "-3"]


def test_a_tap_while_paying_is_ignored_and_an_unknown_mode_is_refused():
    flow = CanteenFlow()
    flow.handle(MealChosen(MEAL))
    flow.handle(CardPresented("C5", 1.0))
    assert flow.handle(CardPresented("C5", 1.2)) == []
    with pytest.raises(ValueError, match="mode"):
        CanteenFlow(CanteenSettings(mode="free"))


def test_every_canteen_state_is_in_the_prompt_table_and_every_spoken_key_has_words():
    import re
    from pathlib import Path

    from kiosk.canteen.flow import CARD_CODES, STATES
    from kiosk.prompts import CANTEEN_SCREENS, PROMPTS, prompt_text

    assert set(CANTEEN_SCREENS) == set(STATES)
    source = (Path(__file__).resolve().parent.parent / "kiosk/canteen/flow.py").read_text(encoding="utf-8")
    spoken = set(re.findall(r'Say\("(\w+)"[,)]', source))
    spoken |= {f"canteen_{c}" for c in (*CARD_CODES, "insufficient", "over_tap_limit", "over_day_limit",
                                        "too_many_offline", "no_balance", "no_policy", "read_failed")}
    table = {k for _, keys in CANTEEN_SCREENS.values() for k in keys}
    for key in spoken:
        assert key in PROMPTS and key in table, key
    said = prompt_text("canteen_paid", "zh", {"yuan": "9.75", "lines_zh": "今日补贴 −3 元", "balance": "80.25"})
    assert said == "付款成功，付了 9.75 元。今日补贴 −3 元。卡里还有 80.25 元"
