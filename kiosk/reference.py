"""What sync pulled, read by the terminal: typed reference data with a change counter (DESIGN §6).

The sync client (:mod:`sync.client`, :mod:`sync.apply`) writes the site's reference feed into the
terminal's store (``reference_data``, one row per kind and key, and ``reference_versions``, per
kind the feed cursor of its last change).  :class:`ReferenceData` is the one reader of it::

    ref = ReferenceData(store)
    ref.priority_register(key)   # PriorityRegister | None (None: the feed holds no register)
    ref.trust_keys()             # TrustList | None, from the ``issuer_key`` rows
    ref.blacklist(), ref.cards(), ref.config_values(), ref.entries("menu")
    ref.policies()               # tuple[Policy, ...] | None: the canteen policies (kiosk.canteen.policy)
    ref.volunteer_roster()       # the Time Bank's volunteers by person key, None before the first pull
    ref.version("priority_register"), ref.changes()   # tell that new data arrived

Formats are read from the data, as the central serves them (its importer's rows):
``priority_register`` rows ``{h, groups}``; ``issuer_key`` rows ``{key_id, public_key, issuer?,
alg?}``; ``blacklist`` ``{card_no, reason}``; ``card`` ``{card_no, status, offline_limit_fen?, h?,
masked_name?, birth_year?, groups?, dibao?, hukou?}``; ``policy`` ``{key, policy_id, version,
valid_from, valid_to, rules}`` (checked in full by :mod:`common.canteen_policy`, as the
central's importer checks it); ``terminal_config`` ``{name, value}``; the other kinds are checked
for their key and required fields (:data:`FORMATS`) and handed out as dictionaries.  A
``terminal_config`` row named :data:`PERSON_KEY_CHECK` (the register key's
:func:`kiosk.priority.key_check`) lets the terminal refuse a register made with another deployment
key instead of silently matching no one.

Each typed view is parsed once per version of its kinds and cached: a read is a dictionary lookup
after one ``PRAGMA data_version`` on the reader's own connection (it moves when the sync client, or
anyone, commits), so the hall's per-resident lookup stays as fast as a register loaded from a
file.  A watcher thread re-parses changed views soon after a pull, off the resident's path.

Malformed pulled data (a row the parser refuses) is logged once per version as an error naming
the kind and row, and the previous good view stays in use: the terminal never crashes on it and
never silently empties its register.  When the feed holds no row of a kind any more, the view is
``None`` (the caller's offline seed applies) and a warning says so.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from common.canteen_policy import Policy, PolicyError, parse_policy
from kiosk.codes.tokens import TRUST_LIST_FORMAT, LiveTrustList, TrustList
from kiosk.errors import KioskError
from kiosk.priority import LivePriorityRegister, PriorityRegister, key_check
from kiosk.store import Store, StoreError
from sync import apply

log = logging.getLogger(__name__)

#: The ``terminal_config`` row holding the deployment key's check value (see module docstring).
PERSON_KEY_CHECK = "person_key_check"
#: Seconds between two looks of the watcher thread for new pulled data.
WATCH_INTERVAL_S = 1.0

#: What each kind's rows must hold: (key field, required fields, whole-number fields) — the
#: central's import formats, read here from the data (the kiosk does not import the central).
FORMATS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "priority_register": ("h", ("groups",), ()),
    "card": ("card_no", ("status",), ("offline_limit_fen", "birth_year")),
    "blacklist": ("card_no", ("reason",), ()),
    "balance": ("card_no", ("balance_fen",), ("balance_fen",)),
    "menu": ("item_id", ("name",), ("price_fen",)),
    "price": ("item_id", ("price_fen",), ("price_fen",)),
    "screening": ("screening_id", ("title", "starts_at"), ("seats", "price_fen", "row_seats")),
    "space": ("space_id", ("name",), ("capacity",)),
    "locker": ("locker_id", ("site_area",), ()),
    "permit": ("permit_id", ("holder", "valid_until"), ()),
    "issuer_key": ("key_id", ("public_key",), ()),
    "terminal_config": ("name", ("value",), ()),
    "policy": ("key", ("policy_id", "version", "valid_from", "rules"), ("version",)),
    "volunteer": ("h", ("member_no", "name_masked", "status"), ("member_no",)),
}
CARD_STATUSES = ("active", "lost", "blocked", "cancelled")
HUKOU = ("local", "other")

Rows = dict[str, list[tuple[str, dict[str, Any]]]]  # kind -> [(key, data)] as pulled


class ReferenceDataError(KioskError):
    """Pulled reference data that cannot be used; the text names the kind and row."""


@dataclass(frozen=True)
class CardEntry:
    """One community card as the central lists it."""

    card_no: str
    status: str  # active | lost | blocked | cancelled
    offline_limit_fen: int | None = None
    h: str | None = None  # the holder's person key (keyed hash), when the central lists it
    masked_name: str | None = None  # e.g. 陈*英
    birth_year: int | None = None
    groups: tuple[str, ...] = ()
    dibao: bool = False  # 低保
    hukou: str | None = None  # local | other

    @property
    def usable(self) -> bool:
        """True for an active card (lost, blocked and cancelled cards are refused)."""
        return self.status == "active"


@dataclass(frozen=True)
class BlacklistEntry:
    """One card on the deny list, and why."""

    card_no: str
    reason: str


@dataclass
class _View:
    """One typed view: its value, the kind versions it was parsed from, and a refused version."""

    kinds: tuple[str, ...]
    parse: Callable[[Rows], Any]
    value: Any = None
    version: tuple[int, ...] | None = None  # None: never loaded
    refused: tuple[int, ...] | None = None  # a version whose data was malformed (logged once)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _checked_rows(kind: str, rows: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """``rows`` after checking each against :data:`FORMATS`; ReferenceDataError naming the first bad one."""
    spec = FORMATS.get(kind)
    for key, data in rows:
        if not isinstance(data, dict):
            raise ReferenceDataError(f"{kind} {key!r}: not an object")
        if spec is None:
            continue
        key_field, required, integers = spec
        if str(data.get(key_field, key)) != key:
            raise ReferenceDataError(f"{kind} {key!r}: its {key_field} field does not match its key")
        missing = [name for name in required if name not in data]
        if missing:
            raise ReferenceDataError(f"{kind} {key!r}: missing {', '.join(missing)}")
        for name in integers:
            value = data.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ReferenceDataError(f"{kind} {key!r}: {name} is not a whole number")
    return rows


def _config(rows: Rows) -> dict[str, Any]:
    return {key: data["value"] for key, data in _checked_rows("terminal_config", rows["terminal_config"])}


def _register_parser(key: bytes) -> Callable[[Rows], PriorityRegister | None]:
    expected = key_check(key)

    def parse(rows: Rows) -> PriorityRegister | None:
        items = _checked_rows("priority_register", rows["priority_register"])
        if not items:
            return None
        check = _config(rows).get(PERSON_KEY_CHECK)
        if check is not None and check != expected:
            raise ReferenceDataError("priority_register: made with another deployment key "
                                     f"(terminal_config {PERSON_KEY_CHECK} does not match this terminal's key)")
        entries: dict[str, list[str]] = {}
        for h, data in items:
            groups = data["groups"]
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise ReferenceDataError(f"priority_register {h[:12]}…: groups is not a list of names")
            entries[h] = groups
        try:
            return PriorityRegister(key, entries)
        except KioskError as exc:
            raise ReferenceDataError(f"priority_register: {exc}") from None

    return parse


def _trust(rows: Rows) -> TrustList | None:
    items = _checked_rows("issuer_key", rows["issuer_key"])
    if not items:
        return None
    keys = [{"kid": kid, "issuer": data.get("issuer", ""), "alg": data.get("alg", "Ed25519"),
             "public_key": data["public_key"]} for kid, data in items]
    try:
        return TrustList.from_document({"format": TRUST_LIST_FORMAT, "keys": keys})
    except KioskError as exc:
        raise ReferenceDataError(f"issuer_key: {exc}") from None


def _blacklist(rows: Rows) -> Mapping[str, BlacklistEntry] | None:
    items = _checked_rows("blacklist", rows["blacklist"])
    if not items:
        return None
    return MappingProxyType({no: BlacklistEntry(no, str(data["reason"])) for no, data in items})


def _cards(rows: Rows) -> Mapping[str, CardEntry] | None:
    items = _checked_rows("card", rows["card"])
    if not items:
        return None
    cards = {}
    for no, data in items:
        if data["status"] not in CARD_STATUSES:
            raise ReferenceDataError(f"card {no!r}: status must be one of {', '.join(CARD_STATUSES)}")
        groups = data.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ReferenceDataError(f"card {no!r}: groups is not a list of names")
        for name in ("h", "masked_name"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ReferenceDataError(f"card {no!r}: {name} is not text")
        if data.get("dibao") is not None and not isinstance(data["dibao"], bool):
            raise ReferenceDataError(f"card {no!r}: dibao is not true or false")
        if data.get("hukou") is not None and data["hukou"] not in HUKOU:
            raise ReferenceDataError(f"card {no!r}: hukou must be one of {', '.join(HUKOU)}")
        cards[no] = CardEntry(no, data["status"], data.get("offline_limit_fen"), h=data.get("h"),
                              masked_name=data.get("masked_name"), birth_year=data.get("birth_year"),
                              groups=tuple(groups), dibao=data.get("dibao") is True, hukou=data.get("hukou"))
    return MappingProxyType(cards)


def _policies(rows: Rows) -> tuple[Policy, ...] | None:
    items = _checked_rows("policy", rows["policy"])
    if not items:
        return None
    policies = []
    for key, data in items:
        try:
            policy = parse_policy(data)
        except PolicyError as exc:
            raise ReferenceDataError(f"policy {key!r}: {exc}") from None
        if policy.key != key:
            raise ReferenceDataError(f"policy {key!r}: its policy_id:version is {policy.key!r}")
        policies.append(policy)
    return tuple(sorted(policies, key=lambda p: (p.policy_id, p.version)))


def _entries_parser(kind: str) -> Callable[[Rows], Mapping[str, Mapping[str, Any]]]:
    def parse(rows: Rows) -> Mapping[str, Mapping[str, Any]]:
        return MappingProxyType({key: MappingProxyType(data) for key, data in _checked_rows(kind, rows[kind])})

    return parse


class ReferenceData:
    """Typed, cached views of the reference data the sync client pulled into ``store``.

    ``store`` must have been opened with :data:`sync.apply.MIGRATIONS`.  ``watch``: start a thread
    that re-parses changed views soon after a pull (it ends by itself when the store is closed, or
    with :meth:`close`).  Every method is safe from any thread and never raises on bad pulled data.
    """

    def __init__(self, store: Store, *, watch: bool = True, watch_interval_s: float = WATCH_INTERVAL_S) -> None:
        """Open a read connection of its own on the store's file."""
        apply.check_schema(store)
        self._store = store
        rows = store.db.conn.execute("PRAGMA database_list").fetchall()
        self._path = next(str(r[2]) for r in rows if r[1] == "main")
        self._conn = self._connect()
        self._lock = threading.Lock()  # the watch connection, _data_version and _versions
        self._data_version: int | None = None
        self._versions: dict[str, int] = {}
        self._views: dict[Any, _View] = {}
        self._views_lock = threading.Lock()
        self._closed = threading.Event()
        self._poll_failed = False
        self._poll()
        self._thread: threading.Thread | None = None
        if watch:
            self._thread = threading.Thread(target=self._watch, args=(watch_interval_s,), name="reference-watch",
                                            daemon=True)
            self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
        return conn

    # -- change tracking ------------------------------------------------------------------

    def _poll(self) -> None:
        """Re-read the per-kind versions if anything was committed to the file since the last look."""
        with self._lock:
            if self._closed.is_set():
                return
            try:
                stamp = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
                if stamp == self._data_version:
                    return
                versions = dict(self._conn.execute("SELECT kind, cursor FROM reference_versions").fetchall())
            except sqlite3.Error as exc:
                if not self._poll_failed:  # once, not per resident
                    log.error("reference data: cannot read the store's versions (%s); keeping what is loaded", exc)
                self._poll_failed = True
                return
            self._poll_failed = False
            self._data_version = stamp
            self._versions = {str(k): int(v) for k, v in versions.items()}

    def version(self, kind: str) -> int:
        """The feed cursor of the last change of ``kind`` the terminal applied (0: never pulled)."""
        self._poll()
        return self._versions.get(kind, 0)

    def changes(self) -> int:
        """A counter that moves whenever new reference data of any kind was applied (the last cursor)."""
        self._poll()
        return max(self._versions.values(), default=0)

    # -- typed views ----------------------------------------------------------------------

    def priority_register(self, key: bytes) -> PriorityRegister | None:
        """The pulled priority register under the deployment ``key``, or None when the feed has none."""
        return self._get(("priority_register", bytes(key)), ("priority_register", "terminal_config"),
                         lambda: _register_parser(key))

    def trust_keys(self) -> TrustList | None:
        """The code issuers' keys (``issuer_key`` rows) as a trust list, or None when the feed has none."""
        return self._get("issuer_key", ("issuer_key",), lambda: _trust)

    def blacklist(self) -> Mapping[str, BlacklistEntry] | None:
        """Denied cards by card number, or None when the feed has none."""
        return self._get("blacklist", ("blacklist",), lambda: _blacklist)

    def cards(self) -> Mapping[str, CardEntry] | None:
        """Community cards by card number, or None when the feed has none."""
        return self._get("card", ("card",), lambda: _cards)

    def policies(self) -> tuple[Policy, ...] | None:
        """The canteen policies (every version the feed holds, by id and version), or None when it has none.

        Pick the one for a day with :func:`kiosk.canteen.policy.policy_in_force`.
        """
        return self._get("policy", ("policy",), lambda: _policies)

    def config_values(self) -> Mapping[str, Any]:
        """``terminal_config`` rows, name to value (empty when the feed has none)."""
        value = self._get("terminal_config", ("terminal_config",), lambda: lambda rows: MappingProxyType(
            _config(rows)))
        return value if value is not None else MappingProxyType({})

    def entries(self, kind: str) -> Mapping[str, Mapping[str, Any]]:
        """Every row of ``kind``, key to data (read-only; empty when the feed has none)."""
        if kind not in FORMATS:
            raise ReferenceDataError(f"unknown reference kind {kind!r}; one of: {', '.join(FORMATS)}")
        value = self._get(("entries", kind), (kind,), lambda: _entries_parser(kind))
        return value if value is not None else MappingProxyType({})

    def volunteer_roster(self) -> Mapping[str, Mapping[str, Any]] | None:
        """The Time Bank's volunteers by person key (``{h, member_no, name_masked, status}``); None when no
        roster was ever pulled (a roster emptied later is an empty mapping: nobody is registered)."""
        if self.version("volunteer") == 0:
            return None
        return self.entries("volunteer")

    def live_register(self, key: bytes, seed: PriorityRegister | None = None) -> LivePriorityRegister:
        """A register that follows the pulled data, and uses ``seed`` (a file) while the feed has none.

        The pulled register is parsed now (at start-up), so the first resident does not wait for it.
        """
        self.priority_register(key)
        return LivePriorityRegister(key, lambda: self.priority_register(key), seed)

    def live_trust(self, seed: TrustList | None = None) -> LiveTrustList:
        """A trust list that follows the pulled issuer keys, and uses ``seed`` while the feed has none."""
        self.trust_keys()  # parsed now, at start-up
        return LiveTrustList(self.trust_keys, seed)

    def refresh(self) -> None:
        """Re-parse, now, every view whose data changed (the watcher does this within a second)."""
        self._poll()
        with self._views_lock:
            views = list(self._views.values())
        for view in views:
            self._ensure(view)

    def close(self) -> None:
        """Stop the watcher and close the read connection (views already parsed stay usable)."""
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            self._conn.close()

    # -- internals ------------------------------------------------------------------------

    def _get(self, name: Any, kinds: tuple[str, ...], parser: Callable[[], Callable[[Rows], Any]]) -> Any:
        self._poll()
        view = self._views.get(name)
        if view is None:
            with self._views_lock:
                view = self._views.setdefault(name, _View(kinds, parser()))
        return self._ensure(view)

    def _want(self, view: _View) -> tuple[int, ...]:
        return tuple(self._versions.get(kind, 0) for kind in view.kinds)

    def _ensure(self, view: _View) -> Any:
        """The view's value, re-parsed first if its kinds moved (and that version was not refused)."""
        want = self._want(view)
        if want == view.version or want == view.refused:
            return view.value
        with view.lock:  # one parse at a time; a second caller waits for the fresh value
            want = self._want(view)
            if want != view.version and want != view.refused and not self._closed.is_set():
                self._load(view)
        return view.value

    def _load(self, view: _View) -> None:
        try:
            version, rows = self._read(view.kinds)
        except (sqlite3.Error, ValueError) as exc:
            log.error("reference data: cannot read %s (%s); keeping what is loaded", "/".join(view.kinds), exc)
            return
        if version == view.version:
            return
        try:
            value = view.parse(rows)
        except Exception as exc:  # any refusal of pulled data: logged, the previous good value stays
            view.refused = version
            kept = "the previous data" if view.version is not None and view.value is not None else "no data"
            at = ", ".join(f"{kind} at feed cursor {v}" for kind, v in zip(view.kinds, version, strict=True))
            log.error("reference data refused (%s), keeping %s: %s", at, kept, exc)
            return
        if value is None and view.value is not None:
            log.warning("reference data: the central now holds no %s rows; the configured file (if any) applies",
                        view.kinds[0])
        view.value = value
        view.version = version
        view.refused = None

    def _read(self, kinds: tuple[str, ...]) -> tuple[tuple[int, ...], Rows]:
        """The kinds' versions and rows, read in one snapshot on a connection of its own."""
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            versions = dict(conn.execute("SELECT kind, cursor FROM reference_versions").fetchall())
            rows: Rows = {}
            for kind in kinds:
                rows[kind] = [(key, json.loads(data)) for key, data in conn.execute(
                    "SELECT key, data FROM reference_data WHERE kind = ? ORDER BY key", [kind])]
            conn.execute("COMMIT")
        finally:
            conn.close()
        return tuple(int(versions.get(kind, 0)) for kind in kinds), rows

    def _watch(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            try:
                self._store.db  # noqa: B018  (raises once the store is closed: the watcher ends with it)
            except StoreError:
                break
            try:
                self.refresh()
            except Exception:  # the watcher must not die on a surprise; the next look tries again
                log.exception("reference data: the watcher failed")
        with self._lock:
            if not self._closed.is_set():
                self._closed.set()
                self._conn.close()
