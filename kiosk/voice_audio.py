"""PCM sound for the voice: WAV in and out, trimming, normalising, gain by volume, joining, the chime.

Every clip is mono 16-bit PCM at :data:`SAMPLE_RATE` (what espeak-ng writes), held as a numpy
``int16`` array.  Clips are stored normalised (speech to :data:`TARGET_RMS_DBFS`, peaks under
:data:`PEAK_LIMIT_DBFS`); the speaker's volume is applied once, as a gain in dB, to what is played.
"""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22050  # Hz, espeak-ng's output rate
MIN_VOLUME = 30  # percent: the quietest the kiosk speaks (only ``[voice] enabled = false`` silences it)
DB_PER_PERCENT = 0.3  # -3 dB for every 10 % below 100 %: 100 % = 0 dB, 50 % = -15 dB, 30 % = -21 dB
TARGET_RMS_DBFS = -18.0  # loudness each speech clip is normalised to
PEAK_LIMIT_DBFS = -1.0  # no clip peaks above this after normalising
SILENCE_DBFS = -45.0  # below this (and below 3 % of the clip's peak) a clip's ends count as silence
TRIM_PAD_S = (0.005, 0.012)  # silence kept before and after the sound when trimming, in seconds
CHIME_S = 0.65  # length of the ding-dong
CHIME_PEAK_DBFS = -5.0
FULL_SCALE = 32767.0


def dbfs(level_db: float) -> float:
    """A level in dB relative to full scale as a 16-bit sample amplitude."""
    return FULL_SCALE * 10 ** (level_db / 20)


def gain_db(volume: float) -> float:
    """The gain for a volume in percent: 100 % is 0 dB, -3 dB per 10 % below, never under :data:`MIN_VOLUME`."""
    return (clamp_volume(volume) - 100) * DB_PER_PERCENT


def clamp_volume(volume: float) -> int:
    """A volume in percent held to [:data:`MIN_VOLUME`, 100]."""
    return int(round(max(MIN_VOLUME, min(100, volume))))


def silence(seconds: float) -> np.ndarray:
    """``seconds`` of silence."""
    return np.zeros(max(0, round(seconds * SAMPLE_RATE)), dtype=np.int16)


def duration_s(samples: np.ndarray) -> float:
    """Length of a clip in seconds."""
    return len(samples) / SAMPLE_RATE


def rms(samples: np.ndarray) -> float:
    """Root mean square of a clip (0 for an empty clip)."""
    if len(samples) == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def trim(samples: np.ndarray) -> np.ndarray:
    """The clip with its leading and trailing silence cut down to a short pad (empty if all silent)."""
    if len(samples) == 0:
        return samples
    level = np.abs(samples.astype(np.int32))
    threshold = max(dbfs(SILENCE_DBFS), 0.03 * int(level.max()))
    loud = np.flatnonzero(level > threshold)
    if len(loud) == 0:
        return samples[:0]
    start = max(0, int(loud[0]) - round(TRIM_PAD_S[0] * SAMPLE_RATE))
    end = min(len(samples), int(loud[-1]) + 1 + round(TRIM_PAD_S[1] * SAMPLE_RATE))
    return samples[start:end]


def normalise(samples: np.ndarray, target_rms_dbfs: float = TARGET_RMS_DBFS,
              peak_dbfs: float = PEAK_LIMIT_DBFS) -> np.ndarray:
    """The clip scaled to the target RMS, or less if its peak would pass ``peak_dbfs``."""
    level = rms(samples)
    if level == 0.0:
        return samples
    peak = float(np.max(np.abs(samples.astype(np.int32))))
    factor = min(dbfs(target_rms_dbfs) / level, dbfs(peak_dbfs) / peak)
    return _to_int16(samples.astype(np.float64) * factor)


def apply_gain(samples: np.ndarray, db: float) -> np.ndarray:
    """The clip made ``db`` louder (negative: quieter)."""
    if db == 0.0:
        return samples
    return _to_int16(samples.astype(np.float64) * 10 ** (db / 20))


def join(parts: list[np.ndarray]) -> np.ndarray:
    """Clips and silences one after another."""
    return np.concatenate(parts).astype(np.int16) if parts else silence(0)


