"""Code status by ID number from the city code service over HTTP, with a fresh-enough cache and a fallback.

A card swipe carries no signed code, so the hall asks the city service.  The request
sends only what the service needs — the ID number — and sends it in a JSON body of a
``POST`` (``{"id_number": "..."}`` to ``<base_url>/v1/code-status``), never in the URL,
so it cannot end up in access logs or proxies' URL logs; in production ``base_url`` is
``https://`` (TLS verified; a plain-``http`` URL to a non-loopback host is warned about).
Environment proxy settings are ignored and redirects are not followed: the number goes
to the configured host or nowhere.  This module never logs the number.

The answer ``{"colour": "green"|"yellow"|"red", "as_of": <Unix s>}`` is cached under the
person's keyed hash (:func:`kiosk.priority.person_key`), never the raw number, for at most
``freshness_s`` (default 10 min): a colour change is never hidden longer than that.  A
stale entry is never used, not even when the service is down.

When the service cannot give an answer — connection refused (``unreachable``), no answer
within ``timeout_s`` (``timeout``), a 5xx (``server_error``), an answer that is not a
code status (``bad_answer``), the person unknown to it (``not_found``) — the result is the
configured fallback: ``staff_check`` (default; the ticket is flagged for staff),
``refuse`` or ``allow``.  :meth:`CityCodeService.lookup` never raises for those.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from kiosk.codes.status import COLOURS, FALLBACKS, CodeStatus, Fallback, FallbackReason
from kiosk.errors import KioskError
from kiosk.priority import PriorityRegisterError, normalise_id, person_key

log = logging.getLogger(__name__)

LOOKUP_PATH = "/v1/code-status"
DEFAULT_TIMEOUT_S = 1.5  # whole-request budget, in seconds (config: thresholds.code_lookup_timeout_s)
DEFAULT_FRESHNESS_S = 600.0  # longest a cached colour is used, in seconds
DEFAULT_CACHE_SIZE = 10_000  # entries kept (least recently used dropped first)
MAX_ANSWER_BYTES = 4096  # longest answer body read, in bytes
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class LookupStats:
    """Counts since start, for the maintenance screen and tests."""

    requests: int = 0
    cache_hits: int = 0
    fallbacks: int = 0


@dataclass(frozen=True)
class _Cached:
    colour: str
    fetched_at: float  # the monotonic clock
    fetched_wall: float  # Unix seconds
    as_of: float | None


class _NoAnswer(KioskError):
    """The service gave no usable answer; ``reason`` is the fallback reason."""

    def __init__(self, reason: FallbackReason) -> None:
        super().__init__(reason)
        self.reason: FallbackReason = reason


class CityCodeService:
    """Client of the city code service: lookup by ID number, cache, fallback."""

    def __init__(self, base_url: str, key: bytes, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 fallback: Fallback = "staff_check", freshness_s: float = DEFAULT_FRESHNESS_S,
                 cache_size: int = DEFAULT_CACHE_SIZE, verify: bool | str = True,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        """``key`` is the deployment's person key (the cache is keyed by its hash); ``verify`` is
        httpx's TLS setting (True, or a CA bundle path); ``transport`` is for unit tests."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the city code service URL must be http(s)://host[:port], not {base_url!r}")
        if fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {', '.join(FALLBACKS)}, not {fallback!r}")
        if timeout_s <= 0 or freshness_s < 0 or cache_size < 0:
            raise ValueError("timeout_s must be > 0, freshness_s and cache_size >= 0")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            log.warning("city code service at %s is plain http: ID numbers must go over TLS in production",
                        parts.hostname)
        try:
            person_key("0" * 18, key)  # refuse an unusable key now, not at the first swipe
        except PriorityRegisterError as exc:
            raise ValueError(str(exc)) from None
        self.url = base_url.rstrip("/") + LOOKUP_PATH
        self.timeout_s = timeout_s
        self.fallback: Fallback = fallback
        self.freshness_s = freshness_s
        self.cache_size = cache_size
        self.stats = LookupStats()
        self._key = key
        self._clock = clock
        self._wall = wall_clock
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), verify=verify, transport=transport,
                                    trust_env=False, follow_redirects=False,
                                    headers={"Accept": "application/json", "User-Agent": "linfen-kiosk"})

    def lookup(self, id_number: str) -> CodeStatus:
        """The resident's code status: from the cache if fresh, else from the service, else the fallback."""
        number = normalise_id(id_number)
        cache_key = person_key(number, self._key)
        cached = self._fresh(cache_key)
        if cached is not None:
            with self._lock:
                self.stats.cache_hits += 1
            return self._status(number, cached)
        with self._lock:
            self.stats.requests += 1
        try:
            colour, as_of = self._ask(number)
        except _NoAnswer as exc:
            with self._lock:
                self.stats.fallbacks += 1
            log.warning("city code service gave no answer (%s): fallback %s", exc.reason, self.fallback)
            return CodeStatus(None, "fallback", person_id_number=number, fallback=self.fallback,
                              fallback_reason=exc.reason)
        entry = _Cached(colour, self._clock(), self._wall(), as_of)
        if self.cache_size:
            with self._lock:
                self._cache[cache_key] = entry
                self._cache.move_to_end(cache_key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return self._status(number, entry)

    def forget(self, id_number: str) -> None:
        """Drop one resident's cached status (e.g. after staff saw a different colour)."""
        with self._lock:
            self._cache.pop(person_key(id_number, self._key), None)

    def clear_cache(self) -> None:
        """Drop every cached status."""
        with self._lock:
            self._cache.clear()

    def cached_keys(self) -> list[str]:
        """The cache's keys (person keys), oldest first: for tests and diagnostics."""
        with self._lock:
            return list(self._cache)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> CityCodeService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _fresh(self, cache_key: str) -> _Cached | None:
        with self._lock:
            entry = self._cache.get(cache_key)
            if entry is None:
                return None
            if self._clock() - entry.fetched_at >= self.freshness_s:
                del self._cache[cache_key]
                return None
            self._cache.move_to_end(cache_key)
            return entry

    def _status(self, number: str, entry: _Cached) -> CodeStatus:
        return CodeStatus(entry.colour, "lookup", person_id_number=number,  # type: ignore[arg-type]
                          issued_at=entry.as_of, expires_at=entry.fetched_wall + self.freshness_s)

    def _ask(self, number: str) -> tuple[str, float | None]:
        """One request; (colour, as_of) or :class:`_NoAnswer`.  The body read is bounded in size and time."""
        deadline = self._clock() + self.timeout_s
        try:
            with self._client.stream("POST", self.url, json={"id_number": number}) as response:
                status = response.status_code
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise _NoAnswer("bad_answer")
                    if self._clock() > deadline:
                        raise _NoAnswer("timeout")
        except httpx.TimeoutException:
            raise _NoAnswer("timeout") from None
        except (httpx.HTTPError, OSError):
            raise _NoAnswer("unreachable") from None
        if status >= 500:
            raise _NoAnswer("server_error")
        if status == 404:
            raise _NoAnswer("not_found")
        if status != 200:
            raise _NoAnswer("bad_answer")
        return _parse_answer(bytes(body))


def _parse_answer(body: bytes) -> tuple[str, float | None]:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _NoAnswer("bad_answer") from None
    if not isinstance(doc, dict) or doc.get("colour") not in COLOURS:
        raise _NoAnswer("bad_answer")
    as_of = doc.get("as_of")
    if as_of is not None and (isinstance(as_of, bool) or not isinstance(as_of, int | float)):
        raise _NoAnswer("bad_answer")
    return str(doc["colour"]), None if as_of is None else float(as_of)
