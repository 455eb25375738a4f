"""The ASGI layer in front of the API: the body-size limit, strict JSON, and request metrics.

The limit (:data:`sync.protocol.MAX_BODY_BYTES`) is checked before the application sees a
byte: a ``Content-Length`` over the limit is answered 413 at once, without reading the body;
a body without a length (chunked) is read only up to the limit, then refused the same way.
A body within the limit is buffered and replayed to the app, so nothing downstream can be
made to read more.

A JSON body must be *strict* JSON (:func:`sync.strict_json.loads_strict`): ``NaN``,
``Infinity``, a number that overflows to infinity, a lone surrogate in a key or a string, or
nesting too deep to parse is refused here with 422 and a reason (``non_finite_number``,
``lone_surrogate``, ``too_deep``) naming the field, before FastAPI's lenient parser could take
it (it accepts ``NaN``) and storage could keep JSON no other parser reads.  A body that is not
JSON at all is left to FastAPI, which answers ``malformed_json``.  After a 413 the server (uvicorn's h11 protocol) discards the rest of the body
as it arrives, without keeping it, so the client reads the 413 instead of a connection reset.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..protocol import MAX_BODY_BYTES
from ..strict_json import StrictJsonError, loads_strict
from .metrics import CentralMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Route labels for the metrics (any other path counts as ``other``, so labels stay bounded).
ROUTES = {
    "/v1/events/push": "push", "/v1/reference/changes": "changes", "/v1/heartbeat": "heartbeat",
    "/v1/admin/enrol": "enrol", "/v1/admin/revoke": "revoke", "/health": "health", "/metrics": "metrics",
    "/openapi.json": "openapi",
}


async def _refuse(send: Send, status: int, reason: str, detail: str) -> None:
    body = json.dumps({"reason": reason, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Enforces the body limit and records every request in :class:`CentralMetrics`."""

    def __init__(self, app: ASGIApp, metrics: CentralMetrics, max_body: int = MAX_BODY_BYTES) -> None:
        """Wrap ``app``; bodies over ``max_body`` bytes are refused with 413."""
        self.app = app
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = ROUTES.get(scope.get("path", ""), "other")
        status = [500]
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self._guarded(scope, receive, send_and_note)
        finally:
            self.metrics.requests.inc(1, route, str(status[0]))
            if route == "push":
                self.metrics.push_requests.inc(1, str(status[0]))
                self.metrics.push_seconds.observe(time.perf_counter() - started)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        if declared:
            text = declared[0].decode("latin-1").strip()
            if not text.isdigit():
                self.metrics.refusals.inc(1, "bad_content_length")
                await _refuse(send, 400, "bad_content_length", "Content-Length is not a number")
                return
            if int(text) > self.max_body:
                self.metrics.refusals.inc(1, "body_too_large")
                await _refuse(send, 413, "body_too_large",
                              f"the body is {int(text)} bytes; at most {self.max_body} are accepted")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                self.metrics.refusals.inc(1, "body_too_large")
                await _refuse(send, 413, "body_too_large", f"the body is over {self.max_body} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and scope.get("method") in ("POST", "PUT", "PATCH"):
            try:
                loads_strict(body)
            except StrictJsonError as exc:
                self.metrics.refusals.inc(1, exc.reason)
                await _refuse(send, 422, exc.reason, f"the body is not strict JSON: {exc}")
                return
            except ValueError:
                pass  # not JSON at all: FastAPI refuses it as malformed_json
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
