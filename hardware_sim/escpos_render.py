"""A printed page as people see it: a plain-text transcript and a PNG of the paper.

The PNG is drawn the way a thermal head prints: every character sits in its cell
(12×24 dots single-byte, 24×24 double-byte) scaled by the ``GS !`` width and height,
in a CJK font (WenQuanYi Micro Hei, found with ``fc-match``); QR symbols are drawn by
segno from the data the printer stored, ``module`` dots per module, with a quiet zone.
The paper is 576 printable dots wide (80 mm) with a white margin either side.
"""

from __future__ import annotations

import functools
import io
import logging
import subprocess

import segno
from PIL import Image, ImageDraw, ImageFont

from hardware_sim.escpos_stream import CHAR_H, PAPER_DOTS, Feed, Line, Page, Qr, Run

log = logging.getLogger(__name__)

MARGIN = 32  # white paper either side of the printable area, in dots
TOP_BOTTOM = 24  # white paper above the first and below the last item, in dots
LINE_GAP = 6  # dots between printed lines (24-dot characters on a 30-dot line feed)
GLYPH_PX = 20  # font size, in pixels, that fits a 24-dot cell with descenders
FONT_CANDIDATES = ("WenQuanYi Micro Hei Mono", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "sans-serif:lang=zh-cn")
FONT_FALLBACK = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def transcript(page: Page) -> str:
    """The page as text: one line per printed line, ``[QR] data`` for a QR, blank lines for feeds."""
    out: list[str] = []
    for item in page.items:
        if isinstance(item, Line):
            out.append("".join(run.text for run in item.runs).rstrip())
        elif isinstance(item, Qr):
            out.append("[QR] " + item.data.decode("utf-8", errors="replace"))
        else:
            out.append("")
    while out and not out[-1]:
        out.pop()
    if not page.complete:
        out.append("[paper ran out]")
    return "\n".join(out) + "\n"


@functools.cache
def font_path() -> tuple[str, int]:
    """Path and face index of a CJK font (fc-match), falling back to WenQuanYi's usual path."""
    for family in FONT_CANDIDATES:
        try:
            found = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", family], capture_output=True,
                                   text=True, timeout=5, check=True).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            break
        if len(found) == 2 and found[0].endswith((".ttc", ".ttf", ".otf")):
            try:
                ImageFont.truetype(found[0], GLYPH_PX, index=int(found[1] or 0))
            except OSError:
                continue
            if "wqy" in found[0].lower() or "cjk" in found[0].lower():
                return found[0], int(found[1] or 0)
    return FONT_FALLBACK, 0


@functools.cache
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path, index = font_path()
    try:
        return ImageFont.truetype(path, px, index=index)
    except OSError:
        log.warning("no CJK font at %s; Chinese will not render", path)
        return ImageFont.load_default()


@functools.lru_cache(maxsize=4096)
def _cell(ch: str, wide: bool, width: int, height: int, bold: bool) -> Image.Image:
    """One character's cell, black on white, ``(12|24)*width`` × ``24*height`` dots."""
    base_w = 24 if wide else 12
    px = GLYPH_PX * height
    font = _font(px)
    natural = max(1, round(font.getlength(ch))) if ch.strip() else base_w * height
    tile = Image.new("L", (max(natural, 1) + 2, CHAR_H * height), 255)
    ImageDraw.Draw(tile).text((1, 2 * height), ch, font=font, fill=0, stroke_width=max(1, height // 2) if bold else 0,
                              stroke_fill=0)
    return tile.resize((base_w * width, CHAR_H * height))


def _line_height(line: Line) -> int:
    return CHAR_H * max(run.height for run in line.runs) + LINE_GAP


def _run_width(run: Run) -> int:
    return len(run.text) * (24 if run.wide else 12) * run.width


def _x(align: str, width: int) -> int:
    if align == "center":
        return MARGIN + max(0, (PAPER_DOTS - width) // 2)
    if align == "right":
        return MARGIN + max(0, PAPER_DOTS - width)
    return MARGIN


def _qr_image(item: Qr) -> Image.Image:
    try:
        content: str | bytes = item.data.decode("utf-8")
    except UnicodeDecodeError:
        content = item.data
    qr = segno.make(content, error=item.ec.lower(), micro=False, boost_error=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=item.module, border=4)
    buf.seek(0)
    return Image.open(buf).convert("L")


def render_png(page: Page) -> bytes:
    """The page drawn on white paper, as PNG bytes."""
    blocks: list[tuple[Line | Qr | Feed, Image.Image | None, int]] = []
    for item in page.items:
        if isinstance(item, Line):
            blocks.append((item, None, _line_height(item)))
        elif isinstance(item, Qr):
            try:
                img = _qr_image(item)
            except (ValueError, segno.DataOverflowError) as exc:  # data a QR cannot hold: print nothing
                log.warning("QR not printable: %s", exc)
                continue
            blocks.append((item, img, img.height))
        else:
            blocks.append((item, None, item.dots))
    height = 2 * TOP_BOTTOM + sum(h for _, _, h in blocks)
    paper = Image.new("L", (PAPER_DOTS + 2 * MARGIN, height), 255)
    draw = ImageDraw.Draw(paper)
    y = TOP_BOTTOM
    for item, img, h in blocks:
        if isinstance(item, Line):
            x = _x(item.align, sum(_run_width(r) for r in item.runs))
            base = y + CHAR_H * max(r.height for r in item.runs)
            for run in item.runs:
                for ch in run.text:
                    cell = _cell(ch, run.wide, run.width, run.height, run.bold)
                    top = base - cell.height
                    if run.invert:
                        draw.rectangle((x, top, x + cell.width - 1, base - 1), fill=0)
                        paper.paste(Image.eval(cell, lambda v: 255 - v), (x, top))
                    else:
                        paper.paste(cell, (x, top))
                    if run.underline:
                        draw.line((x, base - 1, x + cell.width - 1, base - 1), fill=0, width=2)
                    x += cell.width
        elif img is not None:
            paper.paste(img, (_x(item.align, img.width), y))
        y += h
    out = io.BytesIO()
    paper.save(out, format="PNG")
    return out.getvalue()
