"""Plumbing of the hall's LAN service (:mod:`kiosk.hall.service_api`): the push hub, the body limit, SSE framing."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from fastapi.responses import JSONResponse

#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024


class CallHub:
    """Fans committed changes (queue changes, alert pokes) out to SSE streams (thread-safe publish, asyncio consumers)."""

    def __init__(self) -> None:
        """No subscribers yet."""
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def subscribe(self) -> asyncio.Queue[Any]:
        """A new queue of changes for the calling coroutine's event loop (ended at once once closed)."""
        q: asyncio.Queue[Any] = asyncio.Queue()
        with self._lock:
            if self._closed:
                q.put_nowait(None)
            else:
                self._subs.add((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue[Any]) -> None:
        """Forget a subscriber."""
        with self._lock:
            self._subs = {s for s in self._subs if s[1] is not q}

    def publish(self, change: Any) -> None:
        """Hand ``change`` to every subscriber (None ends their streams); callable from any thread."""
        with self._lock:
            subs = list(self._subs)
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(q.put_nowait, change)
            except RuntimeError:  # that loop has closed: the stream is gone
                self.unsubscribe(q)

    def close(self) -> None:
        """End every open stream and every stream opened from now on (the server is stopping)."""
        with self._lock:
            self._closed = True
        self.publish(None)


class BodyLimit:
    """ASGI guard: refuse a body over :data:`MAX_BODY_BYTES` (or of unknown length) before it is read."""

    def __init__(self, app: Any) -> None:
        """Wrap the ASGI ``app``."""
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Answer 413 at once for an oversized or chunked body; pass everything else on."""
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length")
            chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
            if chunked or (length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES)):
                answer = JSONResponse({"error": "too_large", "words_en": f"request body over {MAX_BODY_BYTES} "
                                       "bytes or of unknown length", "words_zh": "请求过大"}, status_code=413)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One server-sent event (``id`` when given), data as compact JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"
