"""Activities, QR check-in, 小区微事 and reports pages in headless Chromium (Debian's, through Playwright).

A real central on loopback.  A volunteer on a 390 × 844 phone signs up to an activity and sees
it on the page, is refused in words for a full one and for one that needs an emergency contact;
the organiser's page shows the check-in QR; the volunteer checks in and out through the QR page
(a browser without a session is sent to sign in first, then back); a team member proposes a
小区微事 and another member votes; the committee's report page renders its charts, each with its
table, and a CSV link.  Each page is measured at 360 px (18 px text, 48 px targets, 4.5:1, no
sideways scroll, ≤ 200 KB) and saved to ``out/screens/timebank/activities_*`` / ``projects_*`` /
``reports_*``.  The form posts without the CSRF token are refused (httpx).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
import pytest
from sqlalchemy import select

from sync.central.timebank import activities as acts
from sync.central.timebank.schema import tb_audit, tb_shifts
from tests.test_timebank_reports import load_fixture
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

HOME = "临汾一村"
AT = "2026-01-02T00:00:00.000000+00:00"


def _soon(days: int, hour: int) -> str:
    """A Shanghai time ``days`` from today at ``hour``:00 (activities must lie ahead of the real clock)."""
    day = dt.datetime.now(acts.SHANGHAI).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=acts.SHANGHAI).isoformat()


def _activity(conn, title: str, *, slots: int = 5, needs: str = "", days: int = 2, unit_id: int | None = None,
              starts_at: str | None = None) -> int:
    start = starts_at or _soon(days, 9)
    end = (dt.datetime.fromisoformat(start) + dt.timedelta(hours=2)).isoformat()
    return acts.add_activity(conn, title=title, category="companion", community=HOME, place="社区活动室",
                             starts_at=start, ends_at=end, slots=slots, actor="admin", at=AT, needs=needs,
                             unit_id=unit_id)


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


def phone(browser, site, kind: str | None, user_id: int = 0):
    """A 390 × 844 phone, signed in as ``kind``/``user_id`` when ``kind`` is given."""
    cookie = site.cookie(kind, user_id) if kind else None
    return signed_in_context(browser, site.url, cookie, width=390, height=844)


def card(page, title: str):
    """The list item of the activity titled ``title``."""
    return page.locator("#activities > li", has=page.locator(f"h2:has-text('{title}')"))


def test_sign_up_and_qr_check_in_out(tmp_path, browser) -> None:
    with running_central(tmp_path) as site:
        with tb_conn(site.store) as conn:
            shop = acts.add_unit(conn, "partner", "临汾超市", None, "admin", AT)
            me = make_member(conn, community=HOME, name_masked="陈*英")
            other = make_member(conn, community=HOME)
            in_half_an_hour = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).isoformat()
            walk = _activity(conn, "陪老人散步", unit_id=shop, starts_at=in_half_an_hour)  # QR check-in is open
            later = _activity(conn, "下周读书会", days=7)
            full = _activity(conn, "读报小组", slots=1)
            _activity(conn, "陪同就医", needs="emergency", days=3)
            acts.sign_up(conn, full, other, actor=f"vol:{other}", at=acts.utc_text(dt.datetime.now(dt.UTC)))
        organiser = site.add_staff("org1", "organiser", community=HOME, unit_id=shop)

        context = phone(browser, site, "volunteer", me)
        page = context.new_page()
        page.goto("/tb/activities")
        assert "还剩 5 个名额" in card(page, "陪老人散步").inner_text()
        assert "名额已满" in card(page, "读报小组").inner_text()
        assert card(page, "读报小组").locator("button").count() == 0  # no button on a full activity
        measure_page(page, "activities_list")
        card(page, "陪老人散步").locator("button:has-text('报名')").click()
        page.wait_for_url(f"**/tb/activities/{walk}?done=signed")
        assert page.locator("[role=status]").inner_text() == "报名成功，请按时到场。"
        assert page.locator("#mine").inner_text() == "✓ 您已报名"
        measure_page(page, "activities_signed")
        page.goto("/tb/activities")
        assert "✓ 已报名" in card(page, "陪老人散步").inner_text()
        assert "还剩 4 个名额" in card(page, "陪老人散步").inner_text()
        card(page, "陪同就医").locator("button:has-text('报名')").click()
        assert page.locator("[role=alert]").inner_text() == "参加这项活动前请先填写紧急联系人"
        measure_page(page, "activities_refused")

        staff = phone(browser, site, "staff", organiser)
        desk = staff.new_page()
        desk.goto(f"/tb/staff/activities/{walk}")
        assert desk.locator(".qr svg").count() == 1
        url = desk.locator(".url").inner_text()
        token = url.rsplit("/tb/a/", 1)[1]
        assert "陈*英" in desk.locator("#roster + div table").inner_text()
        measure_page(desk, "activities_staff_qr")
        desk.goto("/tb/staff/activities")
        measure_page(desk, "activities_staff_form")  # before filling: a click after a full-page shot may not submit
        desk.fill("#title", "教用手机")
        desk.select_option("#category", "phone")
        desk.fill("#place", "老年活动中心")
        desk.fill("#starts_at", _soon(4, 14)[:16])
        desk.fill("#ends_at", _soon(4, 16)[:16])
        desk.fill("#slots", "8")
        desk.click("button:has-text('添加活动')")
        desk.wait_for_url("**/tb/staff/activities/*")
        assert desk.locator("h1").inner_text() == "教用手机" and "已报名 0 / 8 人" in desk.locator(".facts").inner_text()

        anonymous = phone(browser, site, None).new_page()  # not signed in: to sign in, then back here
        anonymous.goto(f"/tb/a/{token}")
        assert f"/tb/login?next=%2Ftb%2Fa%2F{token}" in anonymous.url

        with tb_conn(site.store) as conn:
            later_token = acts.activity(conn, later).checkin_token
        page.goto(f"/tb/a/{later_token}")  # a week early: refused in words, nothing opened
        page.click("button.huge")
        assert "开始前 1 小时内才能签到" in page.locator("#error").inner_text()
        page.goto(f"/tb/a/{token}")
        assert page.locator("button.huge").inner_text() == "签到"
        measure_page(page, "activities_qr_in")
        page.click("button.huge")
        assert page.locator("#done").inner_text().startswith("签到成功")
        assert page.locator("button.huge").inner_text() == "签退"
        measure_page(page, "activities_qr_out")
        page.click("button.huge")
        assert page.locator("#done").inner_text().startswith("签退成功")
        assert page.locator("button.huge").inner_text() == "签到"
        with tb_conn(site.store) as conn:
            shift = conn.execute(select(tb_shifts).where(tb_shifts.c.volunteer_id == me)).one()
            actions = [r.action for r in conn.execute(select(tb_audit).where(tb_audit.c.actor == f"vol:{me}"))]
        assert (shift.activity_id, shift.in_via, shift.out_via, shift.status) == (walk, "qr", "qr", "pending")
        assert actions == ["activity.sign_up", "check_in", "check_out"]
        desk.goto(f"/tb/staff/activities/{walk}")
        assert desk.locator("#checked-out").inner_text() == "1"
        for c in (context, staff):
            c.close()
        stranger = site.add_staff("org2", "organiser", community=HOME)  # no unit, made none of these
        with httpx.Client(base_url=site.url, follow_redirects=False) as client:
            cookie = site.cookie("staff", stranger)
            client.cookies.set(cookie["name"], cookie["value"])
            answer = client.get(f"/tb/staff/activities/{walk}")
            assert answer.status_code == 403 and "这项活动不归您管理" in answer.text
            assert client.get("/tb/staff/activities/99999").status_code == 404


def test_projects_propose_vote_close(tmp_path, browser) -> None:
    with running_central(tmp_path) as site:
        with tb_conn(site.store) as conn:
            team = acts.add_unit(conn, "team", "一号楼志愿队", HOME, "admin", AT)
            lead = make_member(conn, community=HOME, team_id=team, name_masked="王*华")
            neighbour = make_member(conn, community=HOME, name_masked="李*芳")
        committee = site.add_staff("jw1", "committee", community=HOME)
        context = phone(browser, site, "volunteer", lead)
        page = context.new_page()
        page.goto("/tb/projects")
        page.fill("#title", "楼道装扶手")
        page.fill("#summary", "一号楼三个单元的楼道装扶手，需要 4 个人两个半天。")
        measure_page(page, "projects_propose")
        page.click("button:has-text('提出')")
        page.wait_for_url("**/tb/projects?done=proposed")
        assert "0 票" in page.locator("#projects").inner_text()

        other = phone(browser, site, "volunteer", neighbour).new_page()
        other.goto("/tb/projects")
        assert other.locator("#join").count() == 1  # not in a team: may join one, cannot propose
        other.click("button:has-text('投一票')")
        other.wait_for_url("**/tb/projects?done=voted")
        assert "1 票" in other.locator("#projects").inner_text() and "✓ 您已投票" in other.locator("#projects").inner_text()
        measure_page(other, "projects_voted")

        staff = phone(browser, site, "staff", committee).new_page()
        staff.goto("/tb/projects")
        staff.click("button:has-text('公布投票结果')")
        assert staff.locator("#done").inner_text() == "没有到期的投票，或到期的都没有票。"  # voting runs 14 days
        measure_page(staff, "projects_committee")


def test_report_page_charts_tables_and_csv(tmp_path, browser) -> None:
    with running_central(tmp_path) as site:
        ids = load_fixture(site.store)  # the hand-computed fixture of test_timebank_reports
        committee = site.add_staff("jw1", "committee")
        context = phone(browser, site, "staff", committee)
        page = context.new_page()
        page.goto("/tb/reports?month=2026-03")
        svgs = page.locator("figure svg")
        assert svgs.count() == 8  # hours by month (line + members heat row), category, team, project, rewards, capacity, partners
        assert all(svgs.nth(i).bounding_box()["width"] == 320 for i in range(8))
        rows = page.locator("#by-category + figure tbody tr")
        assert [rows.nth(i).inner_text().split("\t") for i in range(3)] == [
            ["陪伴聊天", "3.5", "3"], ["小修小补", "3.0", "2"], ["助餐送餐", "0.5", "1"]]
        assert page.locator("#cap-held").inner_text() == "12.00 币（4 人）"
        assert page.locator("#cap-months").inner_text() == "0.4 个月"
        assert page.locator("#red-count").inner_text() == "2"
        # active in the 90 days to 2026-03-31 (s1, s2/s3, s4: m1 and m5; s5 is 2025-12-20, 101 days before)
        assert (page.locator("#active-90").inner_text(), page.locator("#active-month").inner_text()) == ("2 人", "2 人")
        assert "王*华" in page.locator("#elders ~ div table").first.inner_text()
        measure_page(page, "reports_page")
        got = page.request.get("/tb/reports/by_team.csv?month=2026-03")
        assert got.status == 200 and got.headers["content-type"].startswith("text/csv")
        text = got.body().decode("utf-8")
        assert text.startswith("\ufeff")
        assert list(csv.reader(io.StringIO(text[1:])))[1] == ["一号楼队", "6.0", "360", "4", "2"]
        context.close()
        with httpx.Client(base_url=site.url, follow_redirects=False) as client:
            cookie = site.cookie("staff", committee)
            client.cookies.set(cookie["name"], cookie["value"])
            forged = client.post("/tb/staff/projects/close", content="csrf=nope",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert forged.status_code == 403 and "表单已过期" in forged.text
            assert client.get("/tb/reports/salaries.csv").status_code == 404
            assert client.get("/tb/reports?month=2026-13").status_code == 422
            page_size = client.get("/tb/reports?month=2026-03")
            assert page_size.status_code == 200 and "<script" not in page_size.text
            assert len(page_size.content) <= 200 * 1024
            volunteer = site.cookie("volunteer", ids["m1"])
            client.cookies.set(volunteer["name"], volunteer["value"])
            refused = client.get("/tb/reports")
            assert refused.status_code == 403 and "没有权限" in refused.text  # reports are for staff
            assert client.get("/tb/reports/elders.csv").status_code == 403
