"""Offline voice: every prompt, refusal and call spoken with espeak-ng's Mandarin (or English) voice.

No online TTS: espeak-ng runs locally and writes a WAV; a :class:`Speaker` plays it
through the first audio player found (``aplay``, ``paplay``, ``pw-play``) on its own
thread, so the flow never waits for speech.  Without a player (a test machine, a muted
terminal) the WAV is still rendered and the text kept in :attr:`Speaker.history`, so
what would have been said can be checked; :attr:`Speaker.audio_output` says which.
"""

from __future__ import annotations

import array
import io
import logging
import queue
import shutil
import subprocess
import threading
import wave
from collections import deque
from dataclasses import dataclass

from kiosk.errors import KioskError

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn", "en": "en-us"}
WORDS_PER_MINUTE = {"zh": 150, "en": 150}  # speaking rate; slower than espeak's 175 for older listeners
RENDER_TIMEOUT_S = 5.0  # longest espeak-ng run, in seconds
PLAYERS = (("aplay", "-q"), ("paplay",), ("pw-play",))
HISTORY = 200  # spoken texts kept for tests and diagnostics
_DIGITS_ZH = "零一二三四五六七八九"


class VoiceError(KioskError):
    """espeak-ng is missing or failed; the text is still shown on screen."""


def spell_ticket(number: str, language: str = "zh") -> str:
    """A ticket number as it is called out: 'A012' → 'A零一二' (digit by digit, as halls do)."""
    if language != "zh":
        return " ".join(number)
    return "".join(_DIGITS_ZH[int(c)] if c.isdigit() else c for c in number)


def call_text(number: str, window: int, language: str = "zh") -> str:
    """The sentence for a call: '请 A零一二 号到 3 号窗口'."""
    if language == "zh":
        return f"请 {spell_ticket(number)} 号，到 {window} 号窗口"
    return f"Number {spell_ticket(number, 'en')}, please go to window {window}"


def render_wav(text: str, language: str = "zh", volume: int = 80) -> bytes:
    """Speak ``text`` into WAV bytes with espeak-ng (``volume`` in percent, 0–100)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoiceError("espeak-ng is not installed")
    amplitude = max(0, min(200, round(volume * 2)))  # espeak-ng amplitude 0-200, 100 is its default
    cmd = [exe, "-v", VOICES.get(language, "cmn"), "-s", str(WORDS_PER_MINUTE.get(language, 150)),
           "-a", str(amplitude), "--stdout", text]
    try:
        result = subprocess.run(cmd, capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise VoiceError(f"espeak-ng took longer than {RENDER_TIMEOUT_S} s") from None
    if result.returncode != 0 or not result.stdout.startswith(b"RIFF"):
        raise VoiceError(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()[:200]}")
    return result.stdout


@dataclass(frozen=True)
class WavStats:
    """Length and loudness of a WAV, to check speech is there."""

    duration_s: float
    rms: float  # root mean square of the 16-bit samples, 0-32767
    peak: int


def wav_stats(data: bytes) -> WavStats:
    """Duration, RMS and peak of 16-bit PCM WAV bytes (espeak-ng's --stdout may leave sizes at 0)."""
    with wave.open(io.BytesIO(fix_stream_header(data))) as w:
        if w.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM is supported")
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    samples = array.array("h", frames)
    if not samples:
        return WavStats(0.0, 0.0, 0)
    rms = (sum(s * s for s in samples) / len(samples)) ** 0.5
    return WavStats(len(samples) / rate, rms, max(abs(s) for s in samples))


def fix_stream_header(data: bytes) -> bytes:
    """Fill in the RIFF and data sizes that a streamed WAV leaves as 0 or 0xFFFFFFFF."""
    if len(data) < 44 or data[:4] != b"RIFF":
        return data
    out = bytearray(data)
    out[4:8] = (len(data) - 8).to_bytes(4, "little")
    idx = out.find(b"data", 12)
    if idx >= 0:
        out[idx + 4: idx + 8] = (len(data) - idx - 8).to_bytes(4, "little")
    return bytes(out)


def find_player() -> list[str] | None:
    """The command of the first audio player on this machine, or None."""
    for cmd in PLAYERS:
        path = shutil.which(cmd[0])
        if path:
            return [path, *cmd[1:]]
    return None


class Speaker:
    """Speaks queued texts one after another on a background thread."""

    def __init__(self, enabled: bool = True, volume: int = 80, player: list[str] | None = None):
        self.enabled = enabled
        self.volume = volume  # percent, 0-100; 0 renders nothing audible and plays nothing
        self.player = player if player is not None else find_player()
        self.history: deque[str] = deque(maxlen=HISTORY)
        self.last_error = ""
        self._queue: queue.Queue[tuple[str, str, int] | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._thread.start()

    @property
    def audio_output(self) -> bool:
        """True when a player exists to make the speech audible."""
        return self.player is not None

    def say(self, text: str, language: str = "zh", repeat: int = 1) -> None:
        """Queue ``text`` to be spoken ``repeat`` times (calls are said twice)."""
        if self.enabled:
            self._queue.put((text, language, max(1, repeat)))

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until everything queued has been spoken (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)  # a marker, set when the thread reaches it
        return done.wait(timeout_s)

    def close(self) -> None:
        """Stop the speaking thread after what is queued."""
        self._queue.put(None)
        self._thread.join(timeout=RENDER_TIMEOUT_S * 2)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            text, language, repeat = item
            for _ in range(repeat):
                self.history.append(text)
                self._speak(text, language)

    def _speak(self, text: str, language: str) -> None:
        if self.volume <= 0:
            return
        try:
            wav = render_wav(text, language, self.volume)
        except VoiceError as exc:
            self.last_error = str(exc)
            log.warning("voice: %s", exc)
            return
        if self.player is None:
            return
        try:
            subprocess.run([*self.player, "-"], input=wav, timeout=30, check=False, capture_output=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.last_error = f"player failed: {exc}"
            log.warning("voice: %s", self.last_error)
