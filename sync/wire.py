"""The sync client's wire handling: an outbox event as push JSON, and answers read defensively.

* :func:`encode_event` - ``("", json)`` for an event protocol v1 can carry as strict JSON, or
  ``(why not, b"")``: a lone surrogate or ``NaN`` in a payload is found here, before the push,
  so such an event is quarantined at once instead of failing every cycle;
* :func:`parse_page` - a reference page; when the page as a whole is outside the protocol (one
  change a pydantic model refuses), the changes that are fine are kept and the others come back
  as :class:`~sync.apply.RejectedChange` to be recorded, so one bad row never stops a pull;
* :func:`clean_devices` - a driver's device names and reasons made strict text before a heartbeat
  (a lone surrogate from a device would otherwise fail every heartbeat);
* :func:`parse_answer` / :func:`reason_of` / :func:`retry_after` - any other answer, the words of
  a refusal, and how long a 429 asks the terminal to wait.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from kiosk.store import Event
from sync.apply import RejectedChange
from sync.client_types import CentralUnavailable
from sync.protocol import MAX_PAYLOAD_BYTES, Change, ChangesResponse, DeviceState, EventEnvelope
from sync.strict_json import find_problem


def encode_event(event: Event, terminal_id: str) -> tuple[str, bytes]:
    """``("", json)`` for an event the protocol can carry, else ``(why not, b"")``."""
    body = event.to_dict()
    if event.terminal_id != terminal_id:
        return f"event of terminal {event.terminal_id!r} in this terminal's outbox", b""
    problem = find_problem(body)
    if problem is not None:
        return f"not strict JSON ({problem.reason}) at {problem.path}: {problem.detail}", b""
    payload = json.dumps(body["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        return f"payload of {len(payload)} bytes is over the protocol's {MAX_PAYLOAD_BYTES}", b""
    try:
        EventEnvelope.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"not a valid v1 event: {'.'.join(map(str, first['loc']))}: {first['msg']}", b""
    return "", json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def clean_text(text: str, limit: int | None = None) -> str:
    """``text`` with lone surrogates escaped (``\\ud800``), so it is Unicode text; cut to ``limit`` characters."""
    cleaned = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return cleaned[:limit] if limit is not None else cleaned


def clean_devices(devices: Mapping[str, DeviceState]) -> dict[str, DeviceState]:
    """Device states as a heartbeat can carry them: names and reasons made strict Unicode text."""
    return {clean_text(str(name), 100): DeviceState(up=state.up, reason=clean_text(state.reason, 200))
            for name, state in devices.items()}


def reason_of(response: httpx.Response) -> str:
    """``reason: detail`` of a refusal, or the status words when the body is not an ErrorBody."""
    try:
        body = response.json()
        return f"{body.get('reason', '')}: {body.get('detail', '')}".strip(": ")
    except (ValueError, AttributeError):
        return response.reason_phrase


def retry_after(response: httpx.Response) -> float:
    """A 429's ``Retry-After`` in seconds (1 when absent or not a number; at most an hour)."""
    try:
        return min(3600.0, max(0.0, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


def parse_answer(model: Any, response: httpx.Response) -> Any:
    """The answer as ``model``; a reply that is not the protocol counts as the central unavailable."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise CentralUnavailable(f"the central answered outside the protocol: {exc.errors()[:1]}") from exc


def _describe(raw: Any) -> tuple[int | None, str, str]:
    if not isinstance(raw, dict):
        return None, "?", "?"
    cursor = raw.get("cursor")
    good_cursor = cursor if isinstance(cursor, int) and not isinstance(cursor, bool) and cursor >= 1 else None
    return good_cursor, str(raw.get("kind", "?"))[:32], str(raw.get("key", "?"))[:200]


def parse_page(response: httpx.Response) -> tuple[ChangesResponse, list[RejectedChange]]:
    """A page of the feed, and the changes in it that are outside the protocol (skipped, to be recorded).

    Raises :class:`CentralUnavailable` when the page itself (its cursor, its list) is not the
    protocol, or a bad change has no cursor to record it under.
    """
    try:
        return ChangesResponse.model_validate_json(response.content), []
    except ValidationError as exc:
        first_error = exc
    try:
        doc = json.loads(response.content)
        outer = ChangesResponse.model_validate({**doc, "changes": []})
        raw_changes = doc["changes"]
        if not isinstance(raw_changes, list):
            raise TypeError("changes is not a list")
    except (ValueError, TypeError, KeyError, RecursionError):
        raise CentralUnavailable(f"the central answered outside the protocol: {first_error.errors()[:1]}") from None
    good: list[Change] = []
    bad: list[RejectedChange] = []
    for raw in raw_changes:
        try:
            good.append(Change.model_validate(raw))
        except ValidationError as exc:
            cursor, kind, key = _describe(raw)
            if cursor is None:
                raise CentralUnavailable(f"the central sent a change without a usable cursor: {exc.errors()[:1]}") from None
            first = exc.errors()[0]
            bad.append(RejectedChange(cursor, kind, key,
                                      f"outside the protocol: {'.'.join(map(str, first['loc']))}: {first['msg']}"))
    return ChangesResponse(changes=good, cursor=outer.cursor, more=outer.more), bad
