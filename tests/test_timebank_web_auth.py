"""The Time Bank's sign-in, sessions, roles, CSRF and strict forms (web_auth.py, pages_member.py) on both backends.

Through the real app with Starlette's test client: tampered and expired session cookies, roles
(admin passes every staff role), CSRF refusals as worded pages, bounded forms, the phone login
with a one-time code, the staff password login, the profile's photo upload and the audited
passbook read.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sync.central.app import create_app
from sync.central.db import write_transaction
from sync.central.storage import CentralStore
from sync.central.timebank import otp, people, web_auth
from sync.central.timebank.schema import tb_audit, tb_secrets, tb_volunteers
from sync.central.timebank.settings import TimebankSettings
from sync.central.timebank.sms import LogSms
from sync.central.timebank.staff import add_staff
from tests.central_fixtures import ADMIN_TOKEN
from tests.web_support import PERSON_KEY, STAFF_PASSWORD, id_number, import_default_policy, sms_code

AT = "2026-03-02T02:00:00+00:00"
PHONE = "13812345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def site(central_db_url, tmp_path):
    store = CentralStore.open(central_db_url)
    import_default_policy(store)
    app = create_app(store, admin_token=ADMIN_TOKEN,
                     timebank=TimebankSettings(person_key=PERSON_KEY, sms=LogSms(tmp_path / "sms.jsonl")))
    with TestClient(app, follow_redirects=False) as client:
        yield client, store, tmp_path / "sms.jsonl"
    store.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def state_of(html: str) -> str:
    return re.search(r'name="state" value="([^"]+)"', html).group(1)


def make_member(store, phone: str | None = PHONE, born: str = "19800101") -> people.Member:
    with write_transaction(store.engine) as conn:
        key = otp.phone_key(conn, phone) if phone else None
        return people.register(conn, person_key_secret=PERSON_KEY, name="张小明", id_number=id_number(born),
                               phone_key=key, phone_masked="138****5678" if phone else None, community="临汾一村",
                               services=["companion"], availability=1, hardship=False, rules_version="shanghai-2026",
                               via="phone", actor="system", at=AT)


def make_staff(store, login: str, role: str) -> int:
    with write_transaction(store.engine) as conn:
        return add_staff(conn, login=login, display_name=f"测试{login}", role=role, password=STAFF_PASSWORD,
                         actor="admin", community="临汾一村", at=AT)


def signed(client, store, kind: str, user_id: int, **kw) -> None:
    name, value = web_auth.session_cookie(store, kind, user_id, **kw)
    client.cookies.clear()
    client.cookies.set(name, value)


def test_sign_in_is_needed_and_roles_are_checked(site):
    client, store, _ = site
    member = make_member(store)
    assert client.get("/tb/me").headers["location"] == "/tb/login?next=%2Ftb%2Fme"
    assert client.get("/tb/staff/register").headers["location"] == "/tb/staff/login?next=%2Ftb%2Fstaff%2Fregister"
    signed(client, store, "volunteer", member.id)
    home = client.get("/tb/me")
    assert home.status_code == 200 and member.member_no in home.text and "张*明" in home.text
    refused = client.get("/tb/staff/register")
    assert refused.status_code == 403 and "没有权限" in refused.text and "志愿者" in refused.text
    for role in ("organiser", "committee", "admin"):
        signed(client, store, "staff", make_staff(store, f"s-{role}", role))
        assert client.get("/tb/staff/register").status_code == 200, role
        assert client.get("/tb/me").status_code == 403  # staff are not volunteers


def test_tampered_expired_and_stopped_sessions_are_not_sessions(site):
    client, store, _ = site
    member, other = make_member(store), make_member(store, phone="13900000000", born="19700101")
    name, value = web_auth.session_cookie(store, "volunteer", member.id)
    expiry, who, nonce, mac = value.split(".")
    for bad in (f"{expiry}.volunteer:{other.id}.{nonce}.{mac}", f"{int(expiry) + 1}.{who}.{nonce}.{mac}",
                f"{expiry}.staff:{member.id}.{nonce}.{mac}", f"{expiry}.{who}.{nonce}.{mac[:-1]}{'1' if mac.endswith('0') else '0'}", "junk", ""):
        client.cookies.clear()
        client.cookies.set(name, bad)
        assert client.get("/tb/me").status_code == 303, bad
    signed(client, store, "volunteer", member.id, now=time.time() - web_auth.VOLUNTEER_S - 1)
    assert client.get("/tb/me").status_code == 303  # expired
    signed(client, store, "volunteer", member.id)
    assert client.get("/tb/me").status_code == 200
    with write_transaction(store.engine) as conn:
        conn.execute(tb_volunteers.update().where(tb_volunteers.c.id == member.id).values(status="stopped"))
    assert client.get("/tb/me").status_code == 303  # a stopped member's cookie no longer works
    with pytest.raises(ValueError):
        web_auth.session_cookie(store, "admin", 1)


def test_secrets_are_made_once(site):
    client, store, _ = site
    web_auth.session_cookie(store, "volunteer", 1)
    with write_transaction(store.engine) as conn:
        first = web_auth.secret_in(conn, "session")
        assert web_auth.secret_in(conn, "session") == first and len(first) == 32
        assert conn.execute(select(func.count()).select_from(tb_secrets)
                            .where(tb_secrets.c.name == "session")).scalar_one() == 1


def test_staff_login_csrf_and_logout(site):
    client, store, _ = site
    make_staff(store, "org1", "organiser")
    form = client.get("/tb/staff/login?next=/tb/staff/register")
    assert form.headers["cache-control"] == "no-store" and form.headers["x-frame-options"] == "DENY"
    assert "script" not in form.headers["content-security-policy"] and "default-src 'none'" in \
        form.headers["content-security-policy"]
    token = csrf_of(form.text)
    body = {"login": "org1", "password": STAFF_PASSWORD, "next": "/tb/staff/register"}
    no_token = client.post("/tb/staff/login", data=body)
    assert no_token.status_code == 403 and "表单已过期" in no_token.text
    other = TestClient(client.app, follow_redirects=False)
    other.get("/tb/staff/login")  # another browser's double-submit cookie: its token does not fit this one
    assert other.post("/tb/staff/login", data=body | {"csrf": token}).status_code == 403
    wrong = client.post("/tb/staff/login", data=body | {"csrf": token, "password": "not the password"})
    assert wrong.status_code == 401 and "登录名或密码不对" in wrong.text
    ok = client.post("/tb/staff/login", data=body | {"csrf": token, "next": "https://evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/tb/staff/hours"  # no open redirect
    cookie = ok.headers["set-cookie"]
    assert "tb_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/tb/staff/register")
    assert page.status_code == 200
    assert client.post("/tb/logout", data={"csrf": "forged"}).status_code == 403
    out = client.post("/tb/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/tb/staff/login"
    assert client.get("/tb/staff/register").status_code == 303


def test_a_staff_login_tried_too_often_waits_even_with_the_right_password(site):
    client, store, _ = site
    make_staff(store, "org1", "organiser")
    token = csrf_of(client.get("/tb/staff/login").text)
    body = {"csrf": token, "login": "org1", "next": "/tb/staff/hours"}
    for _ in range(5):
        assert client.post("/tb/staff/login", data=body | {"password": "guess-guess-guess"}).status_code == 401
    blocked = client.post("/tb/staff/login", data=body | {"password": STAFF_PASSWORD})
    assert blocked.status_code == 429 and "试得太多" in blocked.text and "分钟后再试" in blocked.text
    assert "tb_session=" not in blocked.headers.get("set-cookie", "")
    for _ in range(8):  # unknown logins are not counted (nothing to protect; the table stays bounded)
        assert client.post("/tb/staff/login", data=body | {"login": "nobody", "password": "x" * 12}).status_code \
            == 401


def test_one_address_cannot_make_the_central_text_many_phones(site):
    client, _, sms = site
    token = csrf_of(client.get("/tb/join?c=临汾一村").text)
    for n in range(10):  # ten different phones from one address: each gets its code
        answer = client.post("/tb/join/phone", data={"csrf": token, "c": "临汾一村", "phone": f"1390000{n:04d}"})
        assert answer.status_code == 200, answer.text[:300]
    refused = client.post("/tb/join/phone", data={"csrf": token, "c": "临汾一村", "phone": "13900009999"})
    assert refused.status_code == 422 and "获取验证码太频繁" in refused.text
    assert len(sms.read_text(encoding="utf-8").splitlines()) == 10  # the eleventh was never sent


def test_forms_are_strict(site):
    client, store, _ = site
    token = csrf_of(client.get("/tb/login").text)
    twice = client.post("/tb/login", content=f"csrf={token}&phone=1&phone=2",
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert twice.status_code == 422 and "出现了不止一次" in twice.text
    assert client.post("/tb/login", json={"csrf": token}).status_code == 422
    big = client.post("/tb/login", data={"csrf": token, "phone": "1" * 9000})
    assert big.status_code == 413 and "最多" in big.text
    not_utf8 = client.post("/tb/login", content=b"phone=%FF%FE",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.text


def test_phone_login_with_a_code(site):
    client, store, sms = site
    member = make_member(store)
    token = csrf_of(client.get("/tb/login?next=/tb/me/profile").text)
    unknown = client.post("/tb/login", data={"csrf": token, "phone": "13900009999", "next": "/tb/me/profile"})
    assert unknown.status_code == 422 and "还没有登记" in unknown.text
    sent = client.post("/tb/login", data={"csrf": token, "phone": "138 1234 5678", "next": "/tb/me/profile"})
    assert sent.status_code == 200 and "138****5678" in sent.text and PHONE not in sent.text.replace(
        f'value="{PHONE}"', "")
    state = state_of(sent.text)
    wrong = client.post("/tb/login/code", data={"csrf": token, "state": state, "code": "000000"
                                                if sms_code(sms, PHONE) != "000000" else "111111"})
    assert wrong.status_code == 422 and "验证码不对" in wrong.text
    tampered = state[:-1] + ("0" if state[-1] != "0" else "1")  # always differs from the signed state
    forged = client.post("/tb/login/code", data={"csrf": token, "state": tampered, "code": sms_code(sms, PHONE)})
    assert forged.status_code == 422 and "过期" in forged.text
    done = client.post("/tb/login/code", data={"csrf": token, "state": state, "code": sms_code(sms, PHONE)})
    assert done.status_code == 303 and done.headers["location"] == "/tb/me/profile"
    assert client.get("/tb/me").status_code == 200
    assert client.get("/tb/me").text.count(member.member_no) >= 1


def test_profile_photo_upload(site):
    client, store, _ = site
    member = make_member(store)
    signed(client, store, "volunteer", member.id)
    token = csrf_of(client.get("/tb/me/profile").text)
    fields = {"csrf": token, "emergency_relation": "女儿", "emergency_phone": "13900001111", "skills": "理发",
              "cert_name_0": "急救证", "cert_until_0": "2028-06-30", "cert_name_1": "", "cert_until_1": "",
              "team_id": ""}
    saved = client.post("/tb/me/profile", data=fields, files={"photo": ("me.png", PNG, "image/png")})
    assert saved.status_code == 303, saved.text
    photo = client.get("/tb/me/photo")
    assert photo.content == PNG and photo.headers["content-type"] == "image/png"
    gif = client.post("/tb/me/profile", data=fields, files={"photo": ("me.gif", b"GIF89a....", "image/gif")})
    assert gif.status_code == 422 and "JPEG 或 PNG" in gif.text
    huge = client.post("/tb/me/profile", data=fields, files={"photo": ("big.png", PNG + b"\x00" * 210_000, "image/png")})
    assert huge.status_code == 413 and "200 KB" in huge.text
    bad = client.post("/tb/me/profile", data=fields | {"emergency_phone": "123"})
    assert bad.status_code == 422 and "11 位手机号码" in bad.text and "女儿" in bad.text  # what was typed stays
    with write_transaction(store.engine) as conn:
        kept = people.member(conn, member.id)
    assert kept.emergency_relation == "女儿" and kept.photo_type == "image/png"
    assert kept.certificates == ({"name": "急救证", "until": "2028-06-30"},)


def test_passbook_is_an_audited_read(site):
    client, store, _ = site
    member = make_member(store, phone=None)
    signed(client, store, "staff", make_staff(store, "org1", "organiser"))
    slip = client.get(f"/tb/staff/passbook/{member.id}")
    assert slip.status_code == 200 and member.member_no in slip.text and "<svg" in slip.text
    assert "@media print" in slip.text and "80mm" in slip.text and "2045 年 1 月起" in slip.text
    assert client.get("/tb/staff/passbook/999").status_code == 404
    with write_transaction(store.engine) as conn:
        reads = conn.execute(select(tb_audit.c.actor).where(tb_audit.c.action == "member_read",
                                                            tb_audit.c.subject == f"vol:{member.id}")).all()
    assert [r.actor for r in reads] == ["staff:org1"]


def test_join_refusals_and_a_phone_that_is_already_a_member(site):
    client, store, sms = site
    assert "请扫描服务点的二维码" in client.get("/tb/join").text
    member = make_member(store)
    token = csrf_of(client.get("/tb/join?c=临汾一村").text)
    code_page = client.post("/tb/join/phone", data={"csrf": token, "c": "临汾一村", "phone": PHONE})
    done = client.post("/tb/join/code", data={"csrf": token, "state": state_of(code_page.text),
                                              "code": sms_code(sms, PHONE)})
    assert done.status_code == 200 and "您已经登记过了" in done.text and "已为您登录" in done.text
    assert "tb_session=" in done.headers["set-cookie"]
    assert member.member_no in client.get("/tb/me").text

    other = TestClient(client.app, follow_redirects=False)
    token = csrf_of(other.get("/tb/join?c=临汾一村").text)
    code_page = other.post("/tb/join/phone", data={"csrf": token, "c": "临汾一村", "phone": "13900003333"})
    again = other.post("/tb/join/phone", data={"csrf": token, "c": "临汾一村", "phone": "13900003333"})
    assert again.status_code == 422 and "请 60 秒后再获取验证码" in again.text
    id_page = other.post("/tb/join/code", data={"csrf": token, "state": state_of(code_page.text),
                                                "code": sms_code(sms, "13900003333")})
    state = state_of(id_page.text)
    young = other.post("/tb/join/id", data={"csrf": token, "state": state, "name": "王小", "id_number":
                                            id_number("20150101")})
    assert young.status_code == 422 and "年满 18 周岁" in young.text
    bad = other.post("/tb/join/id", data={"csrf": token, "state": state, "name": "王小", "id_number": "123"})
    assert bad.status_code == 422 and "身份证号码不对" in bad.text
    services = other.post("/tb/join/id", data={"csrf": token, "state": state, "name": "王小",
                                               "id_number": id_number("19900101")})
    assert services.status_code == 200 and id_number("19900101") not in services.text
    too_many = other.post("/tb/join/services", data={"csrf": token, "state": state_of(services.text),
                                                     "service": ["companion", "phone", "meals", "repair"]})
    assert too_many.status_code == 422 and "最多选 3 项" in too_many.text and "checked" in too_many.text
    forged = other.post("/tb/join/done", data={"csrf": token, "state": state_of(services.text) + "x"})
    assert forged.status_code == 422 and "过期" in forged.text
    with write_transaction(store.engine) as conn:
        assert conn.execute(select(func.count()).select_from(tb_volunteers)).scalar_one() == 1
