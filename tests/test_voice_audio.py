"""Sound handling for the voice: WAV round trips and checks, trimming, normalising, gain, the chime."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.voice_audio import (
    CHIME_S,
    SAMPLE_RATE,
    TARGET_RMS_DBFS,
    apply_gain,
    chime,
    dbfs,
    fix_stream_header,
    normalise,
    read_wav,
    rms,
    silence,
    to_wav,
    trim,
    wav_stats,
)

pytestmark = pytest.mark.unit


def tone(freq: float, seconds: float, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def test_wav_round_trip_with_extra_chunk():
    sound = tone(440, 0.3)
    data = to_wav(sound, {b"lfck": b"x" * 32})
    back, chunks = read_wav(data, strict=True)
    assert np.array_equal(back, sound) and chunks[b"lfck"] == b"x" * 32
    assert wav_stats(data).duration_s == pytest.approx(0.3, abs=1e-3)


def test_strict_reading_refuses_damage_and_other_formats():
    data = to_wav(tone(440, 0.1))
    for bad in (data[:-10], data[:30], b"RIFF" + data[4:8] + b"AVI " + data[12:]):
        with pytest.raises(ValueError):
            read_wav(bad, strict=True)
    stereo = bytearray(data)
    stereo[22:24] = (2).to_bytes(2, "little")
    with pytest.raises(ValueError, match="mono 16-bit"):
        read_wav(bytes(stereo))


def test_streamed_sizes_are_read_to_the_end():
    data = bytearray(to_wav(tone(440, 0.2)))
    data[4:8] = data[40:44] = (0x7FFFF000).to_bytes(4, "little")  # as espeak-ng --stdout writes them
    samples, _ = read_wav(bytes(data))
    assert len(samples) == round(0.2 * SAMPLE_RATE)
    assert wav_stats(bytes(data)).duration_s == pytest.approx(0.2, abs=1e-3)
    assert int.from_bytes(fix_stream_header(bytes(data))[40:44], "little") == len(samples) * 2


def test_trim_keeps_the_sound_and_a_short_pad():
    sound = np.concatenate([silence(0.5), tone(300, 0.4), silence(0.7)])
    trimmed = trim(sound)
    assert 0.4 <= len(trimmed) / SAMPLE_RATE < 0.45
    assert len(trim(silence(1.0))) == 0


def test_normalise_and_gain():
    quiet = tone(300, 0.5, amplitude=500)
    level = rms(normalise(quiet))
    assert 20 * np.log10(level / dbfs(TARGET_RMS_DBFS)) == pytest.approx(0, abs=0.1)
    assert 20 * np.log10(rms(apply_gain(normalise(quiet), -15)) / level) == pytest.approx(-15, abs=0.05)
    spiky = np.zeros(SAMPLE_RATE, dtype=np.int16)
    spiky[100] = 1000  # a lone click cannot be raised past the peak limit
    assert np.max(np.abs(normalise(spiky).astype(int))) <= dbfs(-1.0) + 1


def test_the_chime_is_two_tones_falling():
    sound = chime().astype(float)
    assert len(sound) / SAMPLE_RATE == pytest.approx(CHIME_S, abs=0.01)

    def main_freq(part: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
        return float(np.fft.rfftfreq(len(part), 1 / SAMPLE_RATE)[np.argmax(spectrum)])

    half = len(sound) // 2
    assert main_freq(sound[:round(0.25 * SAMPLE_RATE)]) == pytest.approx(659, abs=10)
    assert main_freq(sound[half:]) == pytest.approx(523, abs=10)
    assert abs(sound[-1]) < 200  # fades out, no click
