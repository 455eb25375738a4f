"""The calling display's look: dark colours, and text sizes that follow the screen instead of fixed points.

A hall TV is read from across the room, so every size is a share of the *screen unit*: the
window's height, or ``width × 9 / 16`` when the screen is narrower than 16:9 (a 4:3 or 16:10
monitor), so the same layout fits every shape.  The shares below put the called number's two
lines at about 30 % of a 1080p screen's height (27 % painted) and every other line at 4.5 % or
more; no text is ever below :data:`MIN_PT` (DESIGN §8's body size), no main message below
:data:`MAIN_PT`.  Sizes go to the stylesheet in points, converted with the window's logical DPI,
so a size in pixels on screen is what the share asks for.

Colours: white and yellow on near-black navy; every pair is ≥ 4.5:1 (the tests measure painted pixels).
"""

from __future__ import annotations

from ui.qt import QLabel

BACKGROUND = "#0B1220"  # the whole screen
PANEL_BG = "#15213B"
PANEL_BORDER = "#3A5584"
HEADER_BG = "#0A2A66"
TEXT = "#FFFFFF"
CALL_TEXT = "#FFD84A"  # the called number: yellow, 11:1 on the panel
HEADING_TEXT = "#9CCBFF"
MUTED_TEXT = "#CBD5E6"
WARN_TEXT = "#FFB347"  # "正在连接叫号服务…" on the background

MIN_PT = 18.0  # no text below DESIGN §8's body size, however small the screen
MAIN_PT = 30.0  # nor a main message (the call, an info item, the link being down) below its size
MAIN = frozenset({"call", "info", "banner"})

# Each text's font size as a share of the screen unit (the height of a 16:9 screen).
SHARES: dict[str, float] = {
    "title": 0.045,  # header: the display's name
    "clock": 0.03,  # header: date and time, two lines
    "heading": 0.047,  # 正在叫号, 最近叫号, 等候人数, 温馨提示
    "call": 0.13,  # the call: two lines, "请 A012 号" / "到 3 号窗口"
    "service": 0.05,  # the called service's name (and 再次呼叫)
    "alt": 0.045,  # the call in the other language
    "line": 0.047,  # a recent call, a fresh call of another window, a service waiting
    "count": 0.05,  # a waiting count
    "info": 0.065,  # an info item
    "caption": 0.04,  # 第 1 / 3 条
    "banner": 0.06,  # the link is down
    "maintenance": 0.035,  # the shell's one "设备维护中" line
}
MARGIN_SHARE = 0.012  # panel margins and spacing, share of the screen unit
SHRINK = (0.85, 0.75)  # a text may shrink to these shares of its size to stay on one line, or on two balanced lines
CALL_WIDTH_USE = 0.94  # the call's longest line may take this much of its panel's inner width


def screen_unit(width: int, height: int) -> float:
    """The length every size is a share of: the height, or the height a 16:9 screen of this width would have."""
    return max(1.0, min(float(height), width * 9 / 16))


def point_sizes(width: int, height: int, dpi: float) -> dict[str, float]:
    """Font size in points of each text in :data:`SHARES` for a ``width`` × ``height`` px window at ``dpi``."""
    unit = screen_unit(width, height)
    return {name: max(MAIN_PT if name in MAIN else MIN_PT, round(share * unit * 72 / dpi, 1))
            for name, share in SHARES.items()}


def margin_px(width: int, height: int) -> int:
    """Panel margins and spacing in pixels."""
    return max(6, round(MARGIN_SHARE * screen_unit(width, height)))


def fit_pt(label: QLabel, width_px: float, max_pt: float) -> float:
    """The largest point size ≤ ``max_pt`` at which every line of ``label``'s text is at most ``width_px`` wide.

    Measured with the label's own font (family, weight) at its current size; advances grow in proportion.
    """
    now_pt = label.font().pointSizeF()
    metrics = label.fontMetrics()
    widest = max((metrics.horizontalAdvance(line) for line in label.text().split("\n")), default=0)
    if widest <= 0 or width_px <= 0 or now_pt <= 0:
        return max_pt
    return max(MIN_PT, min(max_pt, int(now_pt * width_px / widest * 10) / 10))


def two_lines(text: str) -> str:
    """``text`` broken once, as near its middle as a natural place allows: after a comma or colon, before a
    bracket, else at a space, else (Chinese without punctuation) anywhere."""
    after, before = "，,。；;：:", "（("
    places = [i + 1 for i, c in enumerate(text) if c in after] + [i for i, c in enumerate(text) if c in before]
    places = [i for i in places if 0 < i < len(text)] or [i for i, c in enumerate(text) if c == " " and i > 0]
    places = places or list(range(1, len(text)))
    if not places:
        return text
    cut = min(places, key=lambda i: abs(2 * i - len(text)))
    return text[:cut].rstrip() + "\n" + text[cut:].lstrip()


def display_qss(pt: dict[str, float], margin: int) -> str:
    """The display's stylesheet, appended to the base theme's; widgets are picked by their ``objectName``."""
    return f"""
QMainWindow, QWidget#screen {{ background-color: {BACKGROUND}; }}
QWidget#header {{ background-color: {HEADER_BG}; }}
QLabel#title {{ color: {TEXT}; font-size: {pt["title"]}pt; font-weight: bold; }}
QLabel#clock {{ color: {TEXT}; font-size: {pt["clock"]}pt; font-weight: bold; }}
QLabel#maintenance {{ color: {MUTED_TEXT}; background-color: {BACKGROUND}; border-top: 1px solid {PANEL_BORDER};
  font-size: {pt["maintenance"]}pt; padding: 2px; }}
QFrame#display_panel {{ background-color: {PANEL_BG}; border: 2px solid {PANEL_BORDER};
  border-radius: {margin}px; }}
QLabel {{ background-color: transparent; }}
QLabel#display_heading {{ color: {HEADING_TEXT}; font-size: {pt["heading"]}pt; font-weight: bold; }}
QLabel#display_call {{ color: {CALL_TEXT}; font-weight: bold; }}
QLabel#display_service {{ color: {TEXT}; font-size: {pt["service"]}pt; font-weight: bold; }}
QLabel#display_alt {{ color: {MUTED_TEXT}; font-size: {pt["alt"]}pt; }}
QLabel#display_subheading {{ color: {HEADING_TEXT}; font-size: {pt["line"]}pt; font-weight: bold; }}
QLabel#display_line {{ color: {TEXT}; font-size: {pt["line"]}pt; }}
QLabel#display_count {{ color: {CALL_TEXT}; font-size: {pt["count"]}pt; font-weight: bold; }}
QLabel#display_info {{ color: {TEXT}; font-size: {pt["info"]}pt; font-weight: bold; }}
QLabel#display_caption {{ color: {MUTED_TEXT}; font-size: {pt["caption"]}pt; }}
QLabel#display_banner {{ color: {WARN_TEXT}; font-size: {pt["banner"]}pt; font-weight: bold; }}
"""
