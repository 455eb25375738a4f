"""The sync client's vocabulary: its errors, its settings (each with a unit) and its status snapshot.

Kept apart from :mod:`sync.client` so the status strip and ``linfen doctor`` can read a
:class:`SyncStatus` without pulling in the client's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import httpx

from sync.apply import Quarantined
from sync.protocol import MAX_BATCH, MAX_BODY_BYTES, SeqGap

State = Literal["starting", "ok", "offline", "auth refused"]


class SyncError(Exception):
    """Root of every failure of the sync client."""


class CentralUnavailable(SyncError):
    """The central could not be reached or did not answer in protocol (retried with backoff)."""


class RateLimited(CentralUnavailable):
    """The central asked the terminal to wait (429); ``retry_after_s`` is how long it said."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        """A 429 with the central's ``Retry-After`` in seconds."""
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthRefused(SyncError):
    """The central refused the terminal's credentials (401/403): wrong, revoked or another terminal's."""


class BatchRefused(SyncError):
    """The central refused a whole push as malformed (413/422)."""


@dataclass(frozen=True)
class SyncSettings:
    """Tunables of the sync client; each with its unit."""

    batch_events: int = MAX_BATCH  # events per push (at most protocol.MAX_BATCH)
    batch_bytes: int = MAX_BODY_BYTES - 64 * 1024  # bytes of one push body, with room for the envelope
    idle_interval_s: float = 2.0  # seconds between looks at the outbox when everything is delivered
    pull_interval_s: float = 30.0  # seconds between pulls of the reference feed
    pull_page_size: int = 5000  # changes asked for per page (the central serves at most 5,000)
    heartbeat_interval_s: float = 60.0  # seconds between heartbeats
    backoff_base_s: float = 0.5  # seconds: the first backoff ceiling
    backoff_cap_s: float = 60.0  # seconds: the largest backoff ceiling (and the auth-refused retry)
    connect_timeout_s: float = 3.0  # seconds to open a connection
    read_timeout_s: float = 20.0  # seconds of silence while reading an answer
    write_timeout_s: float = 20.0  # seconds of stall while sending a request
    pool_timeout_s: float = 3.0  # seconds waiting for a free connection
    stop_timeout_s: float = 5.0  # seconds stop() waits for the thread before closing its connection

    def __post_init__(self) -> None:
        if not 1 <= self.batch_events <= MAX_BATCH:
            raise ValueError(f"batch_events must be within 1..{MAX_BATCH}, not {self.batch_events}")
        if not 1024 <= self.batch_bytes <= MAX_BODY_BYTES:
            raise ValueError(f"batch_bytes must be within 1024..{MAX_BODY_BYTES}, not {self.batch_bytes}")
        if not 1 <= self.pull_page_size <= 5000:
            raise ValueError(f"pull_page_size must be within 1..5000, not {self.pull_page_size}")
        if self.backoff_base_s <= 0 or self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff needs 0 < backoff_base_s <= backoff_cap_s")

    def timeout(self) -> httpx.Timeout:
        """The explicit httpx timeout every request uses."""
        return httpx.Timeout(
            connect=self.connect_timeout_s,
            read=self.read_timeout_s,
            write=self.write_timeout_s,
            pool=self.pool_timeout_s,
        )


@dataclass(frozen=True)
class SyncStatus:
    """A snapshot for the status strip (and ``linfen doctor``)."""

    state: State
    queue_length: int  # outbox events not yet acknowledged (quarantined ones included)
    quarantined: int  # events refused for good, waiting for a person
    last_success_at: datetime | None = None  # last cycle that pushed, pulled and beat without error
    offline_since: datetime | None = None  # first failure since the last success (state != "ok")
    last_error: str = ""
    cursor: int = 0  # position reached in the reference feed
    central_highest_seq: int | None = None  # the central's highest stored seq for this terminal
    central_gaps: tuple[SeqGap, ...] = ()  # seq runs the central says it has not seen
    reference_rejected: int = 0  # feed changes skipped because this terminal could not apply them
    pushed: int = 0  # events acknowledged since start
    applied: int = 0  # reference changes applied since start
    clock_skew_s: float | None = None  # central clock minus terminal clock, from the last heartbeat

    @property
    def up(self) -> bool:
        """Whether the strip shows the central link as working."""
        return self.state == "ok"

    @property
    def text(self) -> str:
        """The state in words: ``ok``, ``offline since 14:02``, ``auth refused``, ``starting``."""
        if self.state == "offline" and self.offline_since is not None:
            words = f"offline since {self.offline_since.astimezone().strftime('%Y-%m-%d %H:%M')}"
        else:
            words = self.state
        if self.queue_length:
            words += f", {self.queue_length} waiting"
        if self.quarantined:
            words += f", {self.quarantined} refused (see the sync log)"
        if self.reference_rejected:
            words += f", {self.reference_rejected} reference rows skipped (see the sync log)"
        return words


@dataclass
class PushOutcome:
    """What one push pass did."""

    acked: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
