"""The Time Bank's money and staff pages in headless Chromium (Debian's, through Playwright; no download).

A real central on loopback: a 66-year-old volunteer with earned coins redeems a reward and sees
the new balance and the lower stock; a 40-year-old's request waits for review and an organiser
allows it on the review page; an organiser approves pending hours in bulk (an auto-closed shift
with its real end time); a gift to kin goes through its confirmation page.  Each page is
measured at 360 px (18 px text, 48 px targets, 4.5:1 contrast, no sideways scroll, ≤ 200 KB) and
saved to ``out/screens/timebank/money_*.png`` / ``staff_*.png``.
"""

from __future__ import annotations

import pytest

from sync.central.timebank import hours, ledger, rewards
from sync.central.timebank.ledger import ISSUE, Line, post_entry, vol_account
from tests.timebank_support import make_member, tb_conn
from tests.web_support import (
    BROWSER_MARKS,
    launch_chromium,
    measure_page,
    running_central,
    signed_in_context,
)

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency (pyproject)")
pytestmark = BROWSER_MARKS

AT = "2026-11-02T02:00:00.000000+00:00"
CITY = "临汾一村"  # the staff accounts' community (tests/web_support.py)


def earn(store, volunteer_id: int, cc: int) -> None:
    """Coins as if shifts had been approved (issue → member)."""
    with tb_conn(store) as conn:
        post_entry(conn, entry_type="earn", actor="staff:test", at=AT, category="companion",
                   lines=[Line(ISSUE, -cc, "earn"), Line(vol_account(volunteer_id), cc, "earn")])


def balance(store, volunteer_id: int) -> int:
    """A member's coins (cc)."""
    with tb_conn(store) as conn:
        return ledger.balance_cc(conn, vol_account(volunteer_id))


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


def phone(browser, site, kind: str, user_id: int):
    """A 390 × 844 phone signed in as ``kind``/``user_id`` (each page is measured at 360 px)."""
    return signed_in_context(browser, site.url, site.cookie(kind, user_id), width=390, height=844)


def test_redeem_at_66_and_review_at_40(tmp_path, browser) -> None:
    with running_central(tmp_path) as site:
        with tb_conn(site.store) as conn:
            old = make_member(conn, community=CITY, born_on="1960-01-15", name_masked="陈*英")
            young = make_member(conn, community=CITY, born_on="1986-06-20", name_masked="周*强")
            haircut = rewards.add_reward(conn, name="理发一次", category="repair", cost_cc=300, stock=3, actor="admin",
                                         at=AT)
            rewards.add_reward(conn, name="社区食堂午餐券", category="meals", cost_cc=200, stock=0, actor="admin",
                               at=AT)
            rewards.add_reward(conn, name="体检套餐（社区医院）", category="escort", cost_cc=2000, stock=5,
                               actor="admin", at=AT)
        earn(site.store, old, 1250)
        earn(site.store, young, 500)
        organiser = site.add_staff("org1", "organiser")

        context = phone(browser, site, "volunteer", old)
        page = context.new_page()
        page.goto("/tb/me/statement")
        assert page.locator("#balance").inner_text().startswith("12.5")
        assert "1 小时 = 1 个时间币" in page.locator("main").inner_text()
        measure_page(page, "money_statement")
        page.goto("/tb/rewards")
        item = page.locator(f"li[data-reward='{haircut}']")
        assert "还剩 3 份" in item.inner_text()
        assert page.locator("#early").count() == 0
        measure_page(page, "money_rewards")
        item.locator("button").click()
        page.wait_for_url("**/tb/rewards/redeem")
        assert page.locator("h1").inner_text() == "兑换成功"
        assert page.locator("#balance").inner_text().startswith("9.5")
        measure_page(page, "money_redeem_done")
        page.goto("/tb/rewards")
        assert "还剩 2 份" in page.locator(f"li[data-reward='{haircut}']").inner_text()
        assert "已兑完" in page.locator("#rewards").inner_text()
        page.locator("li", has_text="体检套餐").locator("button").click()
        assert page.locator("h1").inner_text() == "没有兑换" and "余额不足" in page.locator("#result").inner_text()
        measure_page(page, "money_redeem_refused")
        page.goto("/tb/me/statement")
        assert "兑换奖励" in page.locator("#moves").inner_text()
        measure_page(page, "money_statement_after")
        context.close()

        context = phone(browser, site, "volunteer", young)
        page = context.new_page()
        page.goto("/tb/rewards")
        assert page.locator("#early").inner_text() == "您 2051 年 6 月起可兑换；现在申请将交工作人员复核。"
        measure_page(page, "money_rewards_early")
        page.locator(f"li[data-reward='{haircut}'] button").click()
        assert page.locator("h1").inner_text() == "已交工作人员复核"
        measure_page(page, "money_redeem_review")
        assert balance(site.store, young) == 500
        context.close()

        context = phone(browser, site, "staff", organiser)
        page = context.new_page()
        page.goto("/tb/staff/reviews")
        review = page.locator("#reviews li").first
        assert "未到兑换年龄的兑换" in review.inner_text() and "shanghai-2026" in review.inner_text()
        measure_page(page, "staff_reviews")
        review.locator("button", has_text="允许").click()
        page.wait_for_url("**/tb/staff/reviews?done=allowed")
        assert page.locator("#done").inner_text() == "已允许这条复核。" and page.locator("#empty").count() == 1
        measure_page(page, "staff_reviews_done")
        assert balance(site.store, young) == 200
        page.goto("/tb/staff/rewards")
        assert "库存 1 份" in page.locator(f"li[data-reward='{haircut}']").inner_text()
        measure_page(page, "staff_rewards")
        page.fill(f"#add_{haircut}", "5")
        page.locator(f"li[data-reward='{haircut}'] button").click()
        assert "库存 6 份" in page.locator(f"li[data-reward='{haircut}']").inner_text()
        page.goto(f"/tb/staff/member/{old}")
        assert "陈*英" in page.locator("h1").inner_text()
        measure_page(page, "staff_member")
        context.close()


