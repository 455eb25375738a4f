"""Members: registration (on a phone or by staff), duplicates, lookups and the profile (docs/timebank.md §4).

A member row keeps the person key of the ID number (never the number), the masked name and ID,
the birth date read from the ID, and the phone only as its keyed hash and masked form.  The
profile asks little at registration; what an activity ``needs`` (emergency contact, photo,
certificates...) is asked before the first such activity (:func:`missing_for`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.person_keys import normalise_id, person_key
from sync.pii import valid_id18

from ..errors import CentralError
from .audit import audit
from .otp import clean_phone, phone_key
from .policy import SERVICES, age_on, policy_on, shanghai_day
from .schema import tb_units, tb_volunteers

log = logging.getLogger("linfen.central.timebank")

SERVICE_ZH = {"companion": "陪伴聊天", "cleaning": "清洁打扫", "meals": "助餐送餐", "phone": "教用手机",
              "anti_fraud": "反诈宣传", "escort": "陪同就医", "repair": "小修小补", "culture": "文体活动"}
MAX_SERVICES = 3
AVAILABILITY_ZH = ((1, "工作日上午"), (2, "工作日下午"), (4, "周末上午"), (8, "周末下午"))
#: Profile fields an activity may need before a member signs up (``tb_activities.needs``, comma-separated).
NEEDS_ZH = {"emergency": "紧急联系人", "photo": "照片", "skills": "技能", "certificates": "证书",
            "team": "所属团队", "phone": "手机号"}
VIA = ("phone", "staff")
MAX_CERTIFICATES = 10
MAX_SKILLS_CHARS = 200
_NAME = re.compile(r"[\u3400-\u9fffA-Za-z·•. ]{2,20}")
_RELATION = 20


class AlreadyRegistered(CentralError):
    """The ID number is already a member's: the page says so, with the masked phone on file."""

    def __init__(self, member: Member) -> None:
        """Carry the member already registered."""
        super().__init__("already_registered", "您已经登记过了。")
        self.member = member


@dataclass(frozen=True)
class Member:
    """One member as the pages and other modules read it (never the raw ID or phone; no photo bytes)."""

    id: int
    person_key: str
    name_masked: str
    id_masked: str
    born_on: str
    phone_key: str | None
    phone_masked: str | None
    community: str
    services: tuple[str, ...]
    availability: int
    hardship: bool
    rules_version: str
    status: str
    registered_via: str
    registered_by: str
    registered_at: str
    team_id: int | None
    emergency_relation: str | None
    emergency_phone: str | None
    skills: str | None
    certificates: tuple[dict[str, str], ...]
    photo_type: str | None
    profile_updated_at: str | None

    @property
    def member_no(self) -> str:
        """The number printed on the passbook and said at the counter: six digits."""
        return f"{self.id:06d}"

    @property
    def services_zh(self) -> list[str]:
        """The chosen services in words."""
        return [SERVICE_ZH.get(s, s) for s in self.services]


_COLUMNS = [c for c in tb_volunteers.c if c.name != "photo"]


def _member(row: Any) -> Member:
    m = row._mapping
    return Member(
        id=int(m["id"]), person_key=m["person_key"], name_masked=m["name_masked"], id_masked=m["id_masked"],
        born_on=m["born_on"], phone_key=m["phone_key"], phone_masked=m["phone_masked"], community=m["community"],
        services=tuple(s for s in (m["services"] or "").split(",") if s), availability=int(m["availability"]),
        hardship=bool(m["hardship"]), rules_version=m["rules_version"], status=m["status"],
        registered_via=m["registered_via"], registered_by=m["registered_by"], registered_at=m["registered_at"],
        team_id=m["team_id"], emergency_relation=m["emergency_relation"], emergency_phone=m["emergency_phone"],
        skills=m["skills"], certificates=tuple(json.loads(m["certificates"]) if m["certificates"] else ()),
        photo_type=m["photo_type"], profile_updated_at=m["profile_updated_at"])


def member(conn: Connection, member_id: int) -> Member | None:
    """The member ``member_id`` (any status), or None."""
    row = conn.execute(select(*_COLUMNS).where(tb_volunteers.c.id == member_id)).first()
    return None if row is None else _member(row)


def by_phone_key(conn: Connection, key: str) -> Member | None:
    """The member whose phone has the keyed hash ``key``, or None."""
    row = conn.execute(select(*_COLUMNS).where(tb_volunteers.c.phone_key == key)).first()
    return None if row is None else _member(row)


