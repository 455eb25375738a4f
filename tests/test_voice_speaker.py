"""The speaker's controls: volume as a gain in dB with a floor, cancel() that stops speech, a real player process."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from kiosk.prompts import prompt_text
from kiosk.voice import MIN_VOLUME, Speaker, call_text, gain_db
from kiosk.voice_audio import read_wav, rms

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("voice-cache")


def loudness_db(speaker: Speaker, volume: int) -> float:
    speaker.volume = volume
    speaker.say_prompt("measuring")
    assert speaker.wait_idle(30)
    return 20 * np.log10(rms(read_wav(speaker.last_wav)[0]))


def test_the_volume_curve():
    assert gain_db(100) == 0.0
    assert gain_db(50) == pytest.approx(-15.0)
    assert gain_db(90) - gain_db(80) == pytest.approx(3.0)  # every 10 % is 3 dB, all the way down
    assert gain_db(0) == gain_db(MIN_VOLUME) == gain_db(-20)  # the floor
    assert gain_db(150) == 0.0
    assert MIN_VOLUME == 30


def test_louder_at_100_than_at_50_by_the_curve(cache_dir):
    speaker = Speaker(player=None, cache_dir=cache_dir, warm_up=False)
    loud, half = loudness_db(speaker, 100), loudness_db(speaker, 50)
    floor, zero = loudness_db(speaker, MIN_VOLUME), loudness_db(speaker, 0)
    speaker.close()
    assert loud - half == pytest.approx(gain_db(100) - gain_db(50), abs=0.3)
    assert loud - floor == pytest.approx(-gain_db(MIN_VOLUME), abs=0.3)
    assert zero == pytest.approx(floor, abs=0.05)  # 0 % speaks at the floor, audibly
    assert loud > 20 * np.log10(3000)  # full volume is properly loud (about -18 dBFS RMS speech)


def test_the_volume_is_held_to_floor_and_ceiling(cache_dir):
    speaker = Speaker(True, 0, player=None, cache_dir=cache_dir, warm_up=False)
    assert speaker.volume == MIN_VOLUME
    speaker.volume = 150
    assert speaker.volume == 100
    speaker.volume = 10
    assert speaker.volume == MIN_VOLUME
    speaker.volume = 65
    assert speaker.volume == 65
    speaker.close()


def slow_player(tmp_path) -> list[str]:
    """A real player process that takes the WAV, notes it, and plays for a minute (unless killed)."""
    script = ("import pathlib, sys, time; data = sys.stdin.buffer.read(); "
              f"d = pathlib.Path({str(tmp_path)!r}); n = len(list(d.glob('*.wav'))); "
              "(d / f'{n}.wav').write_bytes(data); time.sleep(60)")
    return [sys.executable, "-c", script]


def wait_for(condition, timeout_s: float = 20.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return True
        done.wait(0.05)
    return condition()


def test_cancel_drops_queued_speech_and_stops_the_player(tmp_path, cache_dir):
    speaker = Speaker(volume=80, player=slow_player(tmp_path), cache_dir=cache_dir, warm_up=False)
    speaker.say_prompt("idle")
    speaker.say_prompt("measuring")  # queued behind the first, which plays for a minute
    speaker.call("A012", 3)
    assert wait_for(lambda: len(list(tmp_path.glob("*.wav"))) == 1)  # the player has the first prompt
    speaker.cancel()
    assert speaker.wait_idle(8)  # far less than the player's minute: it was killed
    assert list(speaker.history) == [prompt_text("idle")]
    assert (tmp_path / "0.wav").read_bytes() == speaker.last_wav
    assert speaker.last_error == ""  # a cancelled player is no failure

    speaker.call("B105", 12)  # speech after cancel() is spoken again
    assert wait_for(lambda: len(list(tmp_path.glob("*.wav"))) == 2)
    assert list(speaker.history) == [prompt_text("idle"), call_text("B105", 12)]
    speaker.cancel()
    speaker.close()


def test_a_failing_player_is_reported(tmp_path, cache_dir):
    failing = [sys.executable, "-c", "import sys; sys.stdin.buffer.read(); sys.stderr.write('no device'); sys.exit(3)"]
    speaker = Speaker(player=failing, cache_dir=cache_dir, warm_up=False)
    assert speaker.audio_output
    speaker.say_prompt("printing")
    assert speaker.wait_idle(30)
    speaker.close()
    assert "player failed (3): no device" in speaker.last_error
    assert list(speaker.history) == [prompt_text("printing")]


def test_a_missing_player_is_reported(tmp_path, cache_dir):
    speaker = Speaker(player=[str(tmp_path / "no-such-player")], cache_dir=cache_dir, warm_up=False)
    speaker.say_prompt("printing")
    assert speaker.wait_idle(30)
    speaker.close()
    assert speaker.last_error.startswith("player failed")


def test_speaking_does_not_wait_for_warming(tmp_path):
    speaker = Speaker(player=None, cache_dir=tmp_path, warm_up=True)
    speaker.say_prompt("ticket", "zh", {"number": "A012", "people_ahead": 3})  # while the cache warms
    assert speaker.wait_idle(60)
    assert speaker.last_clip_s > 2.0
    assert speaker.wait_warm(120)
    speaker.close()
    assert speaker.warm_result is not None and speaker.warm_result[0] > 100
