"""The Time Bank's money and staff pages without a browser (FastAPI's TestClient), on SQLite and PostgreSQL.

Refusals are pages in words (余额不足, 已兑完, a missing CSRF token, a wrong role), a resent form
moves coins once, a young member's redemption waits for an organiser's 允许, hours are approved
in bulk (an auto-closed shift with its real end time), the pool grants and group transfers
balance, and a staff read of one member's record is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from sync.central.app import create_app
from sync.central.storage import CentralStore
from sync.central.timebank import hours, ledger, rewards
from sync.central.timebank.ledger import ISSUE, Line, post_entry, vol_account
from sync.central.timebank.otp import phone_key
from sync.central.timebank.schema import tb_audit, tb_rewards, tb_staff
from sync.central.timebank.web_auth import session_cookie
from tests.central_fixtures import ADMIN_TOKEN
from tests.timebank_support import assert_ledger_sound, import_default_policy, make_member, tb_conn

AT = "2026-11-02T02:00:00.000000+00:00"
OLD = "1960-01-15"  # 65 or more from 2025 on: redeems at once
YOUNG = "1986-06-20"  # 40 now: a redemption waits for review until 2051


@dataclass
class Bank:
    """A store with the policy, a client, and ways to sign people in."""

    store: CentralStore
    client: TestClient

    def as_member(self, volunteer_id: int) -> dict[str, str]:
        """Cookies of a signed-in member."""
        return dict([session_cookie(self.store, "volunteer", volunteer_id)])

    def as_staff(self, staff_id: int) -> dict[str, str]:
        """Cookies of a signed-in staff member."""
        return dict([session_cookie(self.store, "staff", staff_id)])

    def balance(self, volunteer_id: int) -> int:
        """A member's coins (cc)."""
        with tb_conn(self.store) as conn:
            return ledger.balance_cc(conn, vol_account(volunteer_id))


def earn(conn: Any, volunteer_id: int, cc: int, category: str = "companion") -> None:
    """Give a member ``cc`` as if a shift had been approved (issue → member)."""
    post_entry(conn, entry_type="earn", actor="staff:test", at=AT, category=category,
               lines=[Line(ISSUE, -cc, "earn"), Line(vol_account(volunteer_id), cc, "earn")])


def add_staff_row(conn: Any, login: str, role: str = "organiser", name: str = "王组织",
                  community: str | None = "linfen-1") -> int:
    """A staff account row (the password is not used: tests sign in with a session cookie)."""
    return int(conn.execute(insert(tb_staff).values(
        login=login, display_name=name, role=role, password_hash="scrypt$unused", active=1, created_at=AT,
        created_by="admin", community=community)).inserted_primary_key[0])


def add_reward(conn: Any, name: str, cost_cc: int, stock: int) -> int:
    """A catalogue row made by the module's own writer."""
    return rewards.add_reward(conn, name=name, category="meals", cost_cc=cost_cc, stock=stock, actor="admin", at=AT)


def fields(html: str) -> dict[str, str]:
    """Hidden inputs of the first form on a page (csrf, request_id, ...)."""
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def form_of(html: str, action: str) -> dict[str, str]:
    """Hidden inputs of the form posting to ``action``."""
    start = html.index(f'action="{action}"')
    return fields(html[start:html.index("</form>", start)])


def post(client: TestClient, path: str, data: dict[str, Any], cookies: dict[str, str]) -> Any:
    """POST a form as the browser would."""
    client.cookies.clear()
    client.cookies.update(cookies)
    return client.post(path, data=data, follow_redirects=False)


def get(client: TestClient, path: str, cookies: dict[str, str]) -> Any:
    """GET a page with a session."""
    client.cookies.clear()
    client.cookies.update(cookies)
    return client.get(path, follow_redirects=False)


@pytest.fixture
def bank(central_db_url: str) -> Iterator[Bank]:
    """A central with the shipped policy, on both backends."""
    store = CentralStore.open(central_db_url)
    with tb_conn(store) as conn:
        import_default_policy(conn)
    try:
        with TestClient(create_app(store, admin_token=ADMIN_TOKEN)) as client:
            yield Bank(store, client)
    finally:
        store.close()


