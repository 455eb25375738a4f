"""Shared bits for the central's page tests (unit and browser): a running central, IDs, codes, measuring.

    with running_central(tmp_path) as site:           # a real central on loopback, policy imported
        staff_id = site.add_staff("org1", "organiser")
        context = signed_in_context(browser, site.url, site.cookie("staff", staff_id))
        page = context.new_page(); page.goto(site.url + "/tb/staff/register")
        measure_page(page, "register")                 # 18 px, 48 px targets, 4.5:1, no sideways scroll

Playwright is imported only by the functions that need it, so unit tests can import this file.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sync.central.app import create_app
from sync.central.db import write_transaction
from sync.central.server import CentralServer
from sync.central.storage import CentralStore
from sync.central.timebank.policy import import_policy, load_policy_file
from sync.central.timebank.settings import TimebankSettings
from sync.central.timebank.sms import LogSms
from sync.central.timebank.staff import add_staff
from sync.central.timebank.web_auth import session_cookie
from tests.central_fixtures import ADMIN_TOKEN

CHROMIUM = "/usr/bin/chromium"
#: The marks of a browser test module: ``pytestmark = BROWSER_MARKS`` (skipped without Debian's chromium).
BROWSER_MARKS = [pytest.mark.integration, pytest.mark.timeout(180),
                 pytest.mark.skipif(shutil.which("chromium") is None and not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (scripts/setup.sh installs it)")]
ROOT = Path(__file__).resolve().parent.parent
SCREENS = ROOT / "out" / "screens" / "timebank"
PERSON_KEY = bytes(range(32))
STAFF_PASSWORD = "a-long-staff-password"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

#: Every visible element with its own text: font size, colour against the first opaque background behind it.
MEASURE = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const background = el => { for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor); if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c; }
    return [255, 255, 255]; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const r = el.getBoundingClientRect();
    if (!own || r.width === 0 || r.height === 0) continue;
    const st = getComputedStyle(el);
    const inSvg = el.closest('svg') !== null;
    const fg = rgb(inSvg ? (el.getAttribute('fill') ? getComputedStyle(el).fill : st.color) : st.color);
    const bg = inSvg ? [255, 255, 255] : background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push({tag: el.tagName, text: el.textContent.trim().slice(0, 30), size: parseFloat(st.fontSize),
              contrast: (a + 0.05) / (b + 0.05)});
  }
  return out;
}"""

#: Every link, button, field and summary with its box (a checkbox counts by its label when it has one).
TARGETS = """() => [...document.querySelectorAll('a, button, input:not([type=hidden]), select, textarea, summary')]
  .map(e => { let box = e;
    if (e.type === 'checkbox' || e.type === 'radio') { const l = e.closest('label'); if (l) box = l; }
    const r = box.getBoundingClientRect();
    return {text: (e.textContent || e.name || e.value || '').trim().slice(0, 20), w: r.width, h: r.height}; })"""


def id_number(born: str = "19800101", area: str = "310101", seq: str = "123") -> str:
    """A valid 18-character resident ID number (right check digit) born on ``born`` (YYYYMMDD)."""
    body = f"{area}{born}{seq}"
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def import_default_policy(store: CentralStore) -> None:
    """The shipped policy (config/policy/timebank-shanghai-2026.json) in ``store``."""
    with write_transaction(store.engine) as conn:
        import_policy(conn, load_policy_file(), "test")


def sms_code(path: Path, phone: str) -> str:
    """The last code the log gateway "sent" to ``phone`` (6 digits)."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [m["text"] for m in lines if m["phone"] == phone]
    assert texts, f"no SMS to {phone}"
    found = re.search(r"(?<!\d)\d{6}(?!\d)", texts[-1])
    assert found, texts[-1]
    return found.group(0)


@dataclass
class Site:
    """A running central: its URL, store and the SMS file."""

    url: str
    store: CentralStore
    sms_path: Path

    def add_staff(self, login: str, role: str, *, community: str | None = "临汾一村", unit_id: int | None = None,
                  password: str = STAFF_PASSWORD) -> int:
        """Make a staff account (audited as the admin) and return its id."""
        with write_transaction(self.store.engine) as conn:
            return add_staff(conn, login=login, display_name=f"测试{login}", role=role, password=password,
                             actor="admin", unit_id=unit_id, community=community, at="2026-01-01T00:00:00+00:00")

    def cookie(self, kind: str, user_id: int) -> dict[str, Any]:
        """A Playwright cookie signing ``kind``/``user_id`` in (no SMS round trip)."""
        name, value = session_cookie(self.store, kind, user_id)
        return {"name": name, "value": value, "url": self.url + "/", "httpOnly": True, "sameSite": "Strict"}


@contextmanager
def running_central(tmp_path: Path, *, policy: bool = True, person_key: bytes | None = PERSON_KEY,
                    db_url: str | None = None) -> Iterator[Site]:
    """A real central on loopback with the Time Bank set up (the log SMS gateway writes ``tmp_path/sms.jsonl``)."""
    store = CentralStore.open(db_url or str(tmp_path / f"central-{secrets.token_hex(3)}.db"))
    if policy:
        import_default_policy(store)
    sms_path = tmp_path / "sms.jsonl"
    app = create_app(store, admin_token=ADMIN_TOKEN,
                     timebank=TimebankSettings(person_key=person_key, sms=LogSms(sms_path)))
    server = CentralServer(app)
    try:
        yield Site(server.start(), store, sms_path)
    finally:
        server.stop()
        store.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, through Playwright (no browser download)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])


def signed_in_context(browser: Any, base_url: str, cookie: dict[str, Any] | None = None, *, width: int = 360,
                      height: int = 780) -> Any:
    """A phone-sized browser context (zh-CN), signed in with ``cookie`` when given (:meth:`Site.cookie`)."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=2,
                                  locale="zh-CN", base_url=base_url)
    if cookie is not None:
        context.add_cookies([cookie])
    return context


def measure_page(page: Any, name: str, *, width: int = 360, screenshot: bool = True) -> None:
    """Assert the house rules on ``page`` at ``width`` px; save a full-page screenshot as ``name``.png."""
    if page.viewport_size["width"] != width:
        page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
    texts = page.evaluate(MEASURE)
    assert texts, f"no text measured on {name}"
    small = [t for t in texts if t["size"] < 18]
    assert not small, f"text below 18 px on {name}: {small[:5]}"
    faint = [t for t in texts if t["contrast"] < 4.5]
    assert not faint, f"contrast below 4.5:1 on {name}: {faint[:5]}"
    tiny = [t for t in page.evaluate(TARGETS) if t["w"] < 48 or t["h"] < 48]
    assert not tiny, f"targets under 48 x 48 px on {name}: {tiny[:5]}"
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width} px"
    size = len(page.content().encode("utf-8"))
    assert size <= 200 * 1024, f"{name} is {size} bytes of HTML (at most 200 KB)"
    if screenshot:
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
