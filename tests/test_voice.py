"""Offline voice: a call renders to a non-silent WAV of plausible length, said twice."""

from __future__ import annotations

import pytest

from kiosk.voice import Speaker, call_text, render_wav, spell_ticket, wav_stats

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_ticket_numbers_are_spelled_digit_by_digit():
    assert spell_ticket("A012") == "A零一二"
    assert call_text("A012", 3) == "请 A零一二 号，到 3 号窗口"
    assert call_text("B105", 12, "en") == "Number B 1 0 5, please go to window 12"


def test_a_call_renders_to_speech_of_plausible_length(tmp_path):
    wav = render_wav(call_text("A012", 3), "zh", volume=80)
    (tmp_path / "call.wav").write_bytes(wav)
    stats = wav_stats(wav)
    assert 1.5 < stats.duration_s < 8.0  # about a dozen syllables
    assert stats.rms > 500 and stats.peak > 5000  # speech, not silence


def test_volume_scales_loudness():
    quiet = wav_stats(render_wav("请取号", "zh", volume=20))
    loud = wav_stats(render_wav("请取号", "zh", volume=100))
    assert loud.rms > 2 * quiet.rms


def test_english_voice_works():
    assert wav_stats(render_wav(call_text("A012", 3, "en"), "en")).duration_s > 1.0


def test_speaker_says_calls_twice_and_keeps_history():
    speaker = Speaker(volume=50, player=None)  # no audio device on a test machine: render only
    speaker.say(call_text("A012", 3), repeat=2)
    assert speaker.wait_idle(20)
    assert list(speaker.history) == [call_text("A012", 3)] * 2
    assert speaker.last_error == ""
    speaker.close()
