"""The priority register (DESIGN §5 step 3): who gets a priority ticket, matched on a keyed hash.

Residents in a priority group (veterans, special-care recipients, disabled residents) are
listed in reference data by :func:`person_key` — HMAC-SHA256 of the normalised ID number
under a per-deployment secret key — never by the ID number itself.  Residents aged 80 or
more on the visit day are priority too; their age comes from the card's birth field or,
failing that, from the ID number's birth digits, so they need no register entry.

:func:`person_key` is the one keyed hash used everywhere a person must be matched without
keeping the number (open-ticket check, visit log, code-status cache).

Register file (JSON, reference data; :func:`build_register` makes one)::

    {"format": "linfen-priority-register", "version": 1, "key_check": "<16 hex>",
     "entries": [{"h": "<64 hex person key>", "groups": ["veteran", ...]}, ...]}

``key_check`` tells a register made with another deployment's key from an empty one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from common import person_keys
from common.person_keys import MIN_KEY_BYTES as MIN_KEY_BYTES  # re-exported: kiosk code imports them here
from common.person_keys import PersonKeyError
from common.person_keys import generate_key as generate_key
from common.person_keys import normalise_id as normalise_id
from common.priority_groups import GROUPS  # shared with the central's importer
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

AGE80 = "age80"  # the reason given for residents aged 80 or more on the visit day
AGE_PRIORITY_YEARS = 80
FORMAT = "linfen-priority-register"
VERSION = 1
MAX_REGISTER_BYTES = 64 * 1024 * 1024  # largest register file read, in bytes

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class PriorityRegisterError(KioskError):
    """A register file or key that cannot be used; the text says why."""


class RegisterPerson(Protocol):
    """What :func:`build_register` needs of a person (a simulator persona fits)."""

    id_number: str
    veteran: bool
    special_care: bool
    disabled: bool


@dataclass(frozen=True)
class Priority:
    """The priority reasons that apply to one resident on one day (empty: a normal ticket)."""

    reasons: tuple[str, ...] = ()

    @property
    def is_priority(self) -> bool:
        """True when at least one reason applies."""
        return bool(self.reasons)


def _key(call: Callable[..., object], *args: object) -> object:
    """``call(*args)``, a key problem raised as :class:`PriorityRegisterError`."""
    try:
        return call(*args)
    except PersonKeyError as exc:
        raise PriorityRegisterError(str(exc)) from None


def person_key(id_number: str, key: bytes) -> str:
    """The keyed hash of an ID number (64 hex characters): :func:`common.person_keys.person_key`."""
    return str(_key(person_keys.person_key, id_number, key))


def key_check(key: bytes) -> str:
    """A short fingerprint of the key, stored in the register to detect a key mismatch."""
    return str(_key(person_keys.key_check, key))


def load_key(path: str | os.PathLike[str]) -> bytes:
    """Read a deployment key file: hex text (at least 32 hex digits), blanks ignored."""
    return bytes(_key(person_keys.load_key, path))


def birth_from_id(id_number: str) -> dt.date | None:
    """The birth date in an 18-digit (or old 15-digit) ID number, or None when it has none."""
    number = normalise_id(id_number)
    if len(number) == 18 and number[:17].isdigit():
        digits = number[6:14]
    elif len(number) == 15 and number.isdigit():
        digits = "19" + number[6:12]
    else:
        return None
    return parse_birth(digits)


def parse_birth(text: str | None) -> dt.date | None:
    """A ``YYYYMMDD`` birth field as a date, or None when it is empty or not a real date."""
    if not text or len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def age_on(birth: dt.date, day: dt.date) -> int:
    """Age in whole years on ``day`` (a 29 February birthday counts from 1 March in common years)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def build_register(people: Iterable[RegisterPerson], key: bytes) -> dict[str, Any]:
    """The register document for ``people`` (those in no group are left out); no ID number is in it."""
    entries = []
    for person in people:
        groups = [g for g in GROUPS if getattr(person, g)]
        if groups:
            entries.append({"h": person_key(person.id_number, key), "groups": groups})
    entries.sort(key=lambda e: e["h"])
    return {"format": FORMAT, "version": VERSION, "key_check": key_check(key), "entries": entries}


