"""What the Time Bank needs from the command line: the deployment's person key and the SMS gateway.

``app.state.timebank`` holds a :class:`TimebankSettings`.  Without a person key the pages that
take an ID number (registration) say, in words, that the service is not set up yet; nothing
else needs it.  Worker processes read the same settings from the environment
(:data:`PERSON_KEY_ENV`, :data:`sms.SMS_ENV`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from common.person_keys import PersonKeyError, load_key

from ..errors import CentralError
from .sms import SMS_ENV, LogSms, SmsGateway, gateway_from_spec

PERSON_KEY_ENV = "LINFEN_CENTRAL_PERSON_KEY_FILE"


@dataclass(frozen=True)
class TimebankSettings:
    """The person key (None: registration is off) and the SMS gateway."""

    person_key: bytes | None = None
    sms: SmsGateway = field(default_factory=LogSms)


def read_person_key(path: str | Path | None) -> bytes | None:
    """The key in ``path`` (hex text, as the halls' ``person_key_file``), or None without a path."""
    if not path:
        return None
    try:
        return load_key(path)
    except PersonKeyError as exc:
        raise CentralError("bad_person_key", f"--person-key-file: {exc}") from None


def settings_from(person_key_file: str | Path | None, sms: str | None) -> TimebankSettings:
    """Settings from the command line's values."""
    return TimebankSettings(read_person_key(person_key_file), gateway_from_spec(sms))


def settings_from_env() -> TimebankSettings:
    """Settings for a worker process (set by the supervisor from the command line)."""
    return settings_from(os.environ.get(PERSON_KEY_ENV) or None, os.environ.get(SMS_ENV) or None)