def chime() -> np.ndarray:
    """A two-tone 'ding-dong' (E5 then C5, bell-like decay), :data:`CHIME_S` long."""
    t = np.arange(round(CHIME_S * SAMPLE_RATE)) / SAMPLE_RATE
    sound = np.zeros_like(t)
    for freq, start, decay_s in ((659.25, 0.0, 0.22), (523.25, 0.27, 0.3)):
        local = t - start
        on = local >= 0
        envelope = np.exp(-np.where(on, local, 0) / decay_s) * np.minimum(1.0, np.where(on, local, 0) / 0.005)
        tone = np.sin(2 * math.pi * freq * local) + 0.35 * np.sin(4 * math.pi * freq * local)
        sound += np.where(on, tone * envelope, 0.0)
    fade = round(0.04 * SAMPLE_RATE)
    sound[-fade:] *= np.linspace(1.0, 0.0, fade)
    return _to_int16(sound / np.max(np.abs(sound)) * dbfs(CHIME_PEAK_DBFS))


def _to_int16(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), -32768, 32767).astype(np.int16)


def to_wav(samples: np.ndarray, extra_chunks: dict[bytes, bytes] | None = None) -> bytes:
    """WAV bytes of a clip; ``extra_chunks`` (4-byte id → payload) go after the data (readers skip them)."""
    data = samples.astype("<i2").tobytes()
    fmt = (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + SAMPLE_RATE.to_bytes(4, "little") \
        + (SAMPLE_RATE * 2).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    chunks = [(b"fmt ", fmt), (b"data", data), *(extra_chunks or {}).items()]
    body = b"WAVE" + b"".join(cid + len(p).to_bytes(4, "little") + p + (b"\0" if len(p) % 2 else b"")
                              for cid, p in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def read_wav(data: bytes, strict: bool = False) -> tuple[np.ndarray, dict[bytes, bytes]]:
    """The samples of mono 16-bit WAV bytes at :data:`SAMPLE_RATE`, and the other chunks by id.

    ``strict`` (cache files) refuses sizes that disagree with the bytes; otherwise a streamed WAV's
    0 or 0xFFFFFFFF sizes (espeak-ng's ``--stdout``) mean "to the end".  Raises ValueError when the
    bytes are not such a WAV.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    if strict and int.from_bytes(data[4:8], "little") != len(data) - 8:
        raise ValueError("RIFF size does not match the file")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if pos + 8 + size > len(data) or (size == 0 and cid == b"data" and not strict):
            if strict or cid != b"data":
                raise ValueError(f"chunk {cid!r} runs past the end")
            size = len(data) - pos - 8  # a streamed WAV: the data goes to the end
        chunks[cid] = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size % 2)
    fmt = chunks.get(b"fmt ", b"")
    if len(fmt) < 16 or b"data" not in chunks:
        raise ValueError("no fmt or data chunk")
    tag, channels, rate = (int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little"),
                           int.from_bytes(fmt[4:8], "little"))
    bits = int.from_bytes(fmt[14:16], "little")
    if (tag, channels, rate, bits) != (1, 1, SAMPLE_RATE, 16):
        raise ValueError(f"expected mono 16-bit PCM at {SAMPLE_RATE} Hz, got {channels} ch {bits} bit {rate} Hz")
    pcm = chunks.pop(b"data")
    return np.frombuffer(pcm[:len(pcm) // 2 * 2], dtype="<i2").astype(np.int16), chunks


@dataclass(frozen=True)
class WavStats:
    """Length and loudness of a WAV, to check speech is there."""

    duration_s: float
    rms: float  # root mean square of the 16-bit samples, 0-32767
    peak: int


def wav_stats(data: bytes) -> WavStats:
    """Duration, RMS and peak of 16-bit PCM WAV bytes (any rate and channels; streamed sizes allowed)."""
    with wave.open(io.BytesIO(fix_stream_header(data))) as w:
        if w.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM is supported")
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        rate, channels = w.getframerate(), w.getnchannels()
    if len(samples) == 0:
        return WavStats(0.0, 0.0, 0)
    return WavStats(len(samples) / channels / rate, rms(samples), int(np.max(np.abs(samples.astype(np.int32)))))


def fix_stream_header(data: bytes) -> bytes:
    """Fill in the RIFF and data sizes that a streamed WAV leaves as 0 or 0xFFFFFFFF."""
    if len(data) < 44 or data[:4] != b"RIFF":
        return data
    out = bytearray(data)
    out[4:8] = (len(data) - 8).to_bytes(4, "little")
    idx = out.find(b"data", 12)
    size = int.from_bytes(out[idx + 4: idx + 8], "little") if idx >= 0 else 0
    if idx >= 0 and (size == 0 or size > len(data) - idx - 8):
        out[idx + 4: idx + 8] = (len(data) - idx - 8).to_bytes(4, "little")
    return bytes(out)