def text(response: Any) -> str:
    """The page's words without tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def test_statement_redeem_and_resend_moves_once(bank: Bank) -> None:
    with tb_conn(bank.store) as conn:
        vid = make_member(conn, born_on=OLD)
        earn(conn, vid, 1050)
        reward = add_reward(conn, "理发一次", 300, 2)
    me = bank.as_member(vid)
    page = get(bank.client, "/tb/me/statement", me)
    assert page.status_code == 200 and "<script" not in page.text
    words = text(page)
    assert "10.5 个时间币" in words and "1 小时 = 1 个时间币" in words and "服务获得 +10.5" in words
    assert "已服务 10.5" in words and "已兑换 0" in words and "待复核 0" in words

    shown = get(bank.client, "/tb/rewards", me)
    assert "还剩 2 份" in text(shown) and "您 " not in text(shown)  # old enough: no waiting words
    form = {**form_of(shown.text, "/tb/rewards/redeem")}
    assert form["reward_id"] == str(reward)
    done = post(bank.client, "/tb/rewards/redeem", form, me)
    assert done.status_code == 200 and "兑换成功" in done.text and "7.5" in text(done)
    again = post(bank.client, "/tb/rewards/redeem", form, me)  # the same form sent twice
    assert again.status_code == 200 and "7.5" in text(again)
    assert bank.balance(vid) == 750
    assert "还剩 1 份" in text(get(bank.client, "/tb/rewards", me))
    after = text(get(bank.client, "/tb/me/statement", me))
    assert "兑换奖励 −3" in after and "已兑换 3" in after
    with tb_conn(bank.store) as conn:
        assert_ledger_sound(conn)


def test_refusals_in_words(bank: Bank) -> None:
    with tb_conn(bank.store) as conn:
        vid = make_member(conn, born_on=OLD)
        earn(conn, vid, 200)
        dear = add_reward(conn, "体检套餐", 500, 3)
        gone = add_reward(conn, "电影票", 100, 0)
        staff = add_staff_row(conn, "org1")
    me = bank.as_member(vid)
    shown = get(bank.client, "/tb/rewards", me)
    assert "已兑完" in text(shown) and shown.text.count('action="/tb/rewards/redeem"') == 1  # no button when none left
    form = form_of(shown.text, "/tb/rewards/redeem")
    poor = post(bank.client, "/tb/rewards/redeem", form, me)
    assert poor.status_code == 409 and "余额不足" in poor.text and form["reward_id"] == str(dear)
    empty = post(bank.client, "/tb/rewards/redeem", {**form, "reward_id": str(gone),
                                                     "request_id": "0b3c6f8e-1111-4222-8333-944445555666"}, me)
    assert empty.status_code == 409 and "已兑完" in empty.text
    forged = post(bank.client, "/tb/rewards/redeem", {k: v for k, v in form.items() if k != "csrf"}, me)
    assert forged.status_code == 403 and "表单已过期" in forged.text
    assert bank.balance(vid) == 200
    with tb_conn(bank.store) as conn:
        assert conn.execute(select(tb_rewards.c.stock).where(tb_rewards.c.id == dear)).scalar_one() == 3

    wrong = get(bank.client, "/tb/staff/hours", me)
    assert wrong.status_code == 403 and "没有权限" in wrong.text and "Traceback" not in wrong.text
    assert get(bank.client, "/tb/me/statement", bank.as_staff(staff)).status_code == 403
    assert get(bank.client, "/tb/me/statement", {}).status_code == 303  # not signed in: the sign-in form

    give = get(bank.client, "/tb/me/give", me)
    bad = post(bank.client, "/tb/me/give", {**form_of(give.text, "/tb/me/give"), "kin": "abc", "relation": "子女",
                                            "amount": "1"}, me)
    assert bad.status_code == 422 and "会员编号" in bad.text
    bad = post(bank.client, "/tb/me/donate", {**form_of(give.text, "/tb/me/donate"), "amount": "1.234"}, me)
    assert bad.status_code == 409 and "最多两位小数" in bad.text and bank.balance(vid) == 200


def test_young_redemption_waits_then_allowed(bank: Bank) -> None:
    with tb_conn(bank.store) as conn:
        vid = make_member(conn, born_on=YOUNG)
        earn(conn, vid, 500)
        add_reward(conn, "理发一次", 300, 5)
        staff = add_staff_row(conn, "org2")
    me = bank.as_member(vid)
    shown = get(bank.client, "/tb/rewards", me)
    assert "您 2051 年 6 月起可兑换；现在申请将交工作人员复核" in text(shown)
    sent = post(bank.client, "/tb/rewards/redeem", form_of(shown.text, "/tb/rewards/redeem"), me)
    assert sent.status_code == 200 and "已交工作人员复核" in sent.text and bank.balance(vid) == 500

    boss = bank.as_staff(staff)
    queue = get(bank.client, "/tb/staff/reviews", boss)
    words = text(queue)
    assert "未到兑换年龄的兑换" in words and f"（{vid} 号）" in words and "shanghai-2026" in words
    assert "[redemption" not in words
    review_id = re.search(r'action="/tb/staff/reviews/(\d+)"', queue.text).group(1)
    refused = post(bank.client, f"/tb/staff/reviews/{review_id}", {**form_of(queue.text, f"/tb/staff/reviews/{review_id}"),
                                                                   "action": "refuse", "reason": ""}, boss)
    assert refused.status_code == 422 and "原因" in refused.text
    allowed = post(bank.client, f"/tb/staff/reviews/{review_id}",
                   {**form_of(queue.text, f"/tb/staff/reviews/{review_id}"), "action": "allow"}, boss)
    assert allowed.status_code == 303
    assert "已允许" in get(bank.client, allowed.headers["location"], boss).text
    assert bank.balance(vid) == 200


def test_gift_confirm_and_donate_once(bank: Bank) -> None:
    with tb_conn(bank.store) as conn:
        vid = make_member(conn, born_on=OLD, name_masked="李*华")
        kin = make_member(conn, born_on="1990-03-03", name_masked="李*明")
        earn(conn, vid, 800)
    me = bank.as_member(vid)
    give = get(bank.client, "/tb/me/give", me)
    check = post(bank.client, "/tb/me/give", {**form_of(give.text, "/tb/me/give"), "kin": str(kin),
                                              "relation": "子女", "amount": "2.5"}, me)
    assert check.status_code == 200 and "李*明" in check.text and "2.5" in text(check)
    assert bank.balance(vid) == 800  # nothing moves before the final tap
    confirm = form_of(check.text, "/tb/me/give/confirm")
    for _ in range(2):
        done = post(bank.client, "/tb/me/give/confirm", confirm, me)
        assert done.status_code == 200 and "赠送成功" in done.text
    assert bank.balance(vid) == 550 and bank.balance(kin) == 250
    self_gift = post(bank.client, "/tb/me/give", {**form_of(give.text, "/tb/me/give"), "kin": str(vid),
                                                  "relation": "其他", "amount": "1"}, me)
    assert self_gift.status_code == 422 and "不能赠给自己" in self_gift.text
    donate = form_of(give.text, "/tb/me/donate")
    for _ in range(2):
        assert "捐赠成功" in post(bank.client, "/tb/me/donate", {**donate, "amount": "1"}, me).text
    assert bank.balance(vid) == 450
    assert "赠给亲属 −2.5" in text(get(bank.client, "/tb/me/statement", me))
    with tb_conn(bank.store) as conn:  # the kin's phone instead of the number: found by its keyed hash
        by_phone = make_member(conn, born_on="1992-04-04", name_masked="李*丽",
                               phone_key=phone_key(conn, "13812345678"), phone_masked="138****5678")
    check = post(bank.client, "/tb/me/give", {**form_of(give.text, "/tb/me/give"), "kin": "138 1234 5678",
                                              "relation": "子女", "amount": "0.5"}, me)
    assert check.status_code == 200 and "李*丽" in check.text and f"会员编号 {by_phone}" in check.text
    unknown = post(bank.client, "/tb/me/give", {**form_of(give.text, "/tb/me/give"), "kin": "13900000000",
                                                "relation": "子女", "amount": "0.5"}, me)
    assert unknown.status_code == 422 and "没有找到这位会员" in unknown.text
    assert "亲属赠与 +2.5" in text(get(bank.client, "/tb/me/statement", bank.as_member(kin)))


def test_bulk_hours_pool_and_audited_read(bank: Bank) -> None:
    with tb_conn(bank.store) as conn:
        a = make_member(conn, born_on=OLD)
        b = make_member(conn, born_on=OLD)
        c = make_member(conn, born_on=OLD)
        for vid in (a, b):
            hours.check_in(conn, vid, at="2026-11-02T01:00:00+00:00", via="qr", actor=f"vol:{vid}")
            hours.check_out(conn, vid, at="2026-11-02T02:30:00+00:00", via="qr", actor=f"vol:{vid}")
        hours.check_in(conn, c, at="2026-11-01T01:00:00+00:00", via="qr", actor=f"vol:{c}")
        hours.close_forgotten(conn, "2026-11-02T03:00:00+00:00")
        staff = add_staff_row(conn, "org3", role="committee")
    boss = bank.as_staff(staff)
    page = get(bank.client, "/tb/staff/hours", boss)
    words = text(page)
    assert "超过 24 小时未签退、已自动关闭" in words and words.count("无服务对象确认") == 2
    ids = re.findall(r'name="shift" value="(\d+)"', page.text)
    auto_id = re.search(r'name="end_(\d+)"', page.text).group(1)
    form = fields(page.text)
    missing = post(bank.client, "/tb/staff/hours", {**form, "shift": ids, "action": "approve"}, boss)
    assert missing.status_code == 422 and "已通过 2 条" in missing.text and "需要填写实际结束时间" in missing.text
    assert bank.balance(a) == 150 and bank.balance(b) == 150
    done = post(bank.client, "/tb/staff/hours", {**form, "shift": [auto_id], "action": "approve",
                                                 f"end_{auto_id}": "2026-11-01T10:00"}, boss)
    assert done.status_code == 303 and bank.balance(c) == 100  # 09:00 to 10:00 Shanghai; capped at 2 a day anyway
    assert "没有待审核的工时" in get(bank.client, "/tb/staff/hours", boss).text

    with tb_conn(bank.store) as conn:
        earn(conn, a, 500)
    me = bank.as_member(a)
    give = get(bank.client, "/tb/me/give", me)
    post(bank.client, "/tb/me/donate", {**form_of(give.text, "/tb/me/donate"), "amount": "4"}, me)
    pool = get(bank.client, "/tb/staff/pool", boss)
    assert "4 个时间币" in text(pool)
    grant = post(bank.client, "/tb/staff/pool/grant", {**form_of(pool.text, "/tb/staff/pool/grant"),
                                                       "member": str(c), "amount": "1.5", "memo": "困难补助"}, boss)
    assert grant.status_code == 200 and "已从公益池发给" in grant.text and bank.balance(c) == 250
    group = form_of(pool.text, "/tb/staff/pool/group")
    sent = {**group, "payer": str(a), "members": f"{b}，{c}", "amount": "1", "category": "repair", "memo": "修理"}
    for _ in range(2):
        assert "已转给 2 位会员" in post(bank.client, "/tb/staff/pool/group", sent, boss).text
    assert (bank.balance(a), bank.balance(b), bank.balance(c)) == (50, 250, 350)
    poor = post(bank.client, "/tb/staff/pool/grant", {**form_of(pool.text, "/tb/staff/pool/grant"),
                                                      "request_id": "5d0b8c7e-2222-4333-8444-955556666777",
                                                      "member": str(c), "amount": "50", "memo": "x"}, boss)
    assert poor.status_code == 422 and "余额不足" in poor.text, text(poor)[-600:]

    record = get(bank.client, f"/tb/staff/member/{c}", boss)
    assert record.status_code == 200 and "公益池发放 +1.5" in text(record) and "310***********1234" in record.text
    with tb_conn(bank.store) as conn:
        rows = conn.execute(select(tb_audit).where(tb_audit.c.action == "read_member")).all()
        assert [(r.actor, r.subject) for r in rows] == [("staff:org3", vol_account(c))]
        assert_ledger_sound(conn)
    assert get(bank.client, "/tb/staff/member/999999", boss).status_code == 404

    with tb_conn(bank.store) as conn:  # staff of another community neither see nor act on these members
        other = bank.as_staff(add_staff_row(conn, "org9", community="linfen-2"))
        hours.check_in(conn, a, at="2026-11-03T01:00:00+00:00", via="qr", actor=f"vol:{a}")
        hours.check_out(conn, a, at="2026-11-03T02:00:00+00:00", via="qr", actor=f"vol:{a}")
    assert "没有待审核的工时" in get(bank.client, "/tb/staff/hours", other).text
    shift_id = re.search(r'name="shift" value="(\d+)"', get(bank.client, "/tb/staff/hours", boss).text).group(1)
    token = fields(get(bank.client, "/tb/staff/pool", other).text)["csrf"]
    refused = post(bank.client, "/tb/staff/hours", {"csrf": token, "shift": [shift_id], "action": "approve"}, other)
    assert refused.status_code == 422 and "不属于您的社区" in refused.text and bank.balance(a) == 50
    assert get(bank.client, f"/tb/staff/member/{a}", other).status_code == 403
    assert get(bank.client, f"/tb/staff/member?no={c}", boss).headers["location"] == f"/tb/staff/member/{c}"


def test_staff_rewards_add_and_restock(bank: Bank) -> None:
    with tb_conn(bank.store) as conn:
        staff = add_staff_row(conn, "adm", role="admin")
    boss = bank.as_staff(staff)
    page = get(bank.client, "/tb/staff/rewards", boss)
    added = post(bank.client, "/tb/staff/rewards/add", {**form_of(page.text, "/tb/staff/rewards/add"),
                                                       "name": "理发一次", "category": "repair", "cost": "3",
                                                       "stock": "4"}, boss)
    assert added.status_code == 303
    assert post(bank.client, "/tb/staff/rewards/add", {**form_of(page.text, "/tb/staff/rewards/add"),
                                                       "name": "理发一次", "category": "repair", "cost": "3",
                                                       "stock": "4"}, boss).status_code == 303  # sent twice
    page = get(bank.client, added.headers["location"], boss)
    assert "已添加奖励" in page.text and "库存 4 份" in text(page) and page.text.count("/restock") == 1
    rid = re.search(r'action="/tb/staff/rewards/(\d+)/restock"', page.text).group(1)
    path = f"/tb/staff/rewards/{rid}/restock"
    restock = {**form_of(page.text, path), "add": "6"}
    assert [post(bank.client, path, restock, boss).status_code for _ in range(2)] == [303, 303]
    too_many = post(bank.client, path, {**form_of(page.text, path), "add": "-20"}, boss)
    assert too_many.status_code == 422 and "库存只有 10" in too_many.text
    bad = post(bank.client, "/tb/staff/rewards/add", {**form_of(page.text, "/tb/staff/rewards/add"),
                                                     "name": "x", "category": "repair", "cost": "abc", "stock": "1"},
               boss)
    assert bad.status_code == 422 and "金额请写数字" in bad.text
    assert "库存 10 份" in text(get(bank.client, "/tb/staff/rewards", boss))
    huge = "99999999999999999999"  # beyond a database integer: a page in words, never a 500
    assert get(bank.client, f"/tb/staff/member/{huge}", boss).status_code == 404
    for path, extra in ((f"/tb/staff/rewards/{huge}/restock", {"add": "1"}),
                        (f"/tb/staff/reviews/{huge}", {"action": "allow"}),
                        ("/tb/staff/hours", {"action": "approve", "shift": huge})):
        refused = post(bank.client, path, {**form_of(page.text, "/tb/staff/rewards/add"), **extra}, boss)
        assert refused.status_code == 422 and "<h1>" in refused.text, path

