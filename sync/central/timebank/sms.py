"""The SMS gateway behind one interface: :class:`SmsGateway` ``.send(phone, text)``.

``log`` (development and tests) writes each message to the central's log with the phone masked,
and, when given a file, appends one JSON line ``{"at", "phone", "text"}`` to it (0600) so a
developer or a browser test can read the code that was "sent".  ``http`` posts
``{"phone", "text"}`` as JSON to a gateway URL with a 5 s timeout; any answer but 2xx is a
:class:`SmsError`.  Chosen with ``--sms log[:FILE]`` or ``--sms http:URL`` (``linfen central serve``)
or ``LINFEN_CENTRAL_SMS``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import httpx

from ..errors import CentralError

log = logging.getLogger("linfen.central.sms")
SMS_ENV = "LINFEN_CENTRAL_SMS"
SEND_TIMEOUT_S = 5.0


class SmsError(CentralError):
    """A message the gateway did not take."""

    def __init__(self, detail: str) -> None:
        """Say why."""
        super().__init__("sms_failed", detail)


class SmsGateway(Protocol):
    """Sends one text message."""

    def send(self, phone: str, text: str) -> None:
        """Send ``text`` to ``phone`` (11 digits); :class:`SmsError` when it cannot."""


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``."""
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


class LogSms:
    """The development gateway: the log, and optionally a JSON-lines file."""

    def __init__(self, path: str | Path | None = None) -> None:
        """Append to ``path`` when given."""
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        """Log the message (phone masked) and append it to the file."""
        log.info("sms (log gateway)", extra={"event": "sms_logged", "phone": mask_phone(phone)})
        if self.path is None:
            return
        line = json.dumps({"at": dt.datetime.now(dt.UTC).isoformat(), "phone": phone, "text": text},
                          ensure_ascii=False)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(line + "\n")


class HttpSms:
    """A gateway reached by an HTTP POST of ``{"phone", "text"}``."""

    def __init__(self, url: str) -> None:
        """Post to ``url``."""
        self.url = url

    def send(self, phone: str, text: str) -> None:
        """Post the message; SmsError unless the gateway answers 2xx in time."""
        try:
            answer = httpx.post(self.url, json={"phone": phone, "text": text}, timeout=SEND_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise SmsError(f"the SMS gateway did not answer ({type(exc).__name__})") from None
        if not answer.is_success:
            raise SmsError(f"the SMS gateway answered {answer.status_code}")


def gateway_from_spec(spec: str | None) -> SmsGateway:
    """``None``/``log`` -> log only; ``log:FILE``; ``http:URL`` (``http:https://...``); else CentralError."""
    if not spec or spec == "log":
        return LogSms()
    kind, _, rest = spec.partition(":")
    if kind == "log" and rest:
        return LogSms(rest)
    if kind == "http" and rest.startswith(("http://", "https://")):
        return HttpSms(rest)
    raise CentralError("bad_sms", f"--sms {spec!r}: expected log, log:FILE or http:URL")
