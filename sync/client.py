"""The edge sync client: the terminal's outbox reaches the central exactly once, offline for days.

It runs in the terminal process on its own thread and never blocks a UI: the status strip calls
:meth:`SyncClient.status`, which returns a snapshot without touching the database or the network.

* **Push** - pending outbox events go in batches (at most :data:`~sync.protocol.MAX_BATCH` events
  and :attr:`SyncSettings.batch_bytes` bytes).  A row is marked acknowledged only after the central
  answered ``stored`` or ``duplicate`` for that id, so a timeout after the central committed (the
  Odoo POS duplicate) just means the batch is sent again and comes back ``duplicate``.
* **Conflicts** - an event the central refuses for good (``conflict``: same id, different body; or
  an event protocol v1 cannot carry) is quarantined (:func:`sync.apply.quarantine`, which also calls
  ``mark_failed``), logged, counted in :meth:`status` and handed to ``on_problem``.  It stays in the
  outbox for a person to look at and is not pushed again.
* **Backoff** - while the central is unreachable the client waits a full-jitter delay
  (``uniform(0, min(cap, base * 2**n))``) between attempts; :meth:`SyncClient.wake` retries at once.
* **Pull** - reference changes since the stored cursor, each page applied in one local transaction
  with its cursor (:func:`sync.apply.apply_page`).
* **Heartbeat** - device status, outbox length and the last push time, every
  :attr:`SyncSettings.heartbeat_interval_s`.

Errors: :class:`SyncError` is the root; :class:`CentralUnavailable` (network, timeout, 5xx, a reply
that is not the protocol) is retried with backoff; :class:`AuthRefused` (401/403) is shown as
"auth refused" and retried at the backoff cap, in case the terminal is re-enabled.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from kiosk.store import Event, Store, StoreError
from sync import apply
from sync.client_types import (
    AuthRefused,
    BatchRefused,
    CentralUnavailable,
    PushOutcome,
    RateLimited,
    State,
    SyncError,
    SyncSettings,
    SyncStatus,
)
from sync.protocol import (
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    DeviceState,
    HeartbeatRequest,
    HeartbeatResponse,
    PushResponse,
)
from sync.wire import clean_devices, encode_event, parse_answer, parse_page, reason_of, retry_after

log = logging.getLogger("sync.client")

__all__ = ["AuthRefused", "BatchRefused", "CentralUnavailable", "PushOutcome", "RateLimited", "SyncClient",
           "SyncError", "SyncSettings", "SyncStatus"]

#: Status codes that mean "this batch will never be accepted as it is" (split it, then quarantine).
#: A 400 is not among them: it means the wrong protocol version, a matter for an update, not the events.
_BATCH_REFUSED = (413, 422)
CAUGHT_UP_KEY = apply.CAUGHT_UP_KEY  # when a pull last reached the end of the feed


def _now() -> datetime:
    return datetime.now(UTC)


class SyncClient:
    """Keeps one terminal's store in sync with the central service, on a background thread.

    ``store`` must have been opened with :data:`sync.apply.MIGRATIONS`; it may be shared with the
    terminal's UI (the client only uses Store methods and actions, which take the store's lock).
    ``token`` is the bearer token from enrolment.  ``device_status`` is called on the client's
    thread before each heartbeat.  ``on_problem`` is called (on the client's thread) with every
    newly quarantined event.  ``transport``/``verify`` are passed to :class:`httpx.Client` (TLS
    CA bundle, or a test transport).
    """

    def __init__(
        self,
        store: Store,
        base_url: str,
        token: str,
        *,
        settings: SyncSettings | None = None,
        device_status: Callable[[], Mapping[str, DeviceState]] | None = None,
        on_problem: Callable[[apply.Quarantined], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: Any = True,
        rng: random.Random | None = None,
    ) -> None:
        apply.check_schema(store)
        self._store = store
        self._settings = settings or SyncSettings()
        self._device_status = device_status
        self._on_problem = on_problem
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
            timeout=self._settings.timeout(),
            transport=transport,
            verify=verify,
        )
        self._cycle_lock = threading.Lock()  # one cycle at a time (thread or a direct call)
        self._status_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._next_pull = 0.0  # monotonic time of the next pull (0: at the first cycle)
        self._next_beat = 0.0
        self._quarantined_ids = {q.event_id for q in apply.quarantined(store)}
        state = apply.read_state(store)
        self._cursor = int(state.get(apply.CURSOR_KEY, "0"))
        last_push = state.get("last_push_at")
        self._last_push_at = datetime.fromisoformat(last_push) if last_push else None
        self._status = SyncStatus(
            state="starting",
            queue_length=apply.queue_length(store),
            quarantined=len(self._quarantined_ids),
            cursor=self._cursor,
            reference_rejected=len(apply.rejected_changes(store)),
        )

    # -- the thread --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            raise SyncError("the sync client was already started")
        self._thread = threading.Thread(target=self._run, name="sync-client", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waiting up to ``stop_timeout_s``, then cutting its connection) and close."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self._settings.stop_timeout_s)
            if self._thread.is_alive():
                self._http.close()  # makes a hung request fail; an unacked batch is simply resent later
                self._thread.join(self._settings.stop_timeout_s)
        self._http.close()

    def wake(self) -> None:
        """Try now: end the current wait (idle or backoff) at once."""
        self._wake.set()

    def status(self) -> SyncStatus:
        """The latest snapshot; never blocks on the database or the network."""
        with self._status_lock:
            return self._status

    def _run(self) -> None:
        while not self._stopping.is_set():
            delay = self._cycle_guarded()
            if self._stopping.is_set():
                break
            self._wake.wait(delay)
            self._wake.clear()

    def _cycle_guarded(self) -> float:
        """One cycle; returns the seconds to wait before the next one."""
        try:
            self.sync_once()
        except AuthRefused as exc:
            self._failures += 1
            self._failed("auth refused", exc)
            return self._settings.backoff_cap_s
        except (CentralUnavailable, BatchRefused) as exc:
            self._failures += 1
            self._failed("offline", exc)
            wait = exc.retry_after_s if isinstance(exc, RateLimited) else 0.0
            return max(wait, self.backoff_delay(self._failures))
        except Exception as exc:  # a store error or a bug: report, back off, keep the thread alive
            self._failures += 1
            log.exception("sync cycle failed")
            self._failed("offline", exc)
            return self.backoff_delay(self._failures)
        self._failures = 0
        return self._settings.idle_interval_s

    def backoff_delay(self, failures: int) -> float:
        """Full jitter: a uniform delay in ``[0, min(cap, base * 2**(failures - 1))]`` seconds."""
        ceiling = min(self._settings.backoff_cap_s, self._settings.backoff_base_s * 2 ** min(failures - 1, 30))
        return self._rng.uniform(0.0, ceiling)

    # -- one cycle ---------------------------------------------------------------------------

    def sync_once(self, *, pull: bool | None = None, heartbeat: bool | None = None) -> None:
        """Push everything pending, then pull and beat if due (or if asked); raise on failure.

        Safe to call from any thread; cycles never overlap.  Raises :class:`AuthRefused`,
        :class:`CentralUnavailable`, :class:`BatchRefused` or :class:`kiosk.store.StoreError`.
        """
        with self._cycle_lock:
            now = time.monotonic()
            try:
                self.push_pending()
                if pull if pull is not None else now >= self._next_pull:
                    self.pull_changes()
                    self._next_pull = time.monotonic() + self._settings.pull_interval_s
                if heartbeat if heartbeat is not None else now >= self._next_beat:
                    try:
                        self.send_heartbeat()
                    except BatchRefused as exc:  # malformed beyond cleaning: reported, never fails the cycle
                        log.error("sync: the central refused the heartbeat: %s", exc)
                    self._next_beat = time.monotonic() + self._settings.heartbeat_interval_s
            finally:
                self._refresh_queue()
            self._update(state="ok", last_success_at=_now(), offline_since=None, last_error="")

    def push_pending(self) -> PushOutcome:
        """Push batches until the outbox holds nothing but quarantined events."""
        outcome = PushOutcome()
        while not self._stopping.is_set():
            batch = self._next_batch(outcome)
            if not batch:
                break
            refused_before = len(outcome.quarantined)
            acked = self._push_split(batch, outcome)
            if acked == 0 and len(outcome.quarantined) == refused_before:
                raise CentralUnavailable("the central acknowledged none of a batch")
            outcome.acked += acked
        if outcome.acked:
            self._last_push_at = _now()
            apply.write_state(self._store, {"last_push_at": self._last_push_at.isoformat()})
        return outcome

    def _next_batch(self, outcome: PushOutcome) -> list[tuple[Event, bytes]]:
        """The next pending events as (event, JSON) pairs within the batch limits; invalid ones are
        quarantined here (protocol v1 could never carry them).  Empty when nothing is left to push."""
        while True:
            limit = self._settings.batch_events + len(self._quarantined_ids)
            pending = self._store.pending_events(limit)
            events = [e for e in pending if e.id not in self._quarantined_ids]
            batch: list[tuple[Event, bytes]] = []
            size = 64
            for event in events[: self._settings.batch_events]:
                problem, text = self._encode(event)
                if problem:
                    self._quarantine(event, "rejected", problem, outcome)
                    continue
                if batch and size + len(text) + 1 > self._settings.batch_bytes:
                    break
                batch.append((event, text))
                size += len(text) + 1
            if batch or not events:
                return batch

    def _encode(self, event: Event) -> tuple[str, bytes]:
        """``("", json)`` for an event the protocol can carry as strict JSON, else ``(why not, b"")``."""
        return encode_event(event, self._store.terminal_id)

    def _push_split(self, batch: list[tuple[Event, bytes]], outcome: PushOutcome) -> int:
        """Push ``batch``; if the central refuses it as malformed, halve it until the culprit is alone,
        then quarantine that event.  Returns how many events were acknowledged."""
        try:
            return self._push(batch, outcome)
        except BatchRefused as exc:
            if len(batch) == 1:
                self._quarantine(batch[0][0], "rejected", str(exc), outcome)
                return 0
            half = len(batch) // 2
            return self._push_split(batch[:half], outcome) + self._push_split(batch[half:], outcome)

    def _push(self, batch: list[tuple[Event, bytes]], outcome: PushOutcome) -> int:
        terminal = json.dumps(self._store.terminal_id)
        body = b'{"terminal_id":' + terminal.encode() + b',"events":[' + b",".join(t for _, t in batch) + b"]}"
        ids = [event.id for event, _ in batch]
        try:
            response = self._request("POST", "/v1/events/push", content=body)
            answer = parse_answer(PushResponse, response)
        except (CentralUnavailable, AuthRefused) as exc:
            self._store.mark_failed(ids, str(exc))
            raise
        by_id = {event.id: event for event, _ in batch}
        acked: list[str] = []
        for ack in answer.acks:
            event = by_id.get(str(ack.id))
            if event is None:
                continue  # not ours, or not in this batch: ignored, never marked
            if ack.status in ("stored", "duplicate"):
                acked.append(event.id)
            else:
                self._quarantine(event, "conflict", "the central holds a different event under this id or seq", outcome)
        self._store.mark_acked(acked)
        self._update(central_highest_seq=answer.highest_seq, central_gaps=tuple(answer.gaps))
        with self._status_lock:
            self._status = replace(self._status, pushed=self._status.pushed + len(acked))
        return len(acked)

    def _quarantine(self, event: Event, reason: str, detail: str, outcome: PushOutcome) -> None:
        apply.quarantine(self._store, [(event.id, event.seq, reason, detail)])
        self._quarantined_ids.add(event.id)
        item = apply.Quarantined(event.id, event.seq, reason, detail, _now().isoformat())
        outcome.quarantined.append(item)
        log.error("sync: event seq %d (%s) %s: %s", event.seq, event.id, reason, detail)
        self._update(quarantined=len(self._quarantined_ids))
        if self._on_problem is not None:
            try:
                self._on_problem(item)
            except Exception:  # the reporter must not stop delivery
                log.exception("sync: on_problem callback failed")

    def pull_changes(self, max_pages: int | None = None) -> int:
        """Fetch and apply pages of the reference feed until it has no more (or ``max_pages``).

        A change the terminal cannot apply is skipped, recorded (:func:`sync.apply.rejected_changes`),
        logged and counted in :attr:`SyncStatus.reference_rejected`; the cursor moves past it.
        Returns the number of changes applied.  Each page is applied with its cursor in one
        transaction; a page fetched from a cursor another client already moved is skipped.
        """
        applied = 0
        pages = 0
        while not self._stopping.is_set() and (max_pages is None or pages < max_pages):
            response = self._request(
                "GET",
                "/v1/reference/changes",
                params={"cursor": self._cursor, "limit": self._settings.pull_page_size},
            )
            page, unreadable = parse_page(response)
            rejected: list[apply.RejectedChange] = []
            try:
                count = apply.apply_page(self._store, page, self._cursor, rejected=rejected, unreadable=unreadable)
                self._cursor = page.cursor
            except apply.StaleCursor:
                count = 0
                self._cursor = apply.read_cursor(self._store)
            for bad in rejected:
                log.error("sync: reference change %s/%s at cursor %d skipped: %s", bad.kind, bad.key, bad.cursor,
                          bad.reason)
            if rejected:
                self._update(reference_rejected=self._status.reference_rejected + len(rejected))
            applied += count
            pages += 1
            with self._status_lock:
                self._status = replace(self._status, cursor=self._cursor, applied=self._status.applied + count)
            if not page.more:
                # Everything the central had is applied: balances and the deny list are this fresh.
                apply.write_state(self._store, {CAUGHT_UP_KEY: _now().isoformat()})
                break
        return applied

    def send_heartbeat(self) -> HeartbeatResponse:
        """Tell the central the terminal is alive: devices, outbox length, last push."""
        devices = clean_devices(self._device_status()) if self._device_status is not None else {}
        request = HeartbeatRequest(
            terminal_id=self._store.terminal_id,
            at=_now(),
            devices=devices,
            outbox_pending=apply.queue_length(self._store),
            last_push_at=self._last_push_at,
            quarantined_events=self.status().quarantined,
            skipped_changes=self.status().reference_rejected,
            feed_age_s=None if (age := apply.feed_age_s(self._store, _now())) is None else round(age, 1),
        )
        sent = time.time()
        response = self._request("POST", "/v1/heartbeat", content=request.model_dump_json().encode())
        answer = parse_answer(HeartbeatResponse, response)
        midpoint = (sent + time.time()) / 2
        self._update(clock_skew_s=round(answer.server_time.timestamp() - midpoint, 3))
        return answer

    # -- plumbing ----------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "content" in kwargs:
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.TransportError, RuntimeError) as exc:  # RuntimeError: client closed by stop()
            raise CentralUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise AuthRefused(f"{method} {path}: {response.status_code} {reason_of(response)}")
        if response.status_code == 429:
            raise RateLimited(f"{method} {path}: 429 {reason_of(response)}", retry_after(response))
        if response.status_code in _BATCH_REFUSED:
            raise BatchRefused(f"{method} {path}: {response.status_code} {reason_of(response)}")
        if response.status_code != 200:
            raise CentralUnavailable(f"{method} {path}: {response.status_code} {reason_of(response)}")
        return response

    def _refresh_queue(self) -> None:
        try:
            self._update(queue_length=apply.queue_length(self._store))
        except StoreError:
            log.warning("sync: cannot count the outbox", exc_info=True)

    def _failed(self, state: State, exc: BaseException) -> None:
        """Record a failed cycle; logged as a warning when the state or the error changes, so a week
        offline leaves a few lines in the log, not one per attempt."""
        with self._status_lock:
            before = self._status
            since = before.offline_since if before.state in ("offline", "auth refused") else None
            self._status = replace(before, state=state, offline_since=since or _now(), last_error=str(exc))
        level = logging.WARNING if (before.state, before.last_error) != (state, str(exc)) else logging.DEBUG
        log.log(level, "sync: %s (%s); attempt %d", state, exc, self._failures)

    def _update(self, **changes: Any) -> None:
        with self._status_lock:
            self._status = replace(self._status, **changes)

