"""The hall's staff registry and counter sessions: a clerk logs in at a window with a staff card and a PIN.

The hall owns the queue, so it owns who may work it (DESIGN §7: "staff act only after a
staff-card tap and a PIN").  Nothing secret is kept in the clear:

* the card is known by ``card_key`` = HMAC-SHA256 of ``"staff-card:" + UID`` under the
  deployment's person key (:func:`kiosk.priority.person_key`, the same keyed hash used for
  residents, with its own prefix so a card can never match an ID number);
* the PIN by ``scrypt$n$r$p$salt$hash`` (:func:`hash_pin`): a slow KDF with a random salt per
  clerk, its parameters stored with the hash so they can be raised later;
* a session by the SHA-256 of its token; the token itself only travels to the counter.

Five wrong PINs in a row lock the card for five minutes.  A window has at most one open
session; logging in at a window ends the session open there, and the clerk's session at any
other window.  A session ends on logout, after :data:`SESSION_IDLE_S` without use or
:data:`SESSION_MAX_S` after login.  Every refusal is a :class:`StaffRefused` (HTTP 403) with
words for the clerk in Chinese and English.

Events: ``staff.set`` / ``staff.removed`` {staff_id} (no name, no card, no PIN) and
``staff.locked`` {staff_id, until}.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.priority import person_key
from kiosk.store import Action, Store

from .errors import HallError
from .services import HALL_TZ, iso_utc
from .tickets import check_staff

#: Wrong PINs in a row that lock a card, and for how long (seconds).
MAX_PIN_FAILURES = 5
LOCKOUT_S = 300.0
#: A session ends after this long without a request, or this long after login (seconds).
SESSION_IDLE_S = 2 * 3600.0
SESSION_MAX_S = 12 * 3600.0
#: A session's last use is written at most this often (seconds), so calls stay one write each.
SEEN_WRITE_S = 60.0

_UID = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
_PIN = re.compile(r"^\d{4,8}$")


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters (n: CPU/memory cost, a power of two; r: block size; p: parallelism)."""

    n: int = 2**14
    r: int = 8
    p: int = 1


DEFAULT_KDF = ScryptParams()


class StaffRefused(HallError):
    """A login or a counter action the staff rules refuse (unknown card, wrong PIN, no session...)."""

    status = 403


# -- secrets ------------------------------------------------------------------------------------------
def normalise_uid(card_uid: str) -> str:
    """A card UID as upper-case hex of 4, 7 or 10 bytes; :class:`StaffRefused` ``bad_card`` otherwise."""
    uid = card_uid.strip().upper().replace(" ", "") if isinstance(card_uid, str) else ""
    if not _UID.match(uid):
        raise StaffRefused("bad_card", "the card UID must be 4, 7 or 10 bytes in hex", "无法识别此卡，请重新刷卡")
    return uid


def card_key(card_uid: str, key: bytes) -> str:
    """The keyed hash a staff card is stored and looked up by (the raw UID is never kept)."""
    return person_key(f"staff-card:{normalise_uid(card_uid)}", key)


def check_pin(pin: str) -> str:
    """A PIN the counter keypad can type: 4–8 digits, not one digit repeated nor a plain run (1234, 9876)."""
    if not isinstance(pin, str) or not _PIN.match(pin):
        raise HallError("bad_pin", "the PIN must be 4 to 8 digits", "密码须为 4 至 8 位数字")
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({0}, {1}, {9}):
        raise HallError("weak_pin", "the PIN must not be one digit repeated or a run like 1234",
                        "密码不能是同一数字重复或连续数字")
    return pin


