"""Speech clips rendered once by espeak-ng and kept on disk, so the kiosk never waits for synthesis.

Each clip is trimmed and normalised (see :mod:`kiosk.voice_audio`) and stored as a WAV named by a
hash of the espeak-ng version, voice, rate, amplitude and text: a new espeak-ng renders afresh.
Files are written atomically (temporary file, then ``os.replace``) and carry a SHA-256 of their
samples; a file that does not check out is rendered again, never played.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from kiosk import voice_audio
from kiosk.errors import KioskError
from kiosk.voice_audio import chime, normalise, read_wav, to_wav, trim
from kiosk.voice_words import Words, fixed_words, token_words

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}  # espeak-ng 1.51's 'cmn' reads Latin letters as English
WORDS_PER_MINUTE = {"zh": 190, "en": 150}  # clauses: espeak's Mandarin at 190 is ~3.7 syllables/s
# A clip of one syllable (a letter, a digit, 号) is lengthened by espeak-ng as if it ended a phrase; a
# faster rate for these gives them about the syllable length of the clauses around them (and a call
# 'C九九九 … 十二' fits in 4 s with its chime).
TOKEN_WORDS_PER_MINUTE = {"zh": 230, "en": 175}
AMPLITUDE = 100  # espeak-ng's -a, fixed; loudness comes from normalising and the volume gain
RENDER_TIMEOUT_S = 5.0  # longest espeak-ng run, in seconds
CLIP_FORMAT = 2  # bump when the file layout or the processing changes: every clip is rendered again
MEMORY_BYTES = 8 * 1024 * 1024  # clips kept in memory per cache, beyond that they are read from disk
CHECK_CHUNK = b"lfck"  # the WAV chunk holding the SHA-256 of the samples


class VoiceError(KioskError):
    """espeak-ng is missing or failed; the text is still shown on screen."""


def default_cache_dir() -> Path:
    """``$LINFEN_VOICE_CACHE``, else ``$XDG_CACHE_HOME/linfen/voice``, else ``~/.cache/linfen/voice``."""
    if os.environ.get("LINFEN_VOICE_CACHE"):
        return Path(os.environ["LINFEN_VOICE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "linfen" / "voice"


@functools.lru_cache(maxsize=1)
def espeak_version() -> str:
    """The installed espeak-ng's version line ('none' when it is missing)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return "none"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.decode(errors="replace").split(" Data at")[0].strip()


def words_per_minute(text: str, language: str) -> int:
    """The espeak-ng rate for a clip: :data:`TOKEN_WORDS_PER_MINUTE` for one character or word, else the clause rate."""
    token = len(text.strip()) == 1 if language == "zh" else " " not in text.strip()
    return (TOKEN_WORDS_PER_MINUTE if token else WORDS_PER_MINUTE)[language]


def espeak_command(language: str, *extra: str, rate: int | None = None) -> list[str]:
    """The espeak-ng command line for ``language`` ('zh'/'en'), reading its text from stdin."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoiceError("espeak-ng is not installed")
    return [exe, "-v", VOICES[language], "-s", str(rate or WORDS_PER_MINUTE[language]), "-a", str(AMPLITUDE),
            "-b", "1", *extra, "--stdin"]


def synthesise(text: str, language: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, trimmed and normalised (raises :class:`VoiceError`)."""
    cmd = espeak_command(language, "--stdout", rate=words_per_minute(text, language))
    try:
        result = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise VoiceError(f"espeak-ng took longer than {RENDER_TIMEOUT_S} s") from None
    except OSError as exc:
        raise VoiceError(f"espeak-ng could not run: {exc}") from None
    if result.returncode != 0 or not result.stdout.startswith(b"RIFF"):
        raise VoiceError(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()[:200]}")
    try:
        samples, _ = read_wav(result.stdout)
    except ValueError as exc:
        raise VoiceError(f"espeak-ng wrote an unexpected WAV: {exc}") from None
    return normalise(trim(samples))


def _processing() -> str:
    """The settings that shape every clip after espeak-ng (a change renders them all again)."""
    a = voice_audio
    return repr((CLIP_FORMAT, a.SAMPLE_RATE, a.TARGET_RMS_DBFS, a.PEAK_LIMIT_DBFS, a.SILENCE_DBFS, a.TRIM_PAD_S,
                 a.CHIME_S, a.CHIME_PEAK_DBFS))


