"""A per-terminal rate limit on push: a token bucket per terminal id, in the process (issue 10, 6).

    limiter = PushLimiter(rate_per_s=30, burst=60)
    wait = limiter.take("hall-01")      # 0.0: go ahead; else seconds until the next push is allowed

A terminal catching up after days offline pushes batches back to back: ``burst`` lets it start at
full speed, ``rate_per_s`` is the pace it keeps after that (30 batches of 500 events a second is
far above what one terminal writes).  One terminal hammering the central gets 429 with
``Retry-After`` and no longer takes the write lock from the others.  Keys are authenticated
terminal ids, so the table is bounded by the enrolled terminals.  With ``--workers N`` each
worker keeps its own buckets (a terminal could get up to N times the rate).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_PUSH_RATE_PER_S = 30.0  # pushes a second one terminal keeps up
DEFAULT_PUSH_BURST = 60  # pushes one terminal may make at once before the rate applies


class PushLimiter:
    """Token buckets per terminal: ``burst`` tokens, refilled at ``rate_per_s``."""

    def __init__(self, rate_per_s: float = DEFAULT_PUSH_RATE_PER_S, burst: int = DEFAULT_PUSH_BURST,
                 clock: Callable[[], float] = time.monotonic, max_keys: int | None = None) -> None:
        """Buckets of ``burst`` tokens refilled at ``rate_per_s`` a second, timed by ``clock``.

        ``max_keys`` bounds the table for keys a client chooses (an address): past it, buckets that
        have refilled are forgotten (a full bucket is the same as none), so only keys still limited
        are kept; if every key is still limited, the new key is refused until some refill.
        """
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("the push rate must be > 0 and the burst >= 1")
        self.rate = rate_per_s
        self.max_keys = max_keys
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until one is there."""
        now = self._clock()
        with self._lock:
            if self.max_keys is not None and key not in self._buckets and len(self._buckets) >= self.max_keys:
                self._forget_full(now)
                if len(self._buckets) >= self.max_keys:
                    return 1.0 / self.rate
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled to ``burst`` by ``now`` (caller holds the lock)."""
        self._buckets = {k: (t, at) for k, (t, at) in self._buckets.items()
                         if t + (now - at) * self.rate < self.burst}
