"""Members and staff accounts (sync/central/timebank/people.py, staff.py) on both backends.

Registration stores the person key and masked forms only; refusals in words (bad ID, too young,
too many or unknown services); a second registration of one ID is AlreadyRegistered with the
member on file; the profile and what an activity still needs; staff passwords with scrypt.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert, select

from common.person_keys import person_key
from sync.central.db import write_transaction
from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import people, staff
from sync.central.timebank.schema import tb_audit, tb_staff, tb_units, tb_volunteers
from tests.web_support import PERSON_KEY, id_number, import_default_policy

AT = "2026-03-02T02:00:00.000000+00:00"
ELDER_ID = id_number("19550301", seq="201")


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    import_default_policy(s)
    yield s
    s.close()


def register(store, *, number: str = ELDER_ID, name: str = "张小明", services=("companion", "phone"),
             phone_key: str | None = "a" * 64, phone_masked: str | None = "138****5678", hardship: bool = False,
             at: str = AT, via: str = "phone", actor: str = "system", key: bytes | None = PERSON_KEY):
    with write_transaction(store.engine) as conn:
        return people.register(conn, person_key_secret=key, name=name, id_number=number, phone_key=phone_key,
                               phone_masked=phone_masked, community="临汾一村", services=services, availability=5,
                               hardship=hardship, rules_version="shanghai-2026", via=via, actor=actor, at=at)


def test_registration_keeps_keys_and_masked_forms_only(store):
    m = register(store, number=ELDER_ID.lower()[:-1] + ELDER_ID[-1])
    assert (m.name_masked, m.id_masked, m.born_on) == ("张*明", "310***********" + ELDER_ID[-4:], "1955-03-01")
    assert m.person_key == person_key(ELDER_ID, PERSON_KEY)
    assert m.services == ("companion", "phone") and m.availability == 5 and m.member_no == f"{m.id:06d}"
    with write_transaction(store.engine) as conn:
        row = dict(conn.execute(select(tb_volunteers)).one()._mapping)
        trail = conn.execute(select(tb_audit).where(tb_audit.c.action == "member_register")).one()
    assert ELDER_ID not in json.dumps(row, default=str) and "张小明" not in json.dumps(row, default=str, ensure_ascii=False)
    assert trail.actor == "system" and trail.subject == f"vol:{m.id}" and ELDER_ID not in trail.detail
    with write_transaction(store.engine) as conn:
        assert people.member(conn, m.id) == m == people.by_person_key(conn, m.person_key)
        assert people.by_phone_key(conn, "a" * 64) == m and people.member(conn, m.id + 99) is None


def test_refusals_in_words(store):
    cases = [
        (dict(number=ELDER_ID[:-1] + ("0" if ELDER_ID[-1] != "0" else "1")), "bad_id", "身份证号码不对"),
        (dict(number="31010119550230201X"), "bad_id", "身份证号码不对"),  # 30 February
        (dict(number=id_number("20100101")), "too_young", "年满 18 周岁"),
        (dict(services=("companion", "phone", "meals", "repair")), "too_many_services", "最多选 3 项"),
        (dict(services=("gardening",)), "bad_service", "没有这项服务"),
        (dict(name="1"), "bad_name", "姓名"),
        (dict(key=None), "no_person_key", "还没有准备好"),
    ]
    for over, reason, words in cases:
        with pytest.raises(CentralError, match=words) as caught:
            register(store, **over)
        assert caught.value.reason == reason
    with write_transaction(store.engine) as conn:
        assert conn.execute(select(tb_volunteers)).first() is None


def test_join_age_is_read_from_the_policy_on_the_day(store):
    eighteen_tomorrow = id_number("20080303")
    with pytest.raises(CentralError, match="年满 18"):
        register(store, number=eighteen_tomorrow)
    m = register(store, number=eighteen_tomorrow, at="2026-03-02T16:00:00+00:00")  # 3 March in Shanghai
    assert m.born_on == "2008-03-03"


def test_a_second_registration_is_already_registered_with_the_phone_on_file(store):
    first = register(store)
    with pytest.raises(people.AlreadyRegistered) as caught:
        register(store, phone_key="b" * 64, phone_masked="139****0000", name="张小明")
    assert caught.value.member == first and caught.value.member.phone_masked == "138****5678"
    with pytest.raises(CentralError, match="另一位成员") as taken:
        register(store, number=id_number("19600101"), phone_key="a" * 64)
    assert taken.value.reason == "phone_taken"


def test_staff_registration_without_a_phone(store):
    m = register(store, phone_key=None, phone_masked=None, via="staff", actor="staff:org1", services=(), hardship=True)
    assert m.phone_key is None and m.hardship and m.registered_by == "staff:org1" and m.services == ()
    with write_transaction(store.engine) as conn:
        assert people.redeem_from(conn, m, dt.date(2026, 3, 2)) == dt.date(2015, 3, 1)  # hardship: 60
    m2 = register(store, number=id_number("19600229", seq="555"), phone_key=None, phone_masked=None)
    with write_transaction(store.engine) as conn:
        assert people.redeem_from(conn, m2, dt.date(2026, 3, 2)) == dt.date(2025, 3, 1)  # 65 on 29 Feb: 1 March


def test_profile_and_what_an_activity_still_needs(store):
    m = register(store)
    assert people.missing_for(m, "emergency,photo,certificates") == ["emergency", "photo", "certificates"]
    assert people.missing_for(m, "") == [] and people.missing_for(m, "phone") == []
    with write_transaction(store.engine) as conn:
        team = conn.execute(insert(tb_units).values(kind="team", name="一村楼组", community="临汾一村", created_at=AT,
                                                    created_by="admin").returning(tb_units.c.id)).scalar_one()
        updated = people.update_profile(
            conn, m.id, emergency_relation="女儿", emergency_phone="139 0000 1111", skills="会修自行车",
            certificates=[{"name": "急救证", "until": "2028-06-30"}, {"name": "", "until": ""}], team_id=team,
            photo=b"\x89PNG\r\n\x1a\n....", photo_type="image/png", actor=f"vol:{m.id}", at=AT)
        assert people.photo(conn, m.id) == (b"\x89PNG\r\n\x1a\n....", "image/png")
        kept = people.update_profile(conn, m.id, emergency_relation="女儿", emergency_phone="13900001111",
                                     skills=None, certificates=[], team_id=None, photo=None, photo_type=None,
                                     actor=f"vol:{m.id}", at=AT)
        assert people.photo(conn, m.id) is not None  # no new photo keeps the old one
        actions = [r.action for r in conn.execute(select(tb_audit.c.action).where(tb_audit.c.subject == f"vol:{m.id}"))]
    assert updated.emergency_phone == "13900001111" and updated.certificates == ({"name": "急救证", "until": "2028-06-30"},)
    assert updated.team_id == team and people.missing_for(updated, "emergency,photo,certificates,team") == []
    assert people.missing_for(kept, "certificates,skills,team") == ["certificates", "skills", "team"]
    assert actions.count("profile_update") == 2
    bad = [(dict(emergency_relation="女儿", emergency_phone=""), "同时填写"),
           (dict(emergency_relation="女儿", emergency_phone="12345"), "11 位手机号码"),
           (dict(certificates=[{"name": "急救证", "until": "明年"}]), "不是日期"),
           (dict(team_id=999), "没有这个团队"),
           (dict(photo=b"GIF89a", photo_type="image/gif"), "JPEG 或 PNG")]
    for over, words in bad:
        args = dict(emergency_relation=None, emergency_phone=None, skills=None, certificates=[], team_id=None,
                    photo=None, photo_type=None, actor=f"vol:{m.id}", at=AT) | over
        with write_transaction(store.engine) as conn, pytest.raises(CentralError, match=words):
            people.update_profile(conn, m.id, **args)


def test_staff_passwords(store):
    with write_transaction(store.engine) as conn:
        sid = staff.add_staff(conn, login="Org1", display_name="王组织", role="organiser", password="long enough pw",
                              actor="admin", community="临汾一村", at=AT)
        row = conn.execute(select(tb_staff)).one()
        assert row.login == "org1" and row.password_hash.startswith("scrypt$16384$8$1$")
        assert "long enough pw" not in row.password_hash
        assert staff.check_staff_password(conn, "org1", "long enough pw") == sid
        assert staff.check_staff_password(conn, " ORG1 ", "long enough pw") == sid
        assert staff.check_staff_password(conn, "org1", "long enough pW") is None
        assert staff.check_staff_password(conn, "nobody", "long enough pw") is None
        for over, reason in [(dict(password="short"), "short_password"), (dict(login="x"), "bad_login"),
                             (dict(role="boss"), "bad_role"), (dict(login="org1"), "staff_exists"),
                             (dict(unit_id=42), "unknown_unit")]:
            args = dict(login="org2", display_name="李", role="committee", password="another long one",
                        actor="admin", at=AT) | over
            with pytest.raises(CentralError) as caught:
                staff.add_staff(conn, **args)
            assert caught.value.reason == reason
        assert conn.execute(select(tb_audit.c.actor).where(tb_audit.c.action == "staff_add")).scalars().all() == ["admin"]
    with write_transaction(store.engine) as conn:
        conn.execute(tb_staff.update().values(active=0))
        assert staff.check_staff_password(conn, "org1", "long enough pw") is None  # a disabled account


def test_the_counter_rebinds_a_lost_phone(store):
    m = register(store)
    other = register(store, number=id_number("19600101"), phone_key="c" * 64, phone_masked="139****0000")
    with write_transaction(store.engine) as conn:
        args = dict(person_key_secret=PERSON_KEY, actor="staff:org1", at=AT)
        with pytest.raises(CentralError, match="不一致"):
            people.rebind_phone(conn, m.id, id_number=id_number("19600101"), phone_key="d" * 64,
                                phone_masked="137****1111", **args)
        with pytest.raises(CentralError, match=f"会员 {other.member_no}"):
            people.rebind_phone(conn, m.id, id_number=ELDER_ID, phone_key="c" * 64, phone_masked="139****0000", **args)
        changed = people.rebind_phone(conn, m.id, id_number=ELDER_ID, phone_key="d" * 64, phone_masked="137****1111",
                                      **args)
        assert (changed.phone_key, changed.phone_masked) == ("d" * 64, "137****1111")
        assert people.by_phone_key(conn, "a" * 64) is None
        trail = conn.execute(select(tb_audit).where(tb_audit.c.action == "phone_rebind")).one()
    assert trail.actor == "staff:org1" and "138****5678" in trail.detail and "137****1111" in trail.detail