def by_person_key(conn: Connection, key: str) -> Member | None:
    """The member with person key ``key``, or None."""
    row = conn.execute(select(*_COLUMNS).where(tb_volunteers.c.person_key == key)).first()
    return None if row is None else _member(row)


def member_by_phone(conn: Connection, _request: Any, phone: str) -> Member | None:
    """The member whose phone is ``phone`` as typed (CentralError with words for a malformed number), or None.

    ``_request`` is not needed (the phone secret is in the database); it keeps the money pages' call.
    """
    return by_phone_key(conn, phone_key(conn, clean_phone(phone)))


def photo(conn: Connection, member_id: int) -> tuple[bytes, str] | None:
    """The member's photo and its type, or None."""
    row = conn.execute(select(tb_volunteers.c.photo, tb_volunteers.c.photo_type)
                       .where(tb_volunteers.c.id == member_id)).first()
    return None if row is None or not row.photo else (bytes(row.photo), row.photo_type)


def mask_name(name: str) -> str:
    """``张小明`` -> ``张*明``; ``张明`` -> ``张*``; longer names keep the first and last character."""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id(id_number: str) -> str:
    """``310101199001011234`` -> ``310***********1234``."""
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def clean_name(text: str) -> str:
    """A person's name as typed (2–20 Chinese characters or letters); CentralError with words otherwise."""
    name = unicodedata.normalize("NFKC", text or "").strip()
    if not _NAME.fullmatch(name):
        raise CentralError("bad_name", "请填写身份证上的姓名（2–20 个字）。")
    return name


def clean_id_number(text: str) -> str:
    """An 18-character resident ID with a valid date and check digit; CentralError with words otherwise."""
    number = normalise_id(unicodedata.normalize("NFKC", text or "").replace(" ", ""))
    if not valid_id18(number):
        raise CentralError("bad_id", "身份证号码不对：请核对 18 位号码（最后一位可能是 X）。")
    return number


def clean_services(services: Sequence[str]) -> tuple[str, ...]:
    """Up to three known service codes, in the given order without repeats; CentralError with words otherwise."""
    chosen = tuple(dict.fromkeys(s.strip() for s in services if s.strip()))
    unknown = [s for s in chosen if s not in SERVICES]
    if unknown:
        raise CentralError("bad_service", f"没有这项服务：{unknown[0]}（请从列出的服务中选择）。")
    if len(chosen) > MAX_SERVICES:
        raise CentralError("too_many_services", f"最多选 {MAX_SERVICES} 项服务。")
    return chosen


def _publish(conn: Connection, member_ids: list[int], at: str) -> None:
    try:
        from .feed import publish_roster
    except ImportError:  # helper A's roster feed has not landed in this checkout yet
        log.warning("roster not published: sync.central.timebank.feed is missing",
                    extra={"event": "roster_unpublished", "members": member_ids})
        return
    publish_roster(conn, member_ids, at)


@dataclass(frozen=True)
class Identity:
    """What registration keeps of a name and ID number: the person key, masked forms, birth date."""

    person_key: str
    name_masked: str
    id_masked: str
    born_on: str


def _check_age(conn: Connection, born_on: str, at: str) -> None:
    day = shanghai_day(at)
    join_age = policy_on(conn, day).rules.join_age
    if age_on(born_on, day) < join_age:
        raise CentralError("too_young", f"年满 {join_age} 周岁才能登记为志愿者。")


def identify(conn: Connection, *, person_key_secret: bytes | None, name: str, id_number: str, at: str) -> Identity:
    """Check a name and ID number (valid, old enough by the policy on the day, not a member yet) and key them.

    CentralError with words when refused; :class:`AlreadyRegistered` when the ID is a member's.
    """
    if not person_key_secret:
        raise CentralError("no_person_key", "登记服务还没有准备好（缺少密钥），请到服务点办理。")
    name, number = clean_name(name), clean_id_number(id_number)
    key = person_key(number, person_key_secret)
    existing = by_person_key(conn, key)
    if existing is not None:
        raise AlreadyRegistered(existing)
    born_on = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    _check_age(conn, born_on, at)
    return Identity(key, mask_name(name), mask_id(number), born_on)


