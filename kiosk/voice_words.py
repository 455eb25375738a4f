"""What the voice says, as a plan of clips: fixed words, spelled numbers and pauses.

A prompt template (``kiosk.prompts.PROMPTS``) is cut at its placeholders and its punctuation: the
fixed clauses become :class:`Words` clips rendered once, the values become token clips (a ticket
number letter and digit by digit, counts as Chinese numerals, 37.8 as 三十七点八, English words
for English), and punctuation becomes a :class:`Pause`.  Free text is one :class:`Words` clip.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from kiosk.prompts import PROMPTS, prompt_text

DIGITS_ZH = "零一二三四五六七八九"
UNITS_ZH = ("", "十", "百", "千")
ONES_EN = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
           "sixteen seventeen eighteen nineteen").split()
TENS_EN = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
LETTERS = string.ascii_uppercase
TOKEN_GAP_S = 0.015  # between the letters and digits of one number
WORD_GAP_S = 0.03  # between clips with no punctuation between them
COMMA_GAP_S = 0.16  # at ，、；：,;:
STOP_GAP_S = 0.3  # at 。！？.!?
COMMA_MARKS = "，、；：,;:"
STOP_MARKS = "。！？.!?"
CALL_TEMPLATES = {"zh": "请 {number} 号，到 {window} 号窗口", "en": "Number {number}, please go to window {window}"}
RECALL_TEMPLATES = {"zh": "再次呼叫，请 {number} 号，到 {window} 号窗口",
                    "en": "Calling again: number {number}, window {window}"}
_TICKET = re.compile(r"[A-Za-z]{1,3}\d+")
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d+\.\d+")
_NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z\d])-?\d+(?:\.\d+)?")
_MARKS = re.compile(f"([{re.escape(COMMA_MARKS + STOP_MARKS)}]+)")


@dataclass(frozen=True)
class Words:
    """One clip of speech: ``text`` as sent to espeak-ng in ``language`` ('zh' or 'en')."""

    text: str
    language: str


@dataclass(frozen=True)
class Pause:
    """Silence between clips, in seconds."""

    seconds: float


Plan = list[Words | Pause]


def speech_language(language: str) -> str:
    """'zh' for Chinese, 'en' for anything else (as :func:`kiosk.prompts.prompt_text` chooses)."""
    return "zh" if language == "zh" else "en"


def spell_ticket(number: str, language: str = "zh") -> str:
    """A ticket number as it is called out: 'A012' → 'A零一二' (digit by digit, as halls do)."""
    if language != "zh":
        return " ".join(number)
    return "".join(DIGITS_ZH[int(c)] if c.isdigit() else c for c in number)


def call_text(number: str, window: int, language: str = "zh") -> str:
    """The sentence for a call: '请 A零一二 号，到 3 号窗口'."""
    lang = speech_language(language)
    return CALL_TEMPLATES[lang].format(number=spell_ticket(number, lang), window=window)


def recall_text(number: str, window: int, language: str = "zh") -> str:
    """The sentence for a recall: '再次呼叫，请 A零一二 号，到 3 号窗口'."""
    lang = speech_language(language)
    return RECALL_TEMPLATES[lang].format(number=spell_ticket(number, lang), window=window)


def chinese_numeral(n: int) -> str:
    """An integer in Chinese numerals: 12 → 十二, 105 → 一百零五, 10010 → 一万零一十; past 10⁸ digit by digit."""
    if n < 0:
        return "负" + chinese_numeral(-n)
    if n >= 10 ** 8:
        return "".join(DIGITS_ZH[int(c)] for c in str(n))
    if n >= 10 ** 4:
        high, low = divmod(n, 10 ** 4)
        return chinese_numeral(high) + "万" + ("" if low == 0 else ("零" if low < 1000 else "") + _below_10k(low))
    if n == 0:
        return "零"
    text = _below_10k(n)
    return text[1:] if text.startswith("一十") else text  # 十二, not 一十二


def _below_10k(n: int) -> str:
    out, zero = "", False
    for power in (3, 2, 1, 0):
        digit = n // 10 ** power % 10
        if digit == 0:
            zero = bool(out)
            continue
        out += ("零" if zero else "") + DIGITS_ZH[digit] + UNITS_ZH[power]
        zero = False
    return out


def english_number(n: int) -> str:
    """An integer in English words: 12 → 'twelve', 105 → 'one hundred five'; past a million digit by digit."""
    if n < 0:
        return "minus " + english_number(-n)
    if n >= 10 ** 6:
        return " ".join(ONES_EN[int(c)] for c in str(n))
    if n >= 1000:
        high, low = divmod(n, 1000)
        return english_number(high) + " thousand" + ("" if low == 0 else " " + english_number(low))
    if n >= 100:
        high, low = divmod(n, 100)
        return ONES_EN[high] + " hundred" + ("" if low == 0 else " " + english_number(low))
    if n >= 20:
        return TENS_EN[n // 10] + ("" if n % 10 == 0 else " " + ONES_EN[n % 10])
    return ONES_EN[n]


def spoken_number(text: str, language: str) -> str:
    """'37.8' or '-3' read out in words: 三十七点八, 'thirty seven point eight'."""
    whole, _, fraction = text.partition(".")
    if language == "zh":
        return chinese_numeral(int(whole)) + ("点" + spell_ticket(fraction) if fraction else "")
    return english_number(int(whole)) + (" point " + " ".join(ONES_EN[int(c)] for c in fraction) if fraction else "")


def for_espeak(text: str, language: str) -> str:
    """Free text made speakable: °C said as 度 / degrees, numbers as words, tickets spelled, 张*明 as 张某明 (Chinese)."""
    if language == "zh":
        text = text.replace("°C", "度").replace("℃", "度").replace("°", "度")
        text = re.sub(r"(?<=[\u4e00-\u9fff])\*+", "某", text)  # a masked name 张*明 is said 张某明
        text = re.sub(r"(?<![A-Za-z])[A-Z]{1,3}\d+\b", lambda m: spell_ticket(m.group()), text)
    else:
        text = re.sub(r"\s*(°C|℃|°)", " degrees", text)
    return _NUMBER_IN_TEXT.sub(lambda m: spoken_number(m.group(), language), text)


def tokens(text: str, language: str) -> Plan:
    """Clips of single letters, digits and numeral words spoken one after another."""
    units = list(text) if language == "zh" else text.split()
    plan: Plan = []
    for unit in units:
        if plan:
            plan.append(Pause(TOKEN_GAP_S))
        plan.append(Words(unit, language))
    return plan


def value_plan(name: str, value: Any, formatted: str, language: str) -> Plan:
    """How a placeholder's value is said: a ticket spelled, a number in words, or free text."""
    if isinstance(value, str) and (_TICKET.fullmatch(formatted) or (name == "number" and formatted.isdigit())):
        spelled = spell_ticket(formatted.upper(), language)
        return tokens(spelled if language == "zh" else " ".join(
            c if c.isalpha() else ONES_EN[int(c)] for c in spelled.split()), language)
    if not isinstance(value, bool) and (_INTEGER.fullmatch(formatted) or _DECIMAL.fullmatch(formatted)):
        return tokens(spoken_number(formatted, language), language)
    return free_plan(formatted, language)