def write_register(path: str | os.PathLike[str], people: Iterable[RegisterPerson], key: bytes) -> Path:
    """Write :func:`build_register`'s document to ``path`` (atomically); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(build_register(people, key), indent=0) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


class PriorityRegister:
    """The loaded register: person key → priority groups, plus the 80+ rule."""

    def __init__(self, key: bytes, entries: Mapping[str, Iterable[str]] | None = None) -> None:
        """A register under ``key`` with ``entries`` (person key → groups)."""
        self._key = bytes(_key(person_keys.check_key, key))
        self._entries: dict[str, tuple[str, ...]] = {}
        for h, groups in (entries or {}).items():
            if not isinstance(h, str) or not _HEX64.match(h):
                raise PriorityRegisterError("register entry key is not a 64-hex-digit person key")
            wanted = set(groups)
            unknown = wanted - set(GROUPS)
            if unknown:
                raise PriorityRegisterError(f"register entry has unknown groups {sorted(unknown)}")
            self._entries[h] = tuple(g for g in GROUPS if g in wanted)

    @classmethod
    def from_document(cls, doc: Any, key: bytes) -> PriorityRegister:
        """A register from a parsed register document; checks format, version and key."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise PriorityRegisterError(f"not a priority register (format must be {FORMAT!r})")
        if doc.get("version") != VERSION:
            raise PriorityRegisterError(f"priority register version {doc.get('version')!r} is not supported")
        if doc.get("key_check") != key_check(key):
            raise PriorityRegisterError("the priority register was made with another deployment key")
        rows = doc.get("entries")
        if not isinstance(rows, list):
            raise PriorityRegisterError("priority register has no entry list")
        entries: dict[str, list[str]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("h"), str) or not isinstance(
                row.get("groups"), list
            ):
                raise PriorityRegisterError(f"priority register entry {i} is not {{h, groups}}")
            entries.setdefault(row["h"], []).extend(str(g) for g in row["groups"])
        return cls(key, entries)

    @classmethod
    def load(cls, path: str | os.PathLike[str], key: bytes) -> PriorityRegister:
        """Read a register file (reference data)."""
        target = Path(path)
        try:
            if target.stat().st_size > MAX_REGISTER_BYTES:
                raise PriorityRegisterError(f"{target}: larger than {MAX_REGISTER_BYTES} bytes")
            doc = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise PriorityRegisterError(f"{target}: cannot read the priority register ({exc})") from None
        return cls.from_document(doc, key)

    def __len__(self) -> int:
        return len(self._entries)

    def person_key(self, id_number: str) -> str:
        """:func:`person_key` under this register's key."""
        return person_key(id_number, self._key)

    def groups_of(self, key_hash: str) -> tuple[str, ...]:
        """The registered groups of a person key (empty when not registered)."""
        return self._entries.get(key_hash, ())

    def lookup(self, id_number: str, birth: str | dt.date | None, today: dt.date) -> Priority:
        """The priority reasons for a resident on ``today``.

        ``birth`` is the card's birth field (``YYYYMMDD`` or a date); when it is missing or
        not a date the ID number's birth digits are used.
        """
        reasons = list(self.groups_of(self.person_key(id_number)))
        born = birth if isinstance(birth, dt.date) else parse_birth(birth)
        if born is None:
            born = birth_from_id(id_number)
        if born is not None and age_on(born, today) >= AGE_PRIORITY_YEARS:
            reasons.append(AGE80)
        return Priority(tuple(reasons))


class LivePriorityRegister(PriorityRegister):
    """A register that follows a live source (pulled reference data), with a seed for when it has none.

    ``source()`` gives the current register, or None when there is none (then ``seed``, a register
    file, is used; with neither, only the 80+ rule applies).  It is called on every lookup, so it
    must be cheap (:meth:`kiosk.reference.ReferenceData.priority_register` is a cached read).  A
    source that raises is logged and the last register it gave stays in use.
    """

    def __init__(self, key: bytes, source: Callable[[], PriorityRegister | None],
                 seed: PriorityRegister | None = None) -> None:
        """A live register under ``key`` reading ``source``, falling back to ``seed``."""
        super().__init__(key)
        self._source = source
        self._seed = seed
        self._last: PriorityRegister | None = None

    def current(self) -> PriorityRegister | None:
        """The register in use now: the source's, else the seed (None: only the 80+ rule)."""
        try:
            register = self._source()
        except Exception:  # a lookup must never fail on the source: keep the last good register
            log.exception("priority register source failed; keeping the last register")
            register = self._last
        else:
            self._last = register
        return register if register is not None else self._seed

    @property
    def from_source(self) -> bool:
        """True when the register in use comes from the source (not the seed)."""
        return self._last is not None

    def __len__(self) -> int:
        register = self.current()
        return 0 if register is None else len(register)

    def groups_of(self, key_hash: str) -> tuple[str, ...]:
        """The registered groups of a person key in the register in use now."""
        register = self.current()
        return () if register is None else register.groups_of(key_hash)