def register(conn: Connection, *, person_key_secret: bytes | None, name: str, id_number: str,
             phone_key: str | None, phone_masked: str | None, community: str, services: Sequence[str],
             availability: int, hardship: bool, rules_version: str, via: str, actor: str, at: str) -> Member:
    """Register a member (audited, roster published); CentralError with words when refused.

    :class:`AlreadyRegistered` when the ID number is already a member's.
    """
    identity = identify(conn, person_key_secret=person_key_secret, name=name, id_number=id_number, at=at)
    return register_identity(conn, identity, phone_key=phone_key, phone_masked=phone_masked, community=community,
                             services=services, availability=availability, hardship=hardship,
                             rules_version=rules_version, via=via, actor=actor, at=at)


def register_identity(conn: Connection, identity: Identity, *, phone_key: str | None, phone_masked: str | None,
                      community: str, services: Sequence[str], availability: int, hardship: bool,
                      rules_version: str, via: str, actor: str, at: str) -> Member:
    """Store a member from an :func:`identify` result (checked again: a step of a form may be old)."""
    chosen = clean_services(services)
    if not 0 <= int(availability) <= 15:
        raise CentralError("bad_availability", "有空的时间只能从工作日/周末的上午/下午中选。")
    community = (community or "").strip()
    if not 1 <= len(community) <= 64:
        raise CentralError("bad_community", "不知道是哪个小区：请从服务点的二维码打开，或请工作人员选择小区。")
    if via not in VIA:
        raise CentralError("bad_via", f"registered via must be one of {VIA}")
    if (phone_key is None) != (phone_masked is None):
        raise CentralError("bad_phone", "phone_key and phone_masked go together")
    existing = by_person_key(conn, identity.person_key)
    if existing is not None:
        raise AlreadyRegistered(existing)
    _check_age(conn, identity.born_on, at)
    if phone_key is not None and by_phone_key(conn, phone_key) is not None:
        raise CentralError("phone_taken", "这个手机号已经登记在另一位成员名下。请用这个手机号直接登录，"
                                          "或到服务点请工作人员处理。")
    version = rules_version or policy_on(conn, shanghai_day(at)).version
    values = dict(person_key=identity.person_key, name_masked=identity.name_masked, id_masked=identity.id_masked,
                  born_on=identity.born_on, phone_key=phone_key, phone_masked=phone_masked, community=community,
                  services=",".join(chosen), availability=int(availability), hardship=1 if hardship else 0,
                  rules_version=version, status="active", registered_via=via, registered_by=actor,
                  registered_at=at)
    try:
        with conn.begin_nested():
            member_id = conn.execute(insert(tb_volunteers).values(**values).returning(tb_volunteers.c.id)).scalar_one()
    except IntegrityError:  # the same person (or phone) registered at the same moment elsewhere
        existing = by_person_key(conn, identity.person_key)
        if existing is not None:
            raise AlreadyRegistered(existing) from None
        raise CentralError("phone_taken", "这个手机号已经登记在另一位成员名下。") from None
    audit(conn, actor, "member_register", f"vol:{member_id}",
          {"via": via, "community": community, "services": list(chosen), "hardship": bool(hardship),
           "phone": phone_masked, "rules_version": version}, at=at)
    _publish(conn, [int(member_id)], at)
    found = member(conn, int(member_id))
    assert found is not None
    return found


