"""Elder-mode theme: the sizes and colours that meet DESIGN §8, and the contrast formula to check them.

Sizes are in points for text and in pixels for touch targets.  Everything the
stylesheet uses comes from the constants here, so tests can check the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

FONT_FAMILIES = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Sans Serif"]


@dataclass(frozen=True)
class Sizes:
    """Text sizes (pt) and touch-target sizes (px) of one mode."""

    main_pt: int  # the screen's main message, >= 30 pt
    title_pt: int
    body_pt: int  # any other text, >= 18 pt
    status_pt: int
    button_pt: int
    target_min_px: int  # smallest side of a touch target, >= 60 px in elder mode


ELDER = Sizes(main_pt=40, title_pt=26, body_pt=22, status_pt=18, button_pt=24, target_min_px=96)
STANDARD = Sizes(main_pt=32, title_pt=22, body_pt=18, status_pt=18, button_pt=18, target_min_px=64)

# Colours: every pair used for text is checked for contrast by the UI test.
BACKGROUND = "#F7F5EF"
TEXT = "#111111"
MUTED_TEXT = "#3A3A3A"
HEADER_BG = "#0B3D91"
HEADER_TEXT = "#FFFFFF"
BUTTON_BG = "#0B3D91"
BUTTON_TEXT = "#FFFFFF"
BUTTON_PRESSED_BG = "#062A66"
UP_TEXT = "#0B5D1E"
DOWN_TEXT = "#9B0000"
STRIP_BG = "#FFFFFF"
STRIP_BORDER = "#5A5A5A"
PANEL_BG = "#FFFFFF"  # counter and display panels
OFFLINE_BG = "#5A5A5A"  # a button that cannot act (service down); white text on it is 6.9:1
CLOSED_BG = "#E2E2E2"  # a service tile outside its hours: grey, with its opening time in words
HELP_BG = "#8A3B00"  # "呼叫工作人员": a colour of its own (white text on it is 8.1:1), words first


def sizes(elder_mode: bool) -> Sizes:
    """The sizes of elder mode (the default) or standard mode."""
    return ELDER if elder_mode else STANDARD


def stylesheet(s: Sizes) -> str:
    """The application stylesheet; widgets are picked by their ``objectName``."""
    families = ", ".join(f'"{f}"' for f in FONT_FAMILIES)
    return f"""
QWidget {{ font-family: {families}; }}
QMainWindow, QWidget#screen {{ background-color: {BACKGROUND}; }}
QLabel {{ color: {TEXT}; font-size: {s.body_pt}pt; }}
QWidget#header {{ background-color: {HEADER_BG}; }}
QLabel#title, QLabel#clock {{ color: {HEADER_TEXT}; font-size: {s.title_pt}pt; font-weight: bold; }}
QLabel#prompt {{ color: {TEXT}; font-size: {s.main_pt}pt; font-weight: bold; }}
QLabel#subprompt {{ color: {MUTED_TEXT}; font-size: {s.body_pt}pt; }}
QLabel#volume {{ color: {TEXT}; font-size: {s.body_pt}pt; }}
QLabel#heading {{ color: {TEXT}; font-size: {s.main_pt}pt; font-weight: bold; }}
QLabel#ticket_number {{ color: {TEXT}; font-size: {s.main_pt * 2}pt; font-weight: bold; }}
QLabel#big_info {{ color: {TEXT}; font-size: {s.title_pt + 4}pt; }}
QLabel#badge {{ color: {HEADER_TEXT}; background-color: {HEADER_BG}; font-size: {s.title_pt}pt; font-weight: bold;
  padding: 6px 18px; border-radius: 8px; }}
QLabel#warning {{ color: {DOWN_TEXT}; font-size: {s.title_pt}pt; font-weight: bold; }}
QLabel#step {{ color: {TEXT}; font-size: {s.title_pt}pt; }}
QLabel#caption {{ color: {MUTED_TEXT}; font-size: {s.body_pt}pt; }}
QPushButton#service {{ background-color: {STRIP_BG}; color: {HEADER_BG}; border: 3px solid {HEADER_BG};
  text-align: left; padding: 4px 24px; font-size: {s.title_pt}pt; }}
QPushButton#service[closed="true"] {{ background-color: {CLOSED_BG}; color: {MUTED_TEXT};
  border: 3px dashed {MUTED_TEXT}; }}
QPushButton#help {{ background-color: {HELP_BG}; }}
QPushButton#repeat, QPushButton#more, QPushButton#help, QPushButton#back {{
  min-height: {max(64, s.target_min_px - 16)}px; padding: 6px 20px; }}
QLabel#countdown {{ color: {MUTED_TEXT}; font-size: {s.body_pt}pt; }}
QLabel#countdown[tone="warning"] {{ color: {DOWN_TEXT}; font-weight: bold; }}
QLabel#notice[tone="warning"], QLabel#print_state[tone="warning"] {{ color: {DOWN_TEXT}; font-weight: bold; }}
QLabel#print_state {{ color: {TEXT}; font-size: {s.title_pt}pt; font-weight: bold; }}
QLabel#maintenance {{ color: {MUTED_TEXT}; font-size: {s.status_pt}pt; background-color: {STRIP_BG};
  border-top: 1px solid {STRIP_BORDER}; padding: 4px; }}
