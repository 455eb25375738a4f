"""What the voice says: numerals, spelled tickets, prompts cut into clauses and values, sample values."""

from __future__ import annotations

import string

import pytest

from kiosk.prompts import PROMPTS, prompt_text
from kiosk.voice_words import (
    COMMA_GAP_S,
    STOP_GAP_S,
    Pause,
    Words,
    chinese_numeral,
    english_number,
    fixed_words,
    for_espeak,
    prompt_plan,
    sample_params,
    spoken_number,
    template_plan,
    token_words,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("n", "zh", "en"), [
    (0, "零", "zero"), (3, "三", "three"), (10, "十", "ten"), (12, "十二", "twelve"), (20, "二十", "twenty"),
    (105, "一百零五", "one hundred five"), (110, "一百一十", "one hundred ten"), (1000, "一千", "one thousand"),
    (1010, "一千零一十", "one thousand ten"), (2003, "二千零三", "two thousand three"),
    (10010, "一万零一十", "ten thousand ten"), (100000, "十万", "one hundred thousand"),
    (-3, "负三", "minus three"),
])
def test_numbers_in_words(n, zh, en):
    assert chinese_numeral(n) == zh
    assert english_number(n) == en


def test_decimals_and_free_text():
    assert spoken_number("37.8", "zh") == "三十七点八"
    assert spoken_number("37.8", "en") == "thirty seven point eight"
    assert for_espeak("体温 37.8°C 偏高", "zh") == "体温 三十七点八度 偏高"
    assert for_espeak("请 A012 号，到 3 号窗口", "zh") == "请 A零一二 号，到 三 号窗口"
    assert for_espeak("Your temperature is 37.8 °C", "en") == "Your temperature is thirty seven point eight degrees"


def words_of(plan) -> list[str]:
    return [p.text for p in plan if isinstance(p, Words)]


def test_a_prompt_is_clauses_and_spoken_values_with_pauses():
    plan = prompt_plan("ticket", "zh", {"number": "A012", "people_ahead": 12})
    assert words_of(plan) == ["您的号码是", "A", "零", "一", "二", "前面还有", "十", "二", "人", "请取走号票"]
    assert Pause(COMMA_GAP_S) in plan
    assert isinstance(plan[0], Words) and isinstance(plan[-1], Words)  # no silence at either end
    assert not any(isinstance(a, Pause) and isinstance(b, Pause) for a, b in zip(plan, plan[1:], strict=False))
    en = prompt_plan("ticket", "en", {"number": "A012", "people_ahead": 3})
    assert words_of(en) == ["Your number is", "A", "zero", "one", "two", "three", "people ahead",
                            "Please take your ticket"]
    assert Pause(STOP_GAP_S) in en


def test_free_values_and_missing_values():
    plan = prompt_plan("service_chosen", "zh", {"service_zh": "社保业务"})
    assert words_of(plan) == ["您选择了", "社保业务"]
    missing = prompt_plan("ticket", "zh", {"number": "A012"})  # shown as the raw template: said as shown
    assert words_of(missing) == [for_espeak(prompt_text("ticket", "zh", {"number": "A012"}), "zh")]
    assert words_of(prompt_plan("no_such_key", "zh")) == words_of(prompt_plan("read_failed", "zh"))


def test_every_prompt_value_has_a_sample_and_fixed_words_cover_every_clause():
    for zh, en in PROMPTS.values():
        for template, language in ((zh, "zh"), (en, "en")):
            params = sample_params(template)
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            assert set(params) == fields
            template.format(**params)  # the samples fit the format specs
            fixed = set(fixed_words(language)) | set(token_words(language))
            plan = template_plan(template, language, params)
            literal = [w for w in plan if isinstance(w, Words) and w.text not in ("社保业务", "pension office")]
            assert all(w in fixed for w in literal), template


def test_samples_by_name():
    assert sample_params("{number} {people_ahead} {celsius:.1f} {service_zh} {service_en}") == {
        "number": "A012", "people_ahead": 3, "celsius": 37.8, "service_zh": "社保业务", "service_en": "pension office"}