def free_plan(text: str, language: str) -> Plan:
    """Free text as one clip (nothing when there is nothing to say)."""
    speakable = for_espeak(text, language).strip()
    return [Words(speakable, language)] if speakable.strip(COMMA_MARKS + STOP_MARKS + " ") else []


def literal_plan(text: str, language: str) -> Plan:
    """Fixed words of a template, cut into clauses at punctuation with a pause for each mark."""
    plan: Plan = []
    for part in _MARKS.split(text):
        if not part.strip():
            continue
        if part[0] in COMMA_MARKS + STOP_MARKS:
            plan.append(Pause(STOP_GAP_S if any(c in STOP_MARKS for c in part) else COMMA_GAP_S))
        else:
            plan.append(Words(for_espeak(part, language).strip(), language))
    return plan


def template_plan(template: str, language: str, params: dict[str, Any] | None = None) -> Plan:
    """The plan of a format template; without ``params`` only its fixed words (for warming the cache).

    Raises KeyError, ValueError, TypeError or IndexError when ``params`` do not fit the template.
    """
    plan: Plan = []
    formatter = string.Formatter()
    for literal, field, spec, conversion in formatter.parse(template):
        plan += literal_plan(literal, language)
        if field is None or params is None:
            continue
        value, _ = formatter.get_field(field, (), params)
        formatted = formatter.format_field(formatter.convert_field(value, conversion), spec or "")
        plan += value_plan(field, value, formatted, language)
    return _with_gaps(plan)


