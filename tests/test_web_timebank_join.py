"""Joining the Time Bank in headless Chromium (Debian's, through Playwright) against a real central on loopback.

A phone user opens the service point's QR link and registers: taps and the script's seconds are
printed (taps asserted, seconds not).  Every page of the flow is measured at 360 px (text ≥ 18 px,
targets ≥ 48 px, contrast ≥ 4.5:1, no sideways scroll, HTML ≤ 200 KB) and saved to
``out/screens/timebank/``.  The same ID number again lands on "您已经登记过了"; an organiser
registers an elder without a phone and gets the passbook slip.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.central.db import read_transaction
from sync.central.timebank.schema import tb_audit, tb_volunteers
from tests.web_support import (
    BROWSER_MARKS,
    STAFF_PASSWORD,
    id_number,
    launch_chromium,
    measure_page,
    running_central,
    signed_in_context,
    sms_code,
)

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency (pyproject)")
pytestmark = BROWSER_MARKS

PHONE = "13812345678"
ID = id_number("19800101", seq="321")
PHONE_SIZE = {"width": 390, "height": 844}


@pytest.fixture
def site(tmp_path):
    with running_central(tmp_path) as running:
        yield running


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


class Walk:
    """A phone in a browser: counts taps, measures each page at 360 px (not counted in the seconds)."""

    def __init__(self, page) -> None:
        self.page, self.taps, self.measuring = page, 0, 0.0

    def tap(self, selector: str) -> None:
        self.page.click(selector)
        self.taps += 1

    def check(self, name: str) -> None:
        started = time.monotonic()
        measure_page(self.page, name)
        self.page.set_viewport_size(PHONE_SIZE)
        self.measuring += time.monotonic() - started


def test_a_phone_user_joins_from_the_qr_link(site, browser):
    context = signed_in_context(browser, site.url, width=PHONE_SIZE["width"], height=PHONE_SIZE["height"])
    walk = Walk(context.new_page())
    page = walk.page
    started = time.monotonic()
    page.goto("/tb/join?c=%E4%B8%B4%E6%B1%BE%E4%B8%80%E6%9D%91")  # the QR of 临汾一村's service point
    assert "临汾一村" in page.inner_text("main")
    walk.check("join-1-phone")
    page.fill("#phone", "138 1234 5678")
    walk.tap("button:has-text('获取验证码')")
    assert "138****5678" in page.inner_text("main")
    walk.check("join-2-code")
    page.fill("#code", sms_code(site.sms_path, PHONE))
    walk.tap("button:has-text('下一步')")
    walk.check("join-3-id")
    page.fill("#name", "张小明")
    page.fill("#id_number", ID)
    walk.tap("button:has-text('下一步')")
    assert ID not in page.content()  # the ID number never comes back in a page or hidden field
    walk.check("join-4-services")
    walk.tap("label.tile:has-text('陪伴聊天')")
    walk.tap("label.tile:has-text('教用手机')")
    walk.tap("label.tile:has-text('周末上午')")
    walk.tap("button:has-text('下一步')")
    rules = page.inner_text("main")
    for words in ("1 小时 = 1 个时间币", "每天最多 2 个，累计最多 600 个", "65 岁起", "困难对象 60 岁", "不能换现金"):
        assert words in rules
    walk.check("join-5-rules")
    walk.tap("button:has-text('同意并完成')")
    page.wait_for_url("**/tb/me?welcome=1")
    seconds = time.monotonic() - started - walk.measuring
    home = page.inner_text("main")
    assert "登记成功" in home and "张*明" in home and "2045 年 1 月起可兑换" in home
    walk.check("home")
    print(json.dumps({"flow": "join_by_phone", "taps": walk.taps, "seconds": round(seconds, 2)}))
    assert walk.taps <= 8
    with read_transaction(site.store.engine) as conn:
        member = conn.execute(select(tb_volunteers)).one()
    assert (member.services, member.availability, member.registered_via) == ("companion,phone", 4, "phone")
    assert member.phone_masked == "138****5678" and ID not in json.dumps(dict(member._mapping), default=str)

    page.click("a:has-text('紧急联系人')")
    walk.check("profile")
    page.fill("#emergency_relation", "女儿")
    page.fill("#emergency_phone", "13900001111")
    page.click("button:has-text('保存')")
    page.wait_for_url("**/tb/me/profile?saved=1")
    assert page.input_value("#emergency_relation") == "女儿"
    page.click("button:has-text('退出登录')")
    page.wait_for_url("**/tb/login")
    walk.check("login")
    context.close()

    # the same person again, on another phone: "您已经登记过了" with the phone on file
    again = signed_in_context(browser, site.url, width=PHONE_SIZE["width"], height=PHONE_SIZE["height"])
    walk = Walk(again.new_page())
    page = walk.page
    page.goto("/tb/join?c=%E4%B8%B4%E6%B1%BE%E4%B8%80%E6%9D%91")
    page.fill("#phone", "13900002222")
    page.click("button:has-text('获取验证码')")
    page.fill("#code", sms_code(site.sms_path, "13900002222"))
    page.click("button:has-text('下一步')")
    page.fill("#name", "张小明")
    page.fill("#id_number", ID)
    page.click("button:has-text('下一步')")
    assert page.locator("h1").inner_text() == "您已经登记过了"
    assert "138****5678" in page.inner_text("main")
    walk.check("join-already")
    again.close()


def test_an_organiser_registers_an_elder_and_prints_the_passbook(site, browser):
    site.add_staff("org1", "organiser")
    context = signed_in_context(browser, site.url)
    page = context.new_page()
    page.goto("/tb/staff/register")
    assert "/tb/staff/login?next=" in page.url
    measure_page(page, "staff-login")
    page.fill("#login", "org1")
    page.fill("#password", STAFF_PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url("**/tb/staff/register")
    assert "小区：临汾一村" in page.inner_text("main")  # the organiser registers residents of their own community
    measure_page(page, "staff-register")
    page.fill("#name", "李阿婆")
    page.fill("#id_number", id_number("19450315", seq="882"))
    page.click("label.check:has-text('困难对象')")
    page.click("label.tile:has-text('助餐送餐')")
    page.click("button:has-text('登记并打印存折')")
    page.wait_for_url("**/tb/staff/passbook/*")
    slip = page.inner_text(".slip")
    assert "李*婆" in slip and "310***********" in slip and "2005 年 3 月起" in slip and "不能换现金" in slip
    assert page.locator(".slip svg").count() == 1
    measure_page(page, "passbook")
    page.emulate_media(media="print")
    page.screenshot(path=str(Path(__file__).resolve().parent.parent / "out/screens/timebank/passbook-print.png"))
    assert page.locator("header.top").is_hidden()
    page.emulate_media(media="screen")
    with read_transaction(site.store.engine) as conn:
        member = conn.execute(select(tb_volunteers)).one()
        actors = {r.action: r.actor for r in conn.execute(select(tb_audit).where(
            tb_audit.c.subject == f"vol:{member.id}"))}
    assert member.phone_key is None and member.hardship == 1 and member.registered_by == "staff:org1"
    assert actors == {"member_register": "staff:org1", "member_read": "staff:org1"}

    # the same elder again: the already-registered page, with the slip to print
    page.goto("/tb/staff/register")
    page.fill("#name", "李阿婆")
    page.fill("#id_number", id_number("19450315", seq="882"))
    page.click("button:has-text('登记并打印存折')")
    assert page.locator("h1").inner_text() == "您已经登记过了"
    measure_page(page, "staff-already")

    # she has a phone now: the counter binds it after checking her ID card
    page.click("a:has-text('换绑手机号')")
    assert page.input_value("#member_no") == f"{member.id:06d}"
    page.fill("#id_number", id_number("19450315", seq="882"))
    page.fill("#phone", "13700001111")
    page.click("button:has-text('换绑')")
    assert "137****1111" in page.inner_text("[role=status]")
    measure_page(page, "staff-phone")
    context.close()