class ClipCache:
    """Clips by text and language (and the chime), from memory, from disk, or rendered and stored."""

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.renders = 0  # clips made (espeak-ng runs and chimes) by this cache
        self.corrupt = 0  # cache files found damaged and rendered again
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.Lock()
        self._write_failed = False

    def key(self, words: Words) -> str:
        """The file stem of a clip: its language and a hash of everything that shapes its sound."""
        ident = "|".join((_processing(), espeak_version(), VOICES[words.language],
                          str(words_per_minute(words.text, words.language)), str(AMPLITUDE), words.text))
        return f"{words.language}-{hashlib.sha256(ident.encode()).hexdigest()[:32]}"

    def path(self, words: Words) -> Path:
        """Where the clip of ``words`` is stored."""
        return self.directory / f"{self.key(words)}.wav"

    def get(self, words: Words) -> np.ndarray:
        """The clip of ``words``: from memory, else from disk, else rendered now and stored."""
        return self._get(self.key(words), lambda: synthesise(words.text, words.language))

    def chime(self) -> np.ndarray:
        """The ding-dong before a call, as a clip."""
        return self._get(f"chime-{hashlib.sha256(_processing().encode()).hexdigest()[:12]}", chime)

    def ensure(self, words: Words) -> bool:
        """Make sure a sound file for ``words`` is on disk and sound; True when it had to be rendered."""
        before = self.renders
        self._load_or_render(self.key(words), lambda: synthesise(words.text, words.language))
        return self.renders > before

    def _get(self, key: str, make) -> np.ndarray:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        samples = self._load_or_render(key, make)
        samples.setflags(write=False)  # shared by every sound made from it
        with self._lock:
            if key not in self._memory:
                self._memory[key] = samples
                self._memory_bytes += samples.nbytes
            while self._memory_bytes > MEMORY_BYTES and len(self._memory) > 1:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= old.nbytes
        return samples

    def _load_or_render(self, key: str, make) -> np.ndarray:
        path = self.directory / f"{key}.wav"
        samples = self._load(path)
        if samples is not None:
            return samples
        samples = make()
        with self._lock:
            self.renders += 1
        self._store(path, samples)
        return samples

    def _load(self, path: Path) -> np.ndarray | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("voice cache: cannot read %s: %s", path, exc)
            return None
        try:
            samples, chunks = read_wav(data, strict=True)
            if chunks.get(CHECK_CHUNK) != hashlib.sha256(samples.astype("<i2").tobytes()).digest():
                raise ValueError("checksum does not match")
        except ValueError as exc:
            with self._lock:
                self.corrupt += 1
            log.warning("voice cache: %s is damaged (%s); rendering it again", path.name, exc)
            return None
        return samples

    def _store(self, path: Path, samples: np.ndarray) -> None:
        data = to_wav(samples, {CHECK_CHUNK: hashlib.sha256(samples.astype("<i2").tobytes()).digest()})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            if not self._write_failed:  # a read-only disk: the clip is still used from memory
                log.warning("voice cache: cannot write to %s: %s", path.parent, exc)
            self._write_failed = True


def warm_words() -> list[Words]:
    """Every clip to render ahead, once: fixed words of all prompts, calls and recalls, and all value tokens
    (a prompt's fixed word may also be a token, as 点 in "9点02分" and in 37.8)."""
    return list(dict.fromkeys(w for lang in ("zh", "en") for w in (*fixed_words(lang), *token_words(lang))))


def warm(cache: ClipCache, stop: threading.Event | None = None) -> tuple[int, int]:
    """Render whatever is missing or damaged in ``cache`` (and the chime); (clips checked, clips rendered).

    Stops early, between clips, when ``stop`` is set.  A clip espeak-ng cannot render is logged and skipped.
    """
    words = warm_words()
    rendered = 0
    cache.chime()
    for checked, w in enumerate(words, 1):
        if stop is not None and stop.is_set():
            return checked - 1, rendered
        try:
            rendered += cache.ensure(w)
        except VoiceError as exc:
            log.warning("voice warm-up: %r: %s", w.text, exc)
            return checked, rendered  # espeak-ng is missing or broken: the rest would fail the same way
    return len(words), rendered