def _with_gaps(plan: Plan) -> Plan:
    """Merge pauses that meet and put a word gap between clips that touch."""
    out: Plan = []
    for piece in plan:
        if isinstance(piece, Pause) and not out:
            continue
        if out and isinstance(piece, Pause) and isinstance(out[-1], Pause):
            out[-1] = Pause(max(out[-1].seconds, piece.seconds))
        elif out and isinstance(piece, Words) and isinstance(out[-1], Words):
            out += [Pause(WORD_GAP_S), piece]
        else:
            out.append(piece)
    while out and isinstance(out[-1], Pause):
        out.pop()
    return out


def prompt_plan(key: str, language: str = "zh", params: dict[str, Any] | None = None) -> Plan:
    """The clips of a prompt, saying what :func:`kiosk.prompts.prompt_text` shows."""
    lang = speech_language(language)
    pair = PROMPTS.get(key) or PROMPTS["read_failed"]
    try:
        return template_plan(pair[0] if lang == "zh" else pair[1], lang, params or {})
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return free_plan(prompt_text(key, language, params), lang)  # the words shown, as one clip


def call_plan(number: str, window: int, language: str = "zh", recall: bool = False) -> Plan:
    """The clips of a call's words (the chime goes before, see :mod:`kiosk.voice`)."""
    lang = speech_language(language)
    templates = RECALL_TEMPLATES if recall else CALL_TEMPLATES
    return template_plan(templates[lang], lang, {"number": number, "window": window})


def token_words(language: str) -> list[Words]:
    """Every letter, digit and numeral-word clip a value can be spoken with."""
    if language == "zh":
        units = list(LETTERS) + list(DIGITS_ZH) + list("十百千万点负")
    else:
        units = list(LETTERS) + ONES_EN + TENS_EN[2:] + ["hundred", "thousand", "point", "minus"]
    return [Words(u, language) for u in units]


def fixed_words(language: str) -> list[Words]:
    """Every fixed clip of every prompt and of the call and recall sentences, for warming the cache."""
    index = 0 if language == "zh" else 1
    templates = [pair[index] for pair in PROMPTS.values()] + [CALL_TEMPLATES[language], RECALL_TEMPLATES[language]]
    seen: dict[Words, None] = {}
    for template in templates:
        for piece in template_plan(template, language):
            if isinstance(piece, Words):
                seen[piece] = None
    return list(seen)


def sample_params(template: str) -> dict[str, Any]:
    """Plausible values for a template's placeholders, by name (tests, bench): number 'A012', 3 people, 37.8 °C."""
    params: dict[str, Any] = {}
    for _, field, spec, _ in string.Formatter().parse(template):
        if not field:
            continue
        if field == "number":
            params[field] = "A012"
        elif field == "celsius" or (spec or "").endswith(("f", "e", "g", "%")):
            params[field] = 37.8
        elif field in ("people_ahead", "seconds", "window", "count") or (spec or "").endswith("d"):
            params[field] = 3 if field != "seconds" else 10
        else:
            params[field] = "pension office" if field.endswith("_en") else "社保业务"
    return params