def hash_pin(pin: str, params: ScryptParams = DEFAULT_KDF, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``pin`` with a fresh 16-byte salt (hex fields)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode("ascii"), salt=salt, n=params.n, r=params.r, p=params.p,
                            maxmem=256 * params.n * params.r + 1024 * 1024, dklen=32)
    return f"scrypt${params.n}${params.r}${params.p}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` hashes to ``stored`` under the stored salt and parameters (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        params = ScryptParams(int(n), int(r), int(p))
        if scheme != "scrypt":
            return False
        again = hash_pin(pin, params, bytes.fromhex(salt)).rsplit("$", 1)[1]
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(again, digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def check_display_name(name: str) -> str:
    """A clerk's display name: 1–20 printable characters (a masked form such as 王*丽 is fine)."""
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= 20 or not name.isprintable():
        raise HallError("bad_name", "the display name must be 1 to 20 printable characters", "姓名须为 1 至 20 个字")
    return name


# -- records --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StaffMember:
    """One enrolled clerk (no card UID, no PIN)."""

    staff_id: str
    display_name: str
    failures: int
    locked_until: str | None
    updated_at: str


@dataclass(frozen=True)
class StaffSession:
    """A clerk logged in at a window; ``token`` is only filled in by :meth:`StaffRegistry.login`."""

    staff_id: str
    window: int
    display_name: str
    started_at: str
    token: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (with the token: only ever sent to the counter that logged in)."""
        return {"staff_id": self.staff_id, "window": self.window, "display_name": self.display_name,
                "started_at": self.started_at, "token": self.token}


_STAFF_COLUMNS = "staff_id, display_name, failures, locked_until, updated_at"


class StaffRegistry:
    """Enrolled clerks and their counter sessions, in the hall's store (tables of :mod:`kiosk.hall.staff_tables`)."""

    def __init__(self, store: Store, key: bytes, *, clock: Callable[[], datetime] | None = None,
                 kdf: ScryptParams = DEFAULT_KDF, max_failures: int = MAX_PIN_FAILURES, lockout_s: float = LOCKOUT_S,
                 idle_s: float = SESSION_IDLE_S, max_s: float = SESSION_MAX_S) -> None:
        """``key``: the deployment person key; ``clock`` returns an aware now; ``kdf`` for new PINs."""
        self.store = store
        self._key = key
        self._clock = clock or (lambda: datetime.now(HALL_TZ))
        self.kdf = kdf
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.idle_s = idle_s
        self.max_s = max_s
        self._dummy = hash_pin("000000", kdf, b"\0" * 16)  # unknown cards cost as much as known ones

    # -- enrolment (the admin command) ------------------------------------------------------------------
    def set(self, staff_id: str, display_name: str, card_uid: str, pin: str) -> StaffMember:
        """Enrol a clerk, or replace their name, card and PIN (clears a lockout, ends their sessions)."""
        check_staff(1, staff_id)
        name = check_display_name(display_name)
        ckey = card_key(card_uid, self._key)
        pin_hash = hash_pin(check_pin(pin), self.kdf)
        now = iso_utc(self._clock())
        with self.store.action() as act:
            other = act.db.execute("SELECT staff_id FROM hall_staff WHERE card_key = ? AND staff_id != ?",
                                   [ckey, staff_id]).fetchone()
            if other is not None:
                raise HallError("card_taken", f"this card is already enrolled for staff {other[0]}",
                                f"此卡已登记给工号 {other[0]}")
            act.db.execute("INSERT INTO hall_staff (staff_id, display_name, card_key, pin_hash, failures, locked_until, "
                           "updated_at) VALUES (?, ?, ?, ?, 0, NULL, ?) ON CONFLICT (staff_id) DO UPDATE SET "
                           "display_name = excluded.display_name, card_key = excluded.card_key, "
                           "pin_hash = excluded.pin_hash, failures = 0, locked_until = NULL, "
                           "updated_at = excluded.updated_at", [staff_id, name, ckey, pin_hash, now])
            self._end_sessions(act, "staff_id = ?", [staff_id], "re-enrolled")
            act.emit("staff.set", {"staff_id": staff_id})
        return self.member(staff_id)

    def remove(self, staff_id: str) -> None:
        """Remove a clerk (their open sessions end at once); NotFound-like refusal when unknown."""
        with self.store.action() as act:
            cur = act.db.execute("DELETE FROM hall_staff WHERE staff_id = ?", [staff_id])
            if cur.rowcount != 1:
                raise HallError("unknown_staff", f"no staff {staff_id!r} is enrolled", f"没有登记工号 {staff_id}")
            self._end_sessions(act, "staff_id = ?", [staff_id], "removed")
            act.emit("staff.removed", {"staff_id": staff_id})

    def members(self) -> list[StaffMember]:
        """Every enrolled clerk, by staff id."""
        with self.store.action() as act:
            rows = act.db.execute(f"SELECT {_STAFF_COLUMNS} FROM hall_staff ORDER BY staff_id").fetchall()
        return [StaffMember(*row) for row in rows]

    def member(self, staff_id: str) -> StaffMember:
        """One clerk by id."""
        with self.store.action() as act:
            row = act.db.execute(f"SELECT {_STAFF_COLUMNS} FROM hall_staff WHERE staff_id = ?", [staff_id]).fetchone()
        if row is None:
            raise HallError("unknown_staff", f"no staff {staff_id!r} is enrolled", f"没有登记工号 {staff_id}")
        return StaffMember(*row)

    # -- login ------------------------------------------------------------------------------------------
    def authenticate(self, card_uid: str, pin: str) -> StaffMember:
        """The clerk whose card and PIN these are; :class:`StaffRefused` ``unknown_card``, ``locked``, ``wrong_pin``.

        A wrong PIN is counted (and a lockout started) in the store before the refusal is raised.
        """
        ckey = card_key(card_uid, self._key)
        now = self._clock()
        with self.store.action() as act:
            row = act.db.execute(f"SELECT {_STAFF_COLUMNS}, pin_hash FROM hall_staff WHERE card_key = ?",
                                 [ckey]).fetchone()
            if row is None:
                verify_pin(str(pin), self._dummy)
                refusal: StaffRefused | None = StaffRefused(
                    "unknown_card", "this card is not a staff card enrolled at this hall: ask the administrator",
                    "此卡不是本大厅登记的工作证，请联系管理员")
            else:
                member, pin_hash = StaffMember(*row[:5]), row[5]
                refusal = self._check_pin(act, member, pin_hash, str(pin), now)
        if refusal is not None:
            raise refusal
        return member

    def _check_pin(self, act: Action, member: StaffMember, pin_hash: str, pin: str, now: datetime) -> StaffRefused | None:
        if member.locked_until and datetime.fromisoformat(member.locked_until) > now:
            minutes = max(1, round((datetime.fromisoformat(member.locked_until) - now).total_seconds() / 60 + 0.49))
            return StaffRefused("locked", f"too many wrong PINs: this card is locked, try again in {minutes} min",
                                f"密码错误次数过多，工作证已锁定，请 {minutes} 分钟后再试")
        if verify_pin(pin, pin_hash):
            if member.failures or member.locked_until:
                act.db.execute("UPDATE hall_staff SET failures = 0, locked_until = NULL WHERE staff_id = ?",
                               [member.staff_id])
            return None
        failures = member.failures + 1
        if failures >= self.max_failures:
            until = iso_utc(now + timedelta(seconds=self.lockout_s))
            act.db.execute("UPDATE hall_staff SET failures = 0, locked_until = ? WHERE staff_id = ?",
                           [until, member.staff_id])
            act.emit("staff.locked", {"staff_id": member.staff_id, "until": until})
            minutes = max(1, round(self.lockout_s / 60))
            return StaffRefused("locked", f"wrong PIN {failures} times: this card is locked for {minutes} min",
                                f"密码连续错误 {failures} 次，工作证已锁定 {minutes} 分钟")
        act.db.execute("UPDATE hall_staff SET failures = ?, locked_until = NULL WHERE staff_id = ?",
                       [failures, member.staff_id])
        left = self.max_failures - failures
        return StaffRefused("wrong_pin", f"wrong PIN: {left} more tries before the card is locked",
                            f"密码错误，还可再试 {left} 次")

    def login(self, window: int, card_uid: str, pin: str) -> StaffSession:
        """Check card and PIN, then open a session bound to (staff id, ``window``) and return it with its token."""
        check_staff(window, "x")
        member = self.authenticate(card_uid, pin)
        token = secrets.token_urlsafe(32)
        now = iso_utc(self._clock())
        with self.store.action() as act:
            self._end_sessions(act, "window_no = ?", [window], "replaced")
            self._end_sessions(act, "staff_id = ?", [member.staff_id], "moved")
            act.db.execute("INSERT INTO hall_sessions (token_hash, staff_id, window_no, started_at, seen_at) "
                           "VALUES (?, ?, ?, ?, ?)", [_token_hash(token), member.staff_id, window, now, now])
        return StaffSession(member.staff_id, window, member.display_name, now, token)

    def logout(self, token: str) -> None:
        """End the session of ``token`` (nothing happens for an unknown or ended one)."""
        with self.store.action() as act:
            self._end_sessions(act, "token_hash = ?", [_token_hash(token)], "logout")

    def _end_sessions(self, act: Action, where: str, params: list[object], reason: str) -> None:
        act.db.execute(f"UPDATE hall_sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND {where}",
                       [iso_utc(self._clock()), reason, *params])

    def check(self, token: str | None, staff_id: str | None, window: int) -> StaffSession:
        """The open session ``token`` if it belongs to ``staff_id`` at ``window``; :class:`StaffRefused` otherwise.

        Reasons: ``no_session`` (none given or unknown), ``session_ended`` (logged out, or another
        login at the window or of the clerk), ``session_expired``, ``wrong_staff``, ``wrong_window``.
        """
        if not token or not staff_id:
            raise StaffRefused("no_session", f"window {window}: log in with a staff card first",
                               f"{window} 号窗口尚未登录，请先刷工作证")
        now = self._clock()
        with self.store.action() as act:
            row = act.db.execute(
                "SELECT s.staff_id, s.window_no, s.started_at, s.seen_at, s.ended_at, s.end_reason, "
                "COALESCE(m.display_name, '') FROM hall_sessions s LEFT JOIN hall_staff m USING (staff_id) "
                "WHERE s.token_hash = ?", [_token_hash(token)]).fetchone()
            if row is None:
                raise StaffRefused("no_session", "this login is not known to the hall: log in with a staff card",
                                   "登录无效，请重新刷工作证")
            sid, win, started, seen, ended, reason, name = row
            if ended is not None:
                words = {"replaced": ("someone else logged in at this window", "本窗口已有其他工作人员登录"),
                         "moved": ("this clerk logged in at another window", "该工号已在其他窗口登录"),
                         "expired": ("the login expired", "登录已过期")}.get(reason, ("you were logged out", "已退出登录"))
                raise StaffRefused("session_ended", f"{words[0]}: log in again with your staff card",
                                   f"{words[1]}，请重新刷工作证")
            if sid != staff_id:
                raise StaffRefused("wrong_staff", f"this login belongs to another clerk, not staff {staff_id}",
                                   f"此登录不属于工号 {staff_id}")
            if win != window:
                raise StaffRefused("wrong_window", f"this login is for window {win}, not window {window}",
                                   f"此登录属于 {win} 号窗口，不是 {window} 号窗口")
            idle = (now - datetime.fromisoformat(seen)).total_seconds()
            age = (now - datetime.fromisoformat(started)).total_seconds()
            if idle > self.idle_s or age > self.max_s:
                self._end_sessions(act, "token_hash = ?", [_token_hash(token)], "expired")
                expired = True
            else:
                expired = False
                if idle > SEEN_WRITE_S:
                    act.db.execute("UPDATE hall_sessions SET seen_at = ? WHERE token_hash = ?",
                                   [iso_utc(now), _token_hash(token)])
        if expired:
            raise StaffRefused("session_expired", "the login expired: log in again with your staff card",
                               "登录已过期，请重新刷工作证")
        return StaffSession(sid, win, name, started)

    def window_staff(self, window: int) -> StaffSession | None:
        """The open session at ``window``, if any (no token)."""
        with self.store.action() as act:
            row = act.db.execute("SELECT s.staff_id, s.window_no, s.started_at, COALESCE(m.display_name, '') FROM "
                                 "hall_sessions s LEFT JOIN hall_staff m USING (staff_id) WHERE s.window_no = ? AND "
                                 "s.ended_at IS NULL", [window]).fetchone()
        return StaffSession(row[0], row[1], row[3], row[2]) if row else None
