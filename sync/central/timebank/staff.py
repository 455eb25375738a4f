"""Staff accounts of the Time Bank's pages: organisers, committee workers and admins (docs/timebank.md §7).

A password is kept as ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (``hashlib.scrypt``, n=2**14,
r=8, p=1, 16 random bytes of salt).  :func:`check_staff_password` compares in constant time and
spends one scrypt on an unknown login too, so the answer's time does not tell which logins exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import Connection, insert, select

from ..errors import CentralError
from .audit import audit
from .schema import tb_staff, tb_units

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 10
MAX_PASSWORD = 200
STAFF_ROLES = ("organiser", "committee", "admin")
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{2,39}")
_DUMMY_SALT = bytes(16)


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)


def hash_password(password: str) -> str:
    """The stored form of ``password`` (a fresh random salt)."""
    salt = secrets.token_bytes(16)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${_scrypt(password, salt).hex()}"


def _matches(stored: str, password: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or parts[1:4] != [str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P)]:
        _scrypt(password, _DUMMY_SALT)
        return False
    return hmac.compare_digest(_scrypt(password, bytes.fromhex(parts[4])), bytes.fromhex(parts[5]))


def add_staff(conn: Connection, *, login: str, display_name: str, role: str, password: str, actor: str,
              unit_id: int | None = None, community: str | None = None, at: str) -> int:
    """Add a staff account and return its id; CentralError with words for a bad or taken login or a short password."""
    login = (login or "").strip().lower()
    if not _LOGIN.fullmatch(login):
        raise CentralError("bad_login", "登录名为 3–40 个小写字母、数字或 . _ - (login: 3-40 of a-z 0-9 . _ -)")
    if role not in STAFF_ROLES:
        raise CentralError("bad_role", f"角色只能是 {' / '.join(STAFF_ROLES)} (role must be one of them)")
    name = (display_name or "").strip()
    if not 1 <= len(name) <= 40:
        raise CentralError("bad_name", "显示名称为 1–40 个字 (the display name is 1-40 characters)")
    if len(password) < MIN_PASSWORD or len(password) > MAX_PASSWORD:
        raise CentralError("short_password", f"密码至少 {MIN_PASSWORD} 个字符 (a password is at least "
                                             f"{MIN_PASSWORD} characters)")
    if community is not None and not 1 <= len(community.strip()) <= 64:
        raise CentralError("bad_community", "小区名称为 1–64 个字 (the community is 1-64 characters)")
    if unit_id is not None and conn.execute(select(tb_units.c.id).where(tb_units.c.id == unit_id)).first() is None:
        raise CentralError("unknown_unit", f"没有编号为 {unit_id} 的单位或团队 (no unit {unit_id})")
    if conn.execute(select(tb_staff.c.id).where(tb_staff.c.login == login)).first() is not None:
        raise CentralError("staff_exists", f"登录名 {login} 已经有人用了 (login {login} exists)")
    staff_id = conn.execute(insert(tb_staff).values(
        login=login, display_name=name, role=role, unit_id=unit_id,
        community=community.strip() if community else None, password_hash=hash_password(password), active=1,
        created_at=at, created_by=actor).returning(tb_staff.c.id)).scalar_one()
    audit(conn, actor, "staff_add", f"staff:{login}", {"role": role, "unit_id": unit_id, "community": community},
          at=at)
    return int(staff_id)


def check_staff_password(conn: Connection, login: str, password: str) -> int | None:
    """The id of the active staff account ``login`` when ``password`` is right, else None (same cost either way)."""
    row = conn.execute(select(tb_staff.c.id, tb_staff.c.password_hash, tb_staff.c.active)
                       .where(tb_staff.c.login == (login or "").strip().lower())).first()
    if row is None or len(password) > MAX_PASSWORD:
        _scrypt(password[:MAX_PASSWORD], _DUMMY_SALT)
        return None
    right = _matches(row.password_hash, password)
    return int(row.id) if right and row.active == 1 else None
