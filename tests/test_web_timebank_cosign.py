"""The served resident confirms a QR check-out with their own phone (co-sign by QR), in Debian's chromium.

A volunteer checks out by the activity's QR; the page shows a co-sign QR, which is read back from the
screenshot with pyzbar (as a phone camera would); the resident, signed in on their phone, opens it and
taps 确认, and the shift is approved with its coins.  The volunteer's own account cannot confirm it, a
forged link is refused, and a second confirmation changes nothing.
"""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import pytest
from pyzbar import pyzbar
from sqlalchemy import select

from sync.central.db import now_text
from sync.central.errors import CentralError
from sync.central.timebank import activities as acts
from sync.central.timebank import hours, ledger
from sync.central.timebank.schema import tb_shifts, tb_volunteers
from tests.timebank_support import make_member, person_key_of, tb_conn
from tests.web_support import BROWSER_MARKS, launch_chromium, measure_page, running_central, signed_in_context

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency (pyproject)")
pytestmark = BROWSER_MARKS

HOME = "临汾一村"
AT = "2026-01-02T00:00:00.000000+00:00"


def test_the_resident_confirms_a_qr_check_out_with_their_phone(tmp_path):
    with running_central(tmp_path) as site:
        now = dt.datetime.now(dt.UTC)
        with tb_conn(site.store) as conn:
            me = make_member(conn, community=HOME, name_masked="陈*英")
            resident = make_member(conn, community=HOME, name_masked="王*兰", born_on="1938-02-01")
            walk = acts.add_activity(conn, title="陪老人散步", category="companion", community=HOME, place="社区活动室",
                                     starts_at=(now - dt.timedelta(hours=2)).isoformat(),
                                     ends_at=(now + dt.timedelta(hours=1)).isoformat(), slots=5, actor="admin", at=AT)
            token = acts.activity(conn, walk).checkin_token
            hours.check_in(conn, me, at=(now - dt.timedelta(minutes=90)).isoformat(), via="qr", actor=f"vol:{me}",
                           activity_id=walk)
        with playwright_api.sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                volunteer = signed_in_context(browser, site.url, site.cookie("volunteer", me), width=390, height=844)
                page = volunteer.new_page()
                page.goto(f"/tb/a/{token}")
                page.click("button.huge")
                assert "请服务对象用自己的手机扫下面的二维码确认" in page.locator("#done").inner_text()
                shot = page.locator("#cosign-qr svg").screenshot()
                found = pyzbar.decode(cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_GRAYSCALE))
                assert len(found) == 1
                link = found[0].data.decode("ascii")
                assert link.startswith(site.url + "/tb/cosign/")
                measure_page(page, "cosign_qr")

                page.goto(link)  # the volunteer cannot confirm their own hours
                page.click("button:has-text('确认')")
                assert "不能为自己确认" in page.inner_text("main")

                elder = signed_in_context(browser, site.url, site.cookie("volunteer", resident), width=390,
                                          height=844).new_page()
                elder.goto(link)
                assert "陈*英" in elder.inner_text("main") and "1 小时 30 分钟" in elder.inner_text("main")
                measure_page(elder, "cosign_confirm")
                elder.click("button:has-text('确认')")
                assert elder.locator("#done").inner_text().startswith("已确认，谢谢")
                measure_page(elder, "cosign_done")
                elder.goto(link)
                assert "已经确认或处理过了" in elder.inner_text("main") and elder.locator("form[action^='/tb/cosign']").count() == 0
                elder.goto(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))  # a forged token
                assert "这一步已过期" in elder.inner_text("main")
            finally:
                browser.close()
        with tb_conn(site.store) as conn:
            shift = conn.execute(select(tb_shifts).where(tb_shifts.c.volunteer_id == me)).one()
            assert (shift.status, shift.cosigned_via, shift.minutes) == ("approved", "qr", 90)
            assert shift.cosigner_key == conn.execute(select(tb_volunteers.c.person_key)
                                                      .where(tb_volunteers.c.id == resident)).scalar_one()
            assert ledger.statement(conn, me).balance_cc == 150


def test_cosign_refusals_in_the_hours_code(tmp_path):
    with running_central(tmp_path) as site, tb_conn(site.store) as conn:
        me = make_member(conn, community=HOME)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        hours.check_in(conn, me, at=start.isoformat(), via="qr", actor="x")
        short = hours.check_out(conn, me, at=(start + dt.timedelta(minutes=5)).isoformat(), via="qr", actor="x")
        assert short.shift.flag == "too_short"
        with pytest.raises(CentralError) as flagged:
            hours.cosign(conn, short.shift.id, cosigner_key=person_key_of("someone"), via="qr", actor="x", at=now_text())
        assert flagged.value.reason == "flagged"
        with pytest.raises(CentralError) as unknown:
            hours.cosign(conn, 99999, cosigner_key=person_key_of("someone"), via="qr", actor="x", at=now_text())
        assert unknown.value.reason == "unknown_shift"
