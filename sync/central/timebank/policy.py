"""Time Bank policy versions (docs/timebank.md §2): caps and ages as dated data.

A policy document is strict JSON (``format``, ``version``, ``valid_from``, ``rules`` with exactly
the :class:`Rules` fields as non-negative integers).  :func:`import_policy` keeps it in
``tb_policies``; :func:`policy_on` answers the version in force on a day (the latest
``valid_from`` on or before it).  The module also holds the time helpers the ledger's rules
share: every stored time is UTC text, and a "day" is a day in Shanghai time (UTC+8, no DST).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from ..errors import CentralError
from .audit import audit
from .schema import tb_policies, tb_reviews

FORMAT = "linfen-timebank-policy"
DEFAULT_POLICY_FILE = Path(__file__).parents[3] / "config/policy/timebank-shanghai-2026.json"
SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
SERVICES = ("companion", "cleaning", "meals", "phone", "anti_fraud", "escort", "repair", "culture")
_POSITIVE = {"coins_per_hour", "auto_close_hours", "max_shift_hours"}


@dataclass(frozen=True)
class Rules:
    """The numbers of one policy version (coins are whole coins here; the ledger counts cc)."""

    coins_per_hour: int
    daily_cap_coins: int
    lifetime_cap_coins: int
    join_age: int
    redeem_age: int
    redeem_age_hardship: int
    signup_ahead_days: int
    max_open_signups: int
    auto_close_hours: int
    min_shift_minutes: int
    max_shift_hours: int


@dataclass(frozen=True)
class Policy:
    """One version of the rules and the first day it is in force."""

    version: str
    valid_from: str
    rules: Rules


def _bad(field: str, words: str) -> CentralError:
    return CentralError("bad_policy", f"政策文件的 {field} 不对：{words} (policy field {field!r} is invalid)")


def parse_policy(doc: dict[str, Any]) -> Policy:
    """Check ``doc`` strictly and return its :class:`Policy`; a CentralError names the bad field."""
    if not isinstance(doc, dict):
        raise _bad("document", "应为 JSON 对象")
    expected = {"format", "version", "valid_from", "rules"}
    for key in sorted(set(doc) - expected):
        raise _bad(key, "多余的字段 (unknown key)")
    for key in sorted(expected - set(doc)):
        raise _bad(key, "缺少此字段 (missing)")
    if doc["format"] != FORMAT:
        raise _bad("format", f"应为 {FORMAT}")
    version = doc["version"]
    if not isinstance(version, str) or not 0 < len(version.strip()) == len(version) <= 40:
        raise _bad("version", "应为 1 到 40 个字符的文字")
    valid_from = doc["valid_from"]
    try:
        if not isinstance(valid_from, str) or len(valid_from) != 10:
            raise ValueError
        dt.date.fromisoformat(valid_from)
    except ValueError:
        raise _bad("valid_from", "应为日期 YYYY-MM-DD") from None
    rules = doc["rules"]
    if not isinstance(rules, dict):
        raise _bad("rules", "应为 JSON 对象")
    names = [f.name for f in fields(Rules)]
    for key in sorted(set(rules) - set(names)):
        raise _bad(f"rules.{key}", "多余的字段 (unknown key)")
    for key in names:
        if key not in rules:
            raise _bad(f"rules.{key}", "缺少此字段 (missing)")
        value = rules[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(f"rules.{key}", "应为整数 (an integer)")
        if value < 0 or (value == 0 and key in _POSITIVE):
            raise _bad(f"rules.{key}", "不能为负数" if value < 0 else "应大于 0")
    parsed = Rules(**{key: rules[key] for key in names})
    if parsed.redeem_age_hardship > parsed.redeem_age:
        raise _bad("rules.redeem_age_hardship", "不能大于 redeem_age")
    return Policy(version, valid_from, parsed)


def _rules_text(rules: Rules) -> str:
    return json.dumps(asdict(rules), sort_keys=True, separators=(",", ":"))


def import_policy(conn: Connection, doc: dict[str, Any], actor: str) -> Policy:
    """Keep ``doc`` as a policy version; the same version again is a no-op, a different one is refused."""
    policy = parse_policy(doc)
    text = _rules_text(policy.rules)
    row = conn.execute(select(tb_policies).where(tb_policies.c.version == policy.version)).first()
    if row is not None:
        if row.valid_from == policy.valid_from and json.loads(row.rules) == json.loads(text):
            return policy
        raise CentralError("policy_conflict", f"政策版本 {policy.version} 已经存在且内容不同；请用新的版本名 "
                                              f"(version {policy.version} exists with other rules)")
    at = now_utc_text()
    conn.execute(insert(tb_policies).values(version=policy.version, valid_from=policy.valid_from, rules=text,
                                            imported_at=at, imported_by=actor))
    audit(conn, actor, "policy_import", f"policy:{policy.version}", {"valid_from": policy.valid_from}, at=at)
    return policy


def load_policy_file(path: Path = DEFAULT_POLICY_FILE) -> dict[str, Any]:
    """The JSON document in ``path`` (CentralError with words when unreadable)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CentralError("bad_policy", f"读不了政策文件 {path}: {exc}") from None