QPushButton#done, QPushButton#ok, QPushButton#reprint, QPushButton#no_thanks {{ padding: 4px 28px; }}
QPushButton#staff_close {{ min-height: {max(64, s.target_min_px - 24)}px; padding: 4px 16px; }}
QWidget#strip {{ background-color: {STRIP_BG}; border-top: 2px solid {STRIP_BORDER}; }}
QLabel[state="up"] {{ color: {UP_TEXT}; font-size: {s.status_pt}pt; background-color: {STRIP_BG}; }}
QLabel[state="down"] {{ color: {DOWN_TEXT}; font-size: {s.status_pt}pt; font-weight: bold; background-color: {STRIP_BG}; }}
QLabel[state="checking"] {{ color: {MUTED_TEXT}; font-size: {s.status_pt}pt; background-color: {STRIP_BG}; }}
QPushButton {{
  color: {BUTTON_TEXT}; background-color: {BUTTON_BG}; font-size: {s.button_pt}pt; font-weight: bold;
  border: none; border-radius: 12px; padding: 12px 28px;
  min-width: {s.target_min_px}px; min-height: {s.target_min_px}px;
}}
QPushButton:pressed {{ background-color: {BUTTON_PRESSED_BG}; }}
QPushButton#language, QPushButton#volume_down, QPushButton#volume_up {{
  border: 2px solid {HEADER_TEXT}; min-width: {max(64, s.target_min_px - 24)}px; min-height: {max(64, s.target_min_px - 24)}px;
  padding: 4px 12px; font-size: {s.body_pt}pt; }}
QWidget#header QLabel#volume {{ color: {HEADER_TEXT}; }}
QLabel#clock {{ font-size: {s.body_pt}pt; }}
QFrame#panel {{ background-color: {PANEL_BG}; border: 2px solid {STRIP_BORDER}; border-radius: 12px; }}
QLabel#panel_heading {{ color: {HEADER_BG}; font-size: {s.title_pt}pt; font-weight: bold; }}
QLabel#recent_call {{ color: {TEXT}; font-size: {s.title_pt}pt; }}
QLabel#waiting_name {{ color: {TEXT}; font-size: {s.body_pt}pt; }}
QLabel#waiting_count {{ color: {TEXT}; font-size: {s.title_pt}pt; font-weight: bold; }}
QLabel#call_big {{ color: {TEXT}; font-size: {s.main_pt * 2 - 8}pt; font-weight: bold; }}
QLabel#info_text {{ color: {TEXT}; font-size: {s.main_pt}pt; font-weight: bold; }}
QLabel#tag {{ color: {HEADER_TEXT}; background-color: {HEADER_BG}; font-size: {s.body_pt}pt; font-weight: bold;
  padding: 4px 12px; border-radius: 8px; }}
QLabel#entry {{ color: {TEXT}; background-color: {PANEL_BG}; border: 3px solid {HEADER_BG}; border-radius: 8px;
  font-size: {s.main_pt}pt; font-weight: bold; padding: 4px 12px; }}
QLabel#notice {{ color: {TEXT}; font-size: {s.body_pt}pt; font-weight: bold; }}
QLabel#notice[tone="warning"] {{ color: {DOWN_TEXT}; }}
QLabel#banner {{ color: {DOWN_TEXT}; font-size: {s.main_pt}pt; font-weight: bold; }}
QPushButton#action, QPushButton#login, QPushButton#call_go, QPushButton#cancel, QPushButton#rate_level,
QPushButton#more_time, QPushButton#skip, QPushButton#service_toggle, QPushButton#transfer_to {{
  min-height: {max(64, s.target_min_px - 24)}px; padding: 6px 16px; }}
QPushButton#service_toggle, QPushButton#transfer_to {{ background-color: {PANEL_BG}; color: {HEADER_BG};
  border: 3px solid {HEADER_BG}; }}
QPushButton#transfer_to {{ min-width: 520px; }}
QPushButton#service_toggle[chosen="true"] {{ background-color: {HEADER_BG}; color: {HEADER_TEXT}; }}
QPushButton#key {{ font-size: {s.title_pt + 4}pt; padding: 4px 8px; min-height: {max(64, s.target_min_px - 24)}px; }}
QPushButton#action[offline="true"] {{ background-color: {OFFLINE_BG}; font-size: {s.body_pt}pt; }}
QPushButton#rate_level {{ font-size: {s.title_pt}pt; }}
"""


def _channel(c: int) -> float:
    v = c / 255.0
    return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""
    r, g, b = (_channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2.x contrast ratio between two sRGB colours, from 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """'#RRGGBB' to an (r, g, b) tuple."""
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)
