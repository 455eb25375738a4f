"""Spoken Mandarin is Mandarin: no text sent to espeak-ng switches to English; every prompt is heard; calls fit in 4 s.

The phoneme check runs espeak-ng itself (``-q -x``): its ``(en)`` marks a word read with English rules,
which the 'cmn' voice does for Latin letters and more.  Prompts are taken from ``kiosk.prompts.PROMPTS``
when the test runs, so new prompts are covered without touching this file.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from kiosk.prompts import PROMPTS, prompt_text
from kiosk.voice import Speaker, call_sound, call_text, recall_text, render_plan, wav_stats
from kiosk.voice_clips import VOICES, ClipCache, warm_words
from kiosk.voice_words import Words, call_plan, for_espeak, prompt_plan, sample_params

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NUMBERS = ("A012", "B105", "C999")
CALL_LIMIT_S = 4.0  # DESIGN §8: a chime, then the words, in at most 4 s


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return ClipCache(tmp_path_factory.mktemp("voice-cache"))


def chinese_texts() -> set[str]:
    """Every text the voice would send to espeak-ng in Chinese: clips of prompts, calls, tokens and free text."""
    texts = {w.text for w in warm_words() if w.language == "zh"}
    for key, (zh, _) in PROMPTS.items():
        params = sample_params(zh)
        texts |= {p.text for p in prompt_plan(key, "zh", params) if isinstance(p, Words)}
        texts.add(for_espeak(prompt_text(key, "zh", params), "zh"))  # said as free text
    for number in NUMBERS:
        for window in (3, 12, 23):
            for recall in (False, True):
                texts |= {p.text for p in call_plan(number, window, "zh", recall) if isinstance(p, Words)}
            texts |= {for_espeak(call_text(number, window), "zh"), for_espeak(recall_text(number, window), "zh")}
    return texts


def english_switches(text: str, voice: str) -> bool:
    out = subprocess.run(["espeak-ng", "-q", "-x", "-b", "1", "-v", voice, "--stdin"], input=text.encode(),
                         capture_output=True, timeout=10, check=True)
    return "(en)" in out.stdout.decode()


def test_no_chinese_text_is_read_as_english():
    texts = chinese_texts()
    assert len(texts) > 80  # prompts' clauses, letters, digits, numerals, calls
    assert "A" in texts and "请" in texts and "号窗口" in texts
    assert [t for t in sorted(texts) if english_switches(t, VOICES["zh"])] == []


def test_ticket_numbers_and_values_are_said_in_chinese_words():
    plan = prompt_plan("refused_fever", "zh", {"celsius": 37.8})
    assert [p.text for p in plan if isinstance(p, Words)][:6] == ["体温", "三", "十", "七", "点", "八"]
    said = [p.text for p in call_plan("B105", 12) if isinstance(p, Words)]
    assert said == ["请", "B", "一", "零", "五", "号", "到", "十", "二", "号窗口"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_prompt_is_heard(cache, language):
    index = 0 if language == "zh" else 1
    for key, pair in PROMPTS.items():
        sound = render_plan(prompt_plan(key, language, sample_params(pair[index])), cache)
        level = float(np.sqrt(np.mean(sound.astype(float) ** 2))) if len(sound) else 0.0
        assert len(sound) / 22050 > 0.5, key
        assert level > 1000, key  # normalised speech (about 4000) with its pauses, not silence


@pytest.mark.parametrize("number", NUMBERS)
def test_a_call_with_its_chime_fits_in_four_seconds(cache, number):
    speaker = Speaker(volume=80, player=None, cache_dir=cache.directory, warm_up=False)
    speaker.call(number, 12)
    assert speaker.wait_idle(30)
    played = speaker.last_wav
    speaker.close()
    duration = wav_stats(played).duration_s
    assert 2.0 < duration <= CALL_LIMIT_S
    assert duration == pytest.approx(len(call_sound(cache, number, 12)) / 22050)


def test_english_calls_and_recalls_are_spoken(cache):
    for recall in (False, True):
        sound = call_sound(cache, "C999", 12, "en", recall)
        assert 2.0 < len(sound) / 22050 < 12.0
