"""The canteen analytics page in headless Chromium (Debian's, through Playwright; no browser download).

A real central on loopback holds the hand-computed fixture week of ``test_central_analytics``.
The browser signs in through the form (never a token in the URL), and at 360 px wide the page
is measured: every text ≥ 18 px, every link, button and field ≥ 48 × 48 px, every text ≥ 4.5:1
against its background, no sideways scrolling, the HTML ≤ 200 KB, each chart followed by its
numbers.  Screenshots go to ``out/screens/analytics/`` for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sync.central.analytics.queries import set_population_65
from sync.central.app import create_app
from sync.central.server import CentralServer
from sync.central.storage import CentralStore
from tests.central_fixtures import ADMIN_TOKEN
from tests.test_central_analytics import load_week, push_generated
from tests.web_support import BROWSER_MARKS, CHROMIUM, MEASURE, TARGETS

SCREENS = Path(__file__).resolve().parent.parent / "out" / "screens" / "analytics"
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency (pyproject)")
pytestmark = BROWSER_MARKS

PAGE = "/analytics/canteen?month=2026-12"


@pytest.fixture
def site(tmp_path):
    store = CentralStore.open(str(tmp_path / "central.db"))
    load_week(store)
    set_population_65(store, 60)
    server = CentralServer(create_app(store, admin_token=ADMIN_TOKEN))
    try:
        yield server.start()
    finally:
        server.stop()
        store.close()


@pytest.fixture
def busy_site(tmp_path):
    """A central holding a generated week of the three canteens (~1,100 meals a day): real-sized numbers."""
    store = CentralStore.open(str(tmp_path / "busy.db"), consumers=())
    push_generated(store, days=7)
    server = CentralServer(create_app(store, admin_token=ADMIN_TOKEN))
    try:
        yield server.start()
    finally:
        server.stop()
        store.close()


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def _check_page(page, name: str) -> None:
    texts = page.evaluate(MEASURE)
    assert texts, "no text measured"
    small = [t for t in texts if t["size"] < 18]
    assert not small, f"text below 18 px on {name}: {small[:5]}"
    faint = [t for t in texts if t["contrast"] < 4.5]
    assert not faint, f"contrast below 4.5:1 on {name}: {faint[:5]}"
    tiny = [t for t in page.evaluate(TARGETS) if t["w"] < 48 or t["h"] < 48]
    assert not tiny, f"targets under 48 x 48 px on {name}: {tiny[:5]}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, f"{name} scrolls sideways at 360 px"
    wide = page.evaluate("[...document.querySelectorAll('.scroll')].filter(e => e.scrollWidth > e.clientWidth)"
                         ".map(e => e.previousElementSibling ? e.previousElementSibling.outerHTML.slice(0, 60) : '')")
    assert not wide, f"tables wider than a 360 px screen on {name}: {wide}"


def test_page_in_chromium_at_360px(site, browser):
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 360, "height": 780}, device_scale_factor=2, locale="zh-CN")
    page = context.new_page()
    page.goto(site + PAGE)
    assert "/web/login?next=" in page.url  # no session: the sign-in form, never a token in the URL
    _check_page(page, "login")
    page.screenshot(path=str(SCREENS / "login-360.png"), full_page=True)

    page.fill("#token", "a-wrong-token-of-some-length")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "令牌不对，请重新输入。"
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/analytics/canteen?month=2026-12")
    assert ADMIN_TOKEN not in page.url
    cookie = {c["name"]: c for c in context.cookies()}["linfen_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    assert page.locator("h1").inner_text().startswith("社区食堂数据")
    _check_page(page, "canteen")
    svgs = page.locator("svg")
    assert svgs.count() == 4  # dishes, daily customers, 15-minute heat row, tiers
    assert all(svgs.nth(i).bounding_box()["width"] == 320 for i in range(4))  # never scaled: labels stay 18 px
    # each chart's numbers are also in a table (hand-computed in test_central_analytics)
    dish_rows = page.locator("#dishes + figure tbody tr")
    assert dish_rows.nth(0).inner_text().split("\t")[:3] == ["1", "红烧肉套餐", "10"]
    daily = page.locator("#daily ~ figure").first.locator("tbody tr")
    assert [daily.nth(i).inner_text().split("\t")[1] for i in range(7)] == ["4", "2", "2", "3", "1", "3", "3"]
    slots = page.locator("#slots ~ figure tbody tr").first.inner_text().split("\t")
    assert slots[:2] == ["11:00", "8"]
    assert "占全街道 65 岁以上老人 60 人的 5.0%" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENS / "canteen-360.png"), full_page=True)

    page.click("a:has-text('canteen-b')")
    page.wait_for_url("**canteen=canteen-b")
    assert page.locator("#summary + ul li").first.inner_text().replace("\n", "") == "就餐份数7"
    _check_page(page, "canteen-b")

    page.click("button:has-text('退出登录')")
    page.wait_for_url("**/web/login")
    page.goto(site + PAGE)
    assert "/web/login" in page.url
    context.close()


def test_page_size_csrf_and_bearer(site):
    with httpx.Client(base_url=site, follow_redirects=False) as client:
        page = client.get(PAGE, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert page.status_code == 200 and len(page.content) <= 200 * 1024, len(page.content)
        assert "<script" not in page.text and page.headers["cache-control"] == "no-store"
        assert client.get(PAGE, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 403
        # a sign-in posted without the form's CSRF token (another site's form) is refused
        forged = client.post("/web/login", content=f"token={ADMIN_TOKEN}&next=/analytics/canteen",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert forged.status_code == 403 and forged.json()["reason"] == "bad_csrf"
        # a valid form, but a next that points away from the site, lands on the page itself
        form = client.get("/web/login")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        signed = client.post("/web/login", content=f"csrf={csrf}&token={ADMIN_TOKEN}&next=https://evil.example/",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert signed.status_code == 303 and signed.headers["location"] == "/analytics/canteen"
        assert client.post("/web/logout", content="csrf=nope",
                           headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 403


def test_real_sized_numbers_still_fit_360px(busy_site, browser):
    context = browser.new_context(viewport={"width": 360, "height": 780}, device_scale_factor=2,
                                  extra_http_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    page = context.new_page()
    for query, name in (("", "canteen-week"), ("&canteen=canteen-2", "canteen-2-week")):
        page.goto(busy_site + PAGE + query)
        _check_page(page, name)
        ticks = page.locator("#slots ~ figure").first.locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
        assert ticks and all(t.isdigit() for t in ticks), ticks  # hours only under the heat row: no overlap
        page.screenshot(path=str(SCREENS / f"{name}-360.png"), full_page=True)
    context.close()