def test_bulk_hours_and_gift_to_kin(tmp_path, browser) -> None:
    with running_central(tmp_path) as site:
        with tb_conn(site.store) as conn:
            members = [make_member(conn, community=CITY, born_on="1955-03-0" + str(i), name_masked=n)
                       for i, n in ((1, "王*芳"), (2, "刘*伟"), (3, "赵*兰"))]
            for vid in members[:2]:
                hours.check_in(conn, vid, at="2026-11-02T01:00:00+00:00", via="qr", actor=f"vol:{vid}")
                hours.check_out(conn, vid, at="2026-11-02T02:30:00+00:00", via="qr", actor=f"vol:{vid}")
            hours.check_in(conn, members[2], at="2026-11-01T01:00:00+00:00", via="qr", actor=f"vol:{members[2]}")
            hours.close_forgotten(conn, "2026-11-02T03:00:00+00:00")
            kin = make_member(conn, community=CITY, born_on="1988-08-08", name_masked="王*明")
        organiser = site.add_staff("org2", "organiser")

        context = phone(browser, site, "staff", organiser)
        page = context.new_page()
        page.goto("/tb/staff/hours")
        assert page.locator("#count").inner_text() == "3"
        assert "超过 24 小时未签退、已自动关闭" in page.locator("#shifts").inner_text()
        measure_page(page, "staff_hours")
        for vid in members[:2]:
            page.locator("li[data-shift]", has_text=f"（{vid} 号）").locator("input[type=checkbox]").check()
        auto = page.locator("li[data-shift]", has_text=f"（{members[2]} 号）")
        auto.locator("input[type=checkbox]").check()
        auto.locator("input[type=datetime-local]").fill("2026-11-01T10:30")
        page.locator("button[value=approve]").click()
        page.wait_for_url("**/tb/staff/hours?done=approved*")
        assert page.locator("#done").inner_text() == "已通过 3 条工时。" and page.locator("#empty").count() == 1
        measure_page(page, "staff_hours_done")
        assert [balance(site.store, v) for v in members] == [150, 150, 150]
        page.goto("/tb/staff/pool")
        measure_page(page, "staff_pool")
        context.close()

        context = phone(browser, site, "volunteer", members[0])
        page = context.new_page()
        page.goto("/tb/me/give")
        measure_page(page, "money_give")
        page.fill("#kin", str(kin))
        page.select_option("#relation", "子女")
        page.fill("#amount", "1")
        page.locator("button", has_text="下一步").click()
        assert page.locator("#to_name").inner_text() == "王*明"
        measure_page(page, "money_give_confirm")
        assert balance(site.store, members[0]) == 150
        sent = page.eval_on_selector_all("form[action='/tb/me/give/confirm'] input[type=hidden]",
                                         "els => Object.fromEntries(els.map(e => [e.name, e.value]))")
        page.locator("button", has_text="确认赠送").click()
        assert page.locator("h1").inner_text() == "赠送成功"
        assert page.locator("#balance").inner_text().startswith("0.5")
        measure_page(page, "money_give_done")
        again = page.request.post(site.url + "/tb/me/give/confirm", form=sent)  # the same form sent twice
        assert again.status == 200 and "赠送成功" in again.text()
        assert balance(site.store, members[0]) == 50 and balance(site.store, kin) == 100
        page.goto("/tb/me/give")
        page.fill("#donate_amount", "9")
        page.locator("button", has_text="捐给公益池").click()
        assert "余额不足" in page.locator("#result").inner_text()
        measure_page(page, "money_donate_refused")
        context.close()
