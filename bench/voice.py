"""Voice figures: how long every prompt and call lasts, and how fast speech is ready from the clip cache (issue 11).

Renders every clip into an empty cache (cold), then every prompt of ``kiosk.prompts.PROMPTS`` in Chinese
and English with sample values, calls and recalls (chime included), and times a speaker saying prompts
from the warm cache (from memory, and from disk as a fresh speaker would).  Target: a Chinese call with
its chime <= 4 s.  ``--quick`` times fewer numbers and sayings.  The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.prompts import PROMPTS
from kiosk.voice import Speaker, call_sound, render_plan
from kiosk.voice_audio import apply_gain, duration_s, gain_db, to_wav
from kiosk.voice_clips import ClipCache, espeak_version, warm
from kiosk.voice_words import prompt_plan, sample_params


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def prompt_durations(cache: ClipCache) -> dict[str, dict[str, float]]:
    """Seconds of every prompt with sample values, by language and key."""
    out: dict[str, dict[str, float]] = {"zh": {}, "en": {}}
    for key, pair in PROMPTS.items():
        for index, lang in enumerate(("zh", "en")):
            out[lang][key] = duration_s(render_plan(prompt_plan(key, lang, sample_params(pair[index])), cache))
    return out


def call_durations(cache: ClipCache, numbers: list[str], windows: list[int]) -> dict[tuple[str, bool], list[float]]:
    """Seconds of each call and recall, chime included, by (language, recall)."""
    out: dict[tuple[str, bool], list[float]] = {}
    for lang in ("zh", "en"):
        for recall in (False, True):
            out[(lang, recall)] = [duration_s(call_sound(cache, n, w, lang, recall)) for n in numbers for w in windows]
    return out


def say_times_ms(cache_dir: Path, rounds: int, fresh: bool) -> list[float]:
    """Milliseconds from say_prompt() until the sound is made, every prompt ``rounds`` times (no player)."""
    keys = list(PROMPTS)
    times: list[float] = []
    speaker = Speaker(player=None, cache_dir=cache_dir, warm_up=False)
    for _ in range(rounds):
        for key in keys:
            if fresh:
                speaker.clips = ClipCache(cache_dir)  # nothing in memory: every clip read from disk
            started = time.perf_counter()
            speaker.say_prompt(key, "zh", sample_params(PROMPTS[key][0]))
            speaker.wait_idle(30)
            times.append((time.perf_counter() - started) * 1000)
    speaker.close()
    if speaker.clips.renders:
        raise SystemExit(f"the warm cache rendered {speaker.clips.renders} clips: not warm")
    return times


def main() -> int:
    """Render, measure and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="3 numbers to window 12, 3 rounds of sayings")
    args = ap.parse_args()
    numbers = ["A012", "B105", "C999"] if args.quick else [f"{c}{n:03d}" for c in "ABCDE" for n in (1, 12, 105, 777, 999)]
    windows = [12] if args.quick else list(range(1, 21))
    rounds = 3 if args.quick else 20
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    print(f"espeak-ng: {espeak_version()}; cache {cache_dir}", flush=True)

    cache = ClipCache(cache_dir)
    started = time.perf_counter()
    checked, rendered = warm(cache)
    cold_s = time.perf_counter() - started
    cache_mb = sum(p.stat().st_size for p in cache_dir.iterdir()) / 1e6
    print(f"cold render of every clip: {rendered} of {checked} clips in {cold_s:.2f} s, {cache_mb:.1f} MB", flush=True)

    prompts = prompt_durations(cache)
    for key in PROMPTS:
        print(f"  {key:28s} zh {prompts['zh'][key]:5.2f} s   en {prompts['en'][key]:5.2f} s")
    calls = call_durations(cache, numbers, windows)
    for (lang, recall), values in calls.items():
        print(f"{'recall' if recall else 'call':6s} {lang}: {len(values)} numbers, "
              f"{min(values):.2f}-{max(values):.2f} s (median {statistics.median(values):.2f} s)")
    example = call_sound(cache, "A012", 3)
    print(f"call A012 to window 3: {duration_s(example):.2f} s; recall: "
          f"{duration_s(call_sound(cache, 'A012', 3, recall=True)):.2f} s")

    memory = say_times_ms(cache_dir, rounds, fresh=False)
    disk = say_times_ms(cache_dir, max(1, rounds // 3), fresh=True)
    gain_started = time.perf_counter()
    to_wav(apply_gain(example, gain_db(80)))
    print(f"say a prompt from the warm cache: p50 {statistics.median(memory):.2f} ms, "
          f"p95 {percentile(memory, 0.95):.2f} ms; from disk p95 {percentile(disk, 0.95):.2f} ms "
          f"(gain and WAV of a call {1000 * (time.perf_counter() - gain_started):.2f} ms)")
    figures = {
        "cold_render_all_s": round(cold_s, 2),
        "cold_clips": rendered,
        "cache_mb": round(cache_mb, 2),
        "call_max_s": round(max(calls[("zh", False)]), 2),
        "call_max_s_en": round(max(calls[("en", False)]), 2),
        "recall_max_s": round(max(calls[("zh", True)]), 2),
        "recall_max_s_en": round(max(calls[("en", True)]), 2),
        "call_a012_window_3_s": round(duration_s(example), 2),
        "prompt_max_s_zh": round(max(prompts["zh"].values()), 2),
        "prompt_max_s_en": round(max(prompts["en"].values()), 2),
        "warm_cache_say_p50_ms": round(statistics.median(memory), 2),
        "warm_cache_say_p95_ms": round(percentile(memory, 0.95), 2),
        "disk_cache_say_p95_ms": round(percentile(disk, 0.95), 2),
    }
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