def policy_on(conn: Connection, day: dt.date) -> Policy:
    """The policy in force on ``day``; CentralError ``no_policy`` when none is."""
    row = conn.execute(select(tb_policies).where(tb_policies.c.valid_from <= day.isoformat())
                       .order_by(tb_policies.c.valid_from.desc(), tb_policies.c.version.desc()).limit(1)).first()
    if row is None:
        raise CentralError("no_policy", f"{day.isoformat()} 没有生效的时间银行政策；请管理员先导入政策 "
                                        "(no Time Bank policy in force)")
    return Policy(row.version, row.valid_from, Rules(**json.loads(row.rules)))


def now_utc_text() -> str:
    """Now as stored (the same form as :func:`sync.central.db.now_text`)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def parse_time(at: str | dt.datetime) -> dt.datetime:
    """An aware datetime from ISO text or a datetime; CentralError ``bad_time`` when unreadable or naive."""
    try:
        value = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise CentralError("bad_time", f"时间格式不对：{at!r} (not an ISO time)") from None
    if value.tzinfo is None:
        raise CentralError("bad_time", f"时间缺少时区：{at!r} (a time needs its UTC offset)")
    return value


def utc_text(at: str | dt.datetime) -> str:
    """``at`` as stored: UTC ISO text with microseconds, so stored times compare as text."""
    return parse_time(at).astimezone(dt.UTC).isoformat(timespec="microseconds")


def shanghai_day(at: str | dt.datetime) -> dt.date:
    """The Shanghai calendar day of the instant ``at``."""
    return parse_time(at).astimezone(SHANGHAI).date()


def shanghai_day_bounds(day: dt.date) -> tuple[str, str]:
    """The stored-time range [start, end) of Shanghai ``day``."""
    start = dt.datetime.combine(day, dt.time(), SHANGHAI)
    return utc_text(start), utc_text(start + dt.timedelta(days=1))


def age_on(born_on: str, day: dt.date) -> int:
    """Whole years from ``born_on`` (YYYY-MM-DD) to ``day``."""
    born = dt.date.fromisoformat(born_on)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def open_breach_review(conn: Connection, *, kind: str, volunteer_id: int, amount_cc: int, detail: str,
                       policy: Policy, at: str, actor: str, shift_id: int | None = None,
                       redemption_id: int | None = None) -> int:
    """Open a ``tb_reviews`` row for a breach of ``policy`` (a cap or an age); returns its id."""
    review_id = int(conn.execute(insert(tb_reviews).values(
        kind=kind, volunteer_id=volunteer_id, shift_id=shift_id, amount_cc=amount_cc, detail=detail[:200],
        policy_version=policy.version, opened_at=at, status="open",
        redemption_id=redemption_id)).inserted_primary_key[0])
    audit(conn, actor, "review_open", f"vol:{volunteer_id}",
          {"review": review_id, "kind": kind, "amount_cc": amount_cc, "shift": shift_id}, at=at)
    return review_id
