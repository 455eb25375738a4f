"""Offline voice: words of calls and recalls, real espeak-ng speech, a call said once after a chime, a recall twice."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.prompts import PROMPTS, prompt_text
from kiosk.voice import (
    Speaker,
    VoiceError,
    call_text,
    gain_db,
    recall_text,
    render_wav,
    spell_ticket,
    wav_stats,
)
from kiosk.voice_audio import apply_gain, read_wav
from kiosk.voice_words import sample_params

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("voice-cache")


@pytest.fixture
def speaker(cache_dir):
    s = Speaker(volume=100, player=None, cache_dir=cache_dir, warm_up=False)  # render only: no audio device
    yield s
    s.close()


def test_ticket_numbers_are_spelled_digit_by_digit():
    assert spell_ticket("A012") == "A零一二"
    assert call_text("A012", 3) == "请 A零一二 号，到 3 号窗口"
    assert call_text("B105", 12, "en") == "Number B 1 0 5, please go to window 12"
    assert recall_text("A012", 3) == "再次呼叫，请 A零一二 号，到 3 号窗口"
    assert recall_text("A012", 3, "en") == "Calling again: number A 0 1 2, window 3"


def test_a_call_renders_to_speech_of_plausible_length():
    stats = wav_stats(render_wav(call_text("A012", 3), "zh", volume=100))
    assert 1.5 < stats.duration_s < 6.0  # about a dozen syllables
    assert stats.rms > 1000 and stats.peak > 5000  # speech, not silence


def test_render_wav_volume_is_a_gain_in_db():
    quiet = wav_stats(render_wav("请取号", "zh", volume=40))
    loud = wav_stats(render_wav("请取号", "zh", volume=100))
    measured_db = 20 * np.log10(loud.rms / quiet.rms)
    assert measured_db == pytest.approx(gain_db(100) - gain_db(40), abs=0.5)


def test_english_voice_works():
    assert wav_stats(render_wav(call_text("A012", 3, "en"), "en")).duration_s > 1.0


def test_a_call_is_a_chime_then_the_words_once(speaker):
    speaker.call("A012", 3)
    assert speaker.wait_idle(30)
    assert list(speaker.history) == [call_text("A012", 3)]
    assert speaker.last_error == ""
    played, _ = read_wav(speaker.last_wav)
    chime = speaker.clips.chime()
    assert np.array_equal(played[:len(chime)], apply_gain(chime, gain_db(100)))  # the chime comes first
    words = played[len(chime):]
    assert np.sqrt(np.mean(words.astype(float) ** 2)) > 1000  # then speech
    assert speaker.last_clip_s == pytest.approx(len(played) / 22050)


def test_a_recall_says_its_words_twice(speaker):
    speaker.call("A012", 3)
    assert speaker.wait_idle(30)
    once = speaker.last_clip_s
    speaker.call("A012", 3, recall=True)
    assert speaker.wait_idle(30)
    assert list(speaker.history) == [call_text("A012", 3)] + [recall_text("A012", 3)] * 2
    assert speaker.last_clip_s > 2 * once - 1.0  # two sayings of longer words after one chime


def test_said_texts_repeat_and_are_kept(speaker):
    speaker.say("请到服务台", repeat=2)
    speaker.say("Thank you", "en")
    assert speaker.wait_idle(30)
    assert list(speaker.history) == ["请到服务台", "请到服务台", "Thank you"]
    assert speaker.last_clip_s > 0.3


def test_prompts_are_kept_in_the_words_shown(speaker):
    for key, (zh, en) in PROMPTS.items():
        speaker.say_prompt(key, "zh", sample_params(zh))
        speaker.say_prompt(key, "en", sample_params(en))
    speaker.say_prompt("no_such_prompt", "zh")
    speaker.say_prompt("ticket", "zh", {"number": "A012"})  # a value missing: the template's words, as shown
    assert speaker.wait_idle(60)
    expected = [prompt_text(k, lang, sample_params(pair[i])) for k, pair in PROMPTS.items()
                for i, lang in enumerate(("zh", "en"))]
    expected += [prompt_text("no_such_prompt", "zh"), prompt_text("ticket", "zh", {"number": "A012"})]
    assert list(speaker.history) == expected
    assert speaker.last_error == ""


def test_a_disabled_speaker_says_nothing(cache_dir):
    speaker = Speaker(False, 80, player=None, cache_dir=cache_dir, warm_up=False)
    speaker.call("A012", 3)
    speaker.say_prompt("idle")
    assert speaker.wait_idle(10)
    assert list(speaker.history) == [] and speaker.last_wav == b""
    speaker.close()


def test_without_espeak_the_words_are_kept_and_the_error_said(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng (and no player) on this PATH
    speaker = Speaker(True, 80, player=None, cache_dir=tmp_path / "cache", warm_up=False)
    speaker.say_prompt("idle")
    assert speaker.wait_idle(10)
    assert list(speaker.history) == [prompt_text("idle")]
    assert "espeak-ng is not installed" in speaker.last_error
    with pytest.raises(VoiceError):
        render_wav("请取号")
    speaker.close()