def clean_certificates(items: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Certificates as ``{"name", "until"}`` (until a date or empty); CentralError with words otherwise."""
    out = []
    for item in items:
        cert_name = unicodedata.normalize("NFKC", item.get("name", "")).strip()
        until = (item.get("until") or "").strip()
        if not cert_name and not until:
            continue
        if not 1 <= len(cert_name) <= 40:
            raise CentralError("bad_certificate", "证书名称为 1–40 个字。")
        if until:
            try:
                dt.date.fromisoformat(until)
            except ValueError:
                raise CentralError("bad_certificate", f"证书“{cert_name}”的有效期不是日期（例如 2028-06-30）。") from None
        out.append({"name": cert_name, "until": until})
    if len(out) > MAX_CERTIFICATES:
        raise CentralError("bad_certificate", f"最多登记 {MAX_CERTIFICATES} 个证书。")
    return out


def update_profile(conn: Connection, member_id: int, *, emergency_relation: str | None,
                   emergency_phone: str | None, skills: str | None, certificates: list[dict[str, str]],
                   team_id: int | None, photo: bytes | None, photo_type: str | None, actor: str,
                   at: str) -> Member:
    """Save the profile (``photo`` None keeps the one on file); audited; CentralError with words when refused."""
    relation = unicodedata.normalize("NFKC", emergency_relation or "").strip() or None
    phone = clean_phone(emergency_phone) if (emergency_phone or "").strip() else None
    if relation is not None and len(relation) > _RELATION:
        raise CentralError("bad_relation", f"关系最多 {_RELATION} 个字（例如：女儿）。")
    if (relation is None) != (phone is None):
        raise CentralError("bad_emergency", "紧急联系人请同时填写关系和电话。")
    skill_text = unicodedata.normalize("NFKC", skills or "").strip() or None
    if skill_text is not None and len(skill_text) > MAX_SKILLS_CHARS:
        raise CentralError("bad_skills", f"技能最多 {MAX_SKILLS_CHARS} 个字。")
    certs = clean_certificates(certificates)
    if team_id is not None and conn.execute(select(tb_units.c.id).where(
            tb_units.c.id == team_id, tb_units.c.kind == "team")).first() is None:
        raise CentralError("unknown_team", "没有这个团队，请从列表中选择。")
    if photo is not None and photo_type not in ("image/jpeg", "image/png"):
        raise CentralError("bad_photo", "只能上传 JPEG 或 PNG 照片。")
    if member(conn, member_id) is None:
        raise CentralError("unknown_member", f"没有编号为 {member_id} 的成员。")
    values: dict[str, Any] = dict(emergency_relation=relation, emergency_phone=phone, skills=skill_text,
                                  certificates=json.dumps(certs, ensure_ascii=False) if certs else None,
                                  team_id=team_id, profile_updated_at=at)
    if photo is not None:
        values.update(photo=photo, photo_type=photo_type)
    conn.execute(update(tb_volunteers).where(tb_volunteers.c.id == member_id).values(**values))
    audit(conn, actor, "profile_update", f"vol:{member_id}",
          {"fields": sorted(k for k in values if k != "profile_updated_at"), "photo": photo is not None}, at=at)
    found = member(conn, member_id)
    assert found is not None
    return found


def missing_for(member: Member, needs: str) -> list[str]:
    """Which of an activity's ``needs`` (comma-separated :data:`NEEDS_ZH` codes) the member's profile still lacks."""
    have = {"emergency": bool(member.emergency_relation and member.emergency_phone),
            "photo": member.photo_type is not None, "skills": bool(member.skills),
            "certificates": bool(member.certificates), "team": member.team_id is not None,
            "phone": member.phone_key is not None}
    return [n for n in dict.fromkeys(x.strip() for x in (needs or "").split(",")) if n and not have.get(n, False)]


def redeem_from(conn: Connection, member: Member, day: dt.date) -> dt.date:
    """The first day the member may redeem coins under the policy in force on ``day`` (the (hardship) age birthday)."""
    rules = policy_on(conn, day).rules
    age = rules.redeem_age_hardship if member.hardship else rules.redeem_age
    born = dt.date.fromisoformat(member.born_on)
    try:
        return born.replace(year=born.year + age)
    except ValueError:  # born on 29 February
        return dt.date(born.year + age, 3, 1)


def rebind_phone(conn: Connection, member_id: int, *, person_key_secret: bytes | None, id_number: str,
                 phone_key: str | None, phone_masked: str | None, actor: str, at: str) -> Member:
    """At the counter: bind a new phone (or none) to a member whose ID number matches; audited.

    CentralError with words when the ID number is not this member's or the phone is another member's.
    """
    if not person_key_secret:
        raise CentralError("no_person_key", "中心还没有配置身份证密钥，暂时不能换绑。")
    found = member(conn, member_id)
    if found is None:
        raise CentralError("unknown_member", f"没有编号为 {member_id:06d} 的成员。")
    if person_key(clean_id_number(id_number), person_key_secret) != found.person_key:
        raise CentralError("id_mismatch", "身份证号码和这位成员登记的不一致，请核对身份证。")
    if (phone_key is None) != (phone_masked is None):
        raise CentralError("bad_phone", "phone_key and phone_masked go together")
    if phone_key is not None:
        holder = by_phone_key(conn, phone_key)
        if holder is not None and holder.id != member_id:
            raise CentralError("phone_taken", f"这个手机号已经绑定在会员 {holder.member_no} 名下。")
    conn.execute(update(tb_volunteers).where(tb_volunteers.c.id == member_id)
                 .values(phone_key=phone_key, phone_masked=phone_masked))
    audit(conn, actor, "phone_rebind", f"vol:{member_id}", {"from": found.phone_masked, "to": phone_masked}, at=at)
    changed = member(conn, member_id)
    assert changed is not None
    return changed
