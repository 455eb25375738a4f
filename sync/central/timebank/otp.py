"""One-time sign-in codes sent by SMS (docs/timebank.md §7), and the phone number's keyed hash.

A code is 6 digits from :mod:`secrets`, good for 5 minutes and 5 wrong tries; a phone gets at
most 5 codes a (Shanghai) day and one per 60 s.  Only ``HMAC(phone secret, phone key + code)`` is
kept in ``tb_otps``; a used code is wiped.  A phone number is 11 digits starting with 1 (spaces,
dashes and a ``+86`` are dropped; full-width digits are read); it is stored only as
``phone_key`` = HMAC-SHA256 under the ``phone`` secret of ``tb_secrets``, and shown masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata

from sqlalchemy import Connection, insert, select, update

from ..errors import CentralError
from .audit import audit
from .policy import parse_time, shanghai_day, utc_text
from .schema import tb_otps
from .sms import SmsGateway, mask_phone
from .web_auth import secret_in

CODE_DIGITS = 6
VALID_S = 5 * 60
MAX_TRIES = 5
MAX_SENDS_PER_DAY = 5
RESEND_AFTER_S = 60


def clean_phone(text: str) -> str:
    """The 11-digit mobile number in ``text``; CentralError ``bad_phone`` with words otherwise."""
    phone = unicodedata.normalize("NFKC", text or "").strip()
    for blank in (" ", "-", "\u3000", "\t"):
        phone = phone.replace(blank, "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if len(phone) != 11 or not phone.isascii() or not phone.isdigit() or not phone.startswith("1"):
        raise CentralError("bad_phone", "请输入 11 位手机号码（以 1 开头），例如 13812345678。")
    return phone


def phone_key(conn: Connection, phone: str) -> str:
    """The keyed hash of an (already cleaned) phone number: HMAC-SHA256 under the ``phone`` secret."""
    return hmac.new(secret_in(conn, "phone"), phone.encode("ascii"), hashlib.sha256).hexdigest()


def _code_hash(conn: Connection, key: str, code: str) -> str:
    return hmac.new(secret_in(conn, "phone"), f"otp.{key}.{code}".encode(), hashlib.sha256).hexdigest()


def send_code(conn: Connection, sms: SmsGateway, phone: str, now: str) -> None:
    """Make a new code for ``phone`` and text it; CentralError with words when too soon or too often.

    Inside the caller's write transaction: when the gateway fails the row is rolled back with it.
    """
    phone = clean_phone(phone)
    key = phone_key(conn, phone)
    at = parse_time(now)
    day = shanghai_day(at).isoformat()
    row = conn.execute(select(tb_otps).where(tb_otps.c.phone_key == key)).first()
    sends = 1
    if row is not None and row.day == day:
        waited = (at - parse_time(row.sent_at)).total_seconds()
        if row.sends_today >= MAX_SENDS_PER_DAY:
            raise CentralError("otp_daily_limit", f"这个手机号今天已经获取了 {MAX_SENDS_PER_DAY} 次验证码，请明天再试。")
        if waited < RESEND_AFTER_S:
            raise CentralError("otp_too_soon", f"请 {RESEND_AFTER_S} 秒后再获取验证码。")
        sends = row.sends_today + 1
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    values = {"code_hash": _code_hash(conn, key, code), "sent_at": utc_text(at),
              "expires_at": utc_text(at + dt.timedelta(seconds=VALID_S)), "attempts": 0,
              "sends_today": sends, "day": day}
    if row is None:
        conn.execute(insert(tb_otps).values(phone_key=key, **values))
    else:
        conn.execute(update(tb_otps).where(tb_otps.c.phone_key == key).values(**values))
    audit(conn, "system", "otp_send", None, {"phone": mask_phone(phone), "today": sends}, at=utc_text(at))
    sms.send(phone, f"【临汾路时间银行】您的验证码是 {code}，{VALID_S // 60} 分钟内有效。请不要告诉任何人。")


def verify_code(conn: Connection, phone: str, code: str, now: str) -> bool:
    """True for the right, fresh code (then wiped); False for a wrong one (a try is counted).

    CentralError with words when there is no code to check: none sent, used, expired, or
    :data:`MAX_TRIES` wrong tries already (a new code is needed then).
    """
    phone = clean_phone(phone)
    code = unicodedata.normalize("NFKC", code or "").strip()
    key = phone_key(conn, phone)
    row = conn.execute(select(tb_otps).where(tb_otps.c.phone_key == key)).first()
    if row is None or not row.code_hash:
        raise CentralError("otp_none", "请先获取验证码（或重新获取：验证码只能用一次）。")
    if row.attempts >= MAX_TRIES:
        raise CentralError("otp_locked", f"验证码已经输错 {MAX_TRIES} 次，请重新获取验证码。")
    if parse_time(now) >= parse_time(row.expires_at):
        raise CentralError("otp_expired", f"验证码已过期（{VALID_S // 60} 分钟内有效），请重新获取。")
    right = len(code) == CODE_DIGITS and code.isascii() and code.isdigit() and \
        hmac.compare_digest(row.code_hash, _code_hash(conn, key, code))
    if right:
        conn.execute(update(tb_otps).where(tb_otps.c.phone_key == key).values(code_hash=""))
    else:
        conn.execute(update(tb_otps).where(tb_otps.c.phone_key == key).values(attempts=row.attempts + 1))
    return right
