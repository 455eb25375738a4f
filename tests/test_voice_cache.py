"""The clip cache: warmed once, reused by the next speaker, damaged files rendered again and never played."""

from __future__ import annotations

import numpy as np
import pytest

import kiosk.voice_audio as voice_audio
import kiosk.voice_clips as voice_clips
from kiosk.prompts import PROMPTS
from kiosk.voice import Speaker, default_cache_dir
from kiosk.voice_audio import read_wav, to_wav
from kiosk.voice_clips import CHECK_CHUNK, ClipCache, warm, warm_words
from kiosk.voice_words import Words, sample_params

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def say_everything(speaker: Speaker) -> None:
    for key, (zh, en) in PROMPTS.items():
        speaker.say_prompt(key, "zh", sample_params(zh))
        speaker.say_prompt(key, "en", sample_params(en))
    speaker.call("B105", 12)
    speaker.call("C999", 7, "en", recall=True)
    assert speaker.wait_idle(120)


def test_a_second_speaker_renders_nothing_new(tmp_path):
    first = Speaker(player=None, cache_dir=tmp_path, warm_up=True)  # warms on its own thread
    assert first.wait_warm(120)
    say_everything(first)
    first.close()
    words = warm_words()
    assert first.warm_result == (len(words), len(words))  # an empty cache: every clip rendered once
    assert first.clips.renders > len(words)  # plus the chime and free-text values
    files = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert all(first.clips.path(w).name in files for w in words)
    assert not [n for n in files if n.endswith(".tmp")]  # atomic writes leave no temporary files

    second = Speaker(player=None, cache_dir=tmp_path, warm_up=True)
    assert second.wait_warm(120)
    say_everything(second)
    second.close()
    assert second.warm_result == (len(words), 0)
    assert second.clips.renders == 0 and second.clips.corrupt == 0
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    assert second.last_wav == first.last_wav  # the same sound, from the files


def test_a_damaged_clip_is_rendered_again_not_played(tmp_path):
    words = Words("请", "zh")
    good = ClipCache(tmp_path).get(words)
    path = ClipCache(tmp_path).path(words)
    noise = np.random.default_rng(1).integers(-30000, 30000, len(good)).astype(np.int16)
    path.write_bytes(to_wav(noise, {CHECK_CHUNK: b"\0" * 32}))  # a well-formed WAV whose checksum is wrong

    speaker = Speaker(volume=100, player=None, cache_dir=tmp_path, warm_up=False)
    speaker.call("A012", 3)
    assert speaker.wait_idle(30)
    speaker.close()
    assert speaker.clips.corrupt == 1
    played, _ = read_wav(speaker.last_wav)
    fresh = Speaker(volume=100, player=None, cache_dir=tmp_path / "fresh", warm_up=False)
    fresh.call("A012", 3)
    assert fresh.wait_idle(30)
    fresh.close()
    assert np.array_equal(played, read_wav(fresh.last_wav)[0])  # the clip as espeak-ng says it, not the noise
    again = ClipCache(tmp_path)
    assert np.array_equal(again.get(words), good) and again.renders == 0  # the file was mended


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"not a wav at all", lambda b: b""])
def test_truncated_or_foreign_files_are_rendered_again(tmp_path, damage):
    words = Words("七", "zh")
    ClipCache(tmp_path).get(words)
    path = ClipCache(tmp_path).path(words)
    path.write_bytes(damage(path.read_bytes()))
    cache = ClipCache(tmp_path)
    assert len(cache.get(words)) > 1000
    assert cache.renders == 1 and cache.corrupt == 1


def test_a_new_espeak_renders_afresh(tmp_path, monkeypatch):
    cache = ClipCache(tmp_path)
    words = Words("号", "zh")
    cache.get(words)
    old = cache.path(words)
    monkeypatch.setattr(voice_clips, "espeak_version", lambda: "eSpeak NG text-to-speech: 9.99")
    assert cache.path(words) != old
    fresh = ClipCache(tmp_path)
    fresh.get(words)
    assert fresh.renders == 1


def test_the_key_names_voice_rate_and_processing(tmp_path, monkeypatch):
    cache = ClipCache(tmp_path)
    words = Words("请选择您要办理的业务", "zh")
    before = cache.path(words)
    monkeypatch.setitem(voice_clips.WORDS_PER_MINUTE, "zh", 120)
    slower = cache.path(words)
    monkeypatch.setitem(voice_clips.VOICES, "zh", "cmn")
    other_voice = cache.path(words)
    monkeypatch.setattr(voice_audio, "TARGET_RMS_DBFS", -20.0)
    assert len({before, slower, other_voice, cache.path(words)}) == 4


def test_warm_stops_when_asked(tmp_path):
    import threading

    stop = threading.Event()
    stop.set()
    checked, rendered = warm(ClipCache(tmp_path), stop)
    assert (checked, rendered) == (0, 0)
    files = [p.name for p in tmp_path.iterdir()]
    assert len(files) == 1 and files[0].startswith("chime-")  # only the chime, made before the first check


def test_the_cache_directory_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LINFEN_VOICE_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("LINFEN_VOICE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "linfen" / "voice"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "linfen" / "voice"


def test_an_unwritable_cache_still_speaks(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    cache = ClipCache(blocker / "voice")
    assert len(cache.get(Words("八", "zh"))) > 1000
    assert cache.renders == 1


def test_warming_from_the_command_line(tmp_path, capsys):
    from kiosk.voice import main

    assert main(["--warm", "--cache-dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert main(["--warm", "--cache-dir", str(tmp_path), "--say", "请 A012 号", "--out", str(tmp_path / "x.wav")]) == 0
    second = capsys.readouterr().out
    n = len(warm_words())
    assert f"{n} clips checked, {n} rendered" in first
    assert f"{n} clips checked, 0 rendered" in second
    assert (tmp_path / "x.wav").stat().st_size > 20000
