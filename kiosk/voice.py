"""Offline voice: every prompt, refusal and call spoken in Mandarin (or English) from espeak-ng clips.

espeak-ng's ``cmn-latn-pinyin`` voice (``en-us`` for English) renders each fixed clause, letter,
digit and numeral once into a clip cache on disk (:mod:`kiosk.voice_clips`); a :class:`Speaker`
joins clips into what it says (:mod:`kiosk.voice_words` plans them) and plays the result through
the first audio player found (``aplay``, ``paplay``, ``pw-play``) on its own thread, so the flow
never waits for speech.  A call is a chime then the words once; a recall says its words twice.
Volume is a gain in dB on normalised clips (:func:`gain_db`), never below :data:`MIN_VOLUME`.
Without a player (a test machine, a muted terminal) the sound is still made and the words kept in
:attr:`Speaker.history`; :attr:`Speaker.audio_output` says which.

``python -m kiosk.voice --warm`` renders every clip ahead (at set-up); a Speaker with a player
also warms the cache on a background thread when it starts.
"""

from __future__ import annotations

import argparse
import logging
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.prompts import prompt_text
from kiosk.voice_audio import (
    MIN_VOLUME,
    WavStats,
    apply_gain,
    clamp_volume,
    duration_s,
    fix_stream_header,
    gain_db,
    join,
    silence,
    to_wav,
    wav_stats,
)
from kiosk.voice_clips import (
    RENDER_TIMEOUT_S,
    VOICES,
    WORDS_PER_MINUTE,
    ClipCache,
    VoiceError,
    default_cache_dir,
    synthesise,
    warm,
)
from kiosk.voice_words import (
    Pause,
    Plan,
    call_plan,
    call_text,
    for_espeak,
    free_plan,
    prompt_plan,
    recall_text,
    speech_language,
    spell_ticket,
)

__all__ = [
    "MIN_VOLUME", "VOICES", "WORDS_PER_MINUTE", "ClipCache", "Speaker", "VoiceError", "WavStats", "call_sound",
    "call_text", "default_cache_dir", "find_player", "fix_stream_header", "gain_db", "recall_text", "render_plan",
    "render_wav", "spell_ticket", "wav_stats",
]

log = logging.getLogger(__name__)

PLAYERS = (("aplay", "-q"), ("paplay",), ("pw-play",))
HISTORY = 200  # spoken texts kept for tests and diagnostics
CHIME_GAP_S = 0.03  # after the chime, before the words
REPEAT_GAP_S = 0.7  # between a recall's two sayings (and any repeated text)
PLAY_GRACE_S = 10.0  # a player may take this much longer than the sound before it is stopped


def find_player() -> list[str] | None:
    """The command of the first audio player on this machine, or None."""
    for cmd in PLAYERS:
        path = shutil.which(cmd[0])
        if path:
            return [path, *cmd[1:]]
    return None


def render_plan(plan: Plan, cache: ClipCache) -> np.ndarray:
    """The clips of a plan joined, with its pauses, at 0 dB (raises :class:`VoiceError`)."""
    return join([silence(p.seconds) if isinstance(p, Pause) else cache.get(p) for p in plan])


def _repeated(sound: np.ndarray, times: int) -> list[np.ndarray]:
    parts: list[np.ndarray] = []
    for i in range(times):
        parts += [silence(REPEAT_GAP_S), sound] if i else [sound]
    return parts


def call_sound(cache: ClipCache, number: str, window: int, language: str = "zh", recall: bool = False) -> np.ndarray:
    """A call as heard: the chime, then the call words once (a recall: its words twice)."""
    words = render_plan(call_plan(number, window, language, recall), cache)
    return join([cache.chime(), silence(CHIME_GAP_S), *_repeated(words, 2 if recall else 1)])


def render_wav(text: str, language: str = "zh", volume: int = 80) -> bytes:
    """``text`` spoken into WAV bytes now, without the cache, at ``volume`` percent (see :func:`gain_db`)."""
    lang = speech_language(language)
    return to_wav(apply_gain(synthesise(for_espeak(text, lang), lang), gain_db(volume)))


@dataclass(frozen=True)
class _Job:
    texts: tuple[str, ...]  # what goes into history, one entry per saying
    build: Callable[[], np.ndarray]
    generation: int


class Speaker:
    """Speaks queued prompts, calls and texts one after another on a background thread."""

    def __init__(self, enabled: bool = True, volume: int = 80, player: list[str] | None = None, *,
                 cache_dir: Path | str | None = None, warm_up: bool | None = None):
        """``player`` None finds one; ``warm_up`` None warms the clip cache when there is a player to hear it."""
        self.enabled = enabled
        self._volume = clamp_volume(volume)
        self.player = player if player is not None else find_player()
        self.clips = ClipCache(cache_dir)
        self.history: deque[str] = deque(maxlen=HISTORY)
        self.last_error = ""
        self.last_clip_s = 0.0  # length of the last sound made, in seconds
        self.last_wav = b""  # the last sound made, at the volume it was played
        self.warm_result: tuple[int, int] | None = None  # (clips checked, rendered) once warming ends
        self._generation = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._queue: queue.Queue[_Job | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._thread.start()
        self._warmer: threading.Thread | None = None
        if warm_up if warm_up is not None else (enabled and self.player is not None):
            self._warmer = threading.Thread(target=self._warm, name="speaker-warm", daemon=True)
            self._warmer.start()

    @property
    def audio_output(self) -> bool:
        """True when a player exists to make the speech audible."""
        return self.player is not None

    @property
    def volume(self) -> int:
        """Volume in percent, held to [:data:`MIN_VOLUME`, 100]."""
        return self._volume

    @volume.setter
    def volume(self, value: int) -> None:
        self._volume = clamp_volume(value)

    def say(self, text: str, language: str = "zh", repeat: int = 1) -> None:
        """Queue free ``text`` to be spoken ``repeat`` times (rendered once, then from the cache)."""
        lang = speech_language(language)
        times = max(1, repeat)
        self._put((text,) * times, lambda: join(_repeated(render_plan(free_plan(text, lang), self.clips), times)))

    def say_prompt(self, key: str, language: str = "zh", params: dict[str, Any] | None = None) -> None:
        """Queue a prompt of :data:`kiosk.prompts.PROMPTS`, spoken from clips, with its values filled in."""
        values = dict(params or {})
        self._put((prompt_text(key, language, values),),
                  lambda: render_plan(prompt_plan(key, language, values), self.clips))

    def call(self, number: str, window: int, language: str = "zh", recall: bool = False) -> None:
        """Queue a call: the chime, then :func:`call_text` once; a recall: :func:`recall_text` twice."""
        texts = (recall_text(number, window, language),) * 2 if recall else (call_text(number, window, language),)
        self._put(texts, lambda: call_sound(self.clips, number, window, language, recall))

    def cancel(self) -> None:
        """Drop everything queued and stop what is playing now (the resident left the screen)."""
        with self._lock:
            self._generation += 1
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until everything queued has been spoken (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)  # a marker, set when the thread reaches it
        return done.wait(timeout_s)

    def wait_warm(self, timeout_s: float = 60.0) -> bool:
        """Block until the start-up warming of the clip cache has ended (True also when there was none)."""
        if self._warmer is not None:
            self._warmer.join(timeout_s)
            return not self._warmer.is_alive()
        return True

    def close(self) -> None:
        """Stop warming, then stop the speaking thread after what is queued."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=RENDER_TIMEOUT_S * 2)
        if self._warmer is not None:
            self._warmer.join(timeout=RENDER_TIMEOUT_S)

    def _put(self, texts: tuple[str, ...], build: Callable[[], np.ndarray]) -> None:
        if self.enabled:
            self._queue.put(_Job(texts, build, self._generation))

    def _warm(self) -> None:
        started = time.monotonic()
        self.warm_result = warm(self.clips, self._stop)
        log.info("voice: clip cache %s warm, %d checked, %d rendered in %.1f s", self.clips.directory,
                 *self.warm_result, time.monotonic() - started)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif item.generation == self._generation:
                self._speak(item)

    def _speak(self, job: _Job) -> None:
        self.history.extend(job.texts)
        try:
            sound = job.build()
        except VoiceError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # a bad clip or value must not end the speaker thread
            log.exception("voice: cannot make %r", job.texts[0])
            self._fail(f"cannot make the sound: {exc}")
            return
        wav = to_wav(apply_gain(sound, gain_db(self._volume)))
        self.last_wav, self.last_clip_s = wav, duration_s(sound)
        if self.player is not None:
            self._play(wav, job.generation)

    def _play(self, wav: bytes, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # cancelled while the sound was made
            try:
                proc = subprocess.Popen([*self.player, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
            except OSError as exc:
                self._fail(f"player failed: {exc}")
                return
            self._proc = proc
        try:
            _, err = proc.communicate(wav, timeout=self.last_clip_s + PLAY_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        finally:
            with self._lock:
                self._proc = None
        if proc.returncode != 0 and generation == self._generation:
            self._fail(f"player failed ({proc.returncode}): {err.decode(errors='replace').strip()[:200]}")

    def _fail(self, message: str) -> None:
        self.last_error = message
        log.warning("voice: %s", message)


def main(argv: list[str] | None = None) -> int:
    """``python -m kiosk.voice --warm``: render every clip into the cache; ``--say TEXT --out F``: a WAV."""
    ap = argparse.ArgumentParser(prog="python -m kiosk.voice", description=__doc__.split("\n")[0])
    ap.add_argument("--warm", action="store_true", help="render every prompt, token, call piece and the chime")
    ap.add_argument("--cache-dir", type=Path, help="clip cache (default $LINFEN_VOICE_CACHE or ~/.cache/linfen/voice)")
    ap.add_argument("--say", help="render this text (with --out)")
    ap.add_argument("--language", default="zh", choices=("zh", "en"))
    ap.add_argument("--volume", type=int, default=100)
    ap.add_argument("--out", type=Path, help="write --say's sound here as WAV")
    args = ap.parse_args(argv)
    cache = ClipCache(args.cache_dir)
    if args.warm:
        started = time.monotonic()
        checked, rendered = warm(cache)
        print(f"{cache.directory}: {checked} clips checked, {rendered} rendered, {cache.corrupt} damaged, "
              f"in {time.monotonic() - started:.1f} s")
    if args.say:
        sound = apply_gain(render_plan(free_plan(args.say, args.language), cache), gain_db(args.volume))
        if args.out:
            args.out.write_bytes(to_wav(sound))
        print(f"{duration_s(sound):.2f} s")
    if not (args.warm or args.say):
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
