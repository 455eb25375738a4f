"""The simulated printer's ESC/POS interpreter and renderer, without a transport."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pyzbar.pyzbar import decode as zbar_decode

from hardware_sim.escpos_render import MARGIN, font_path, render_png, transcript
from hardware_sim.escpos_stream import PAPER_DOTS, EscPosInterpreter, Feed, Line, Page, Qr
from kiosk.hall.printing import Ticket, ticket_bytes

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

CUT = b"\x1dV\x00"
TICKET = Ticket("社区事务受理服务中心", "C105", "居住证办理", 12, 40, datetime(2025, 6, 2, 14, 5),
                "LF:C105:20250602", ("过号请重新取号",))


def _pages(data: bytes) -> list[Page]:
    return EscPosInterpreter().feed(data)


def _text(data: bytes) -> str:
    pages = _pages(data)
    assert len(pages) == 1
    return transcript(pages[0])


def test_styles_sizes_alignment_and_chinese():
    data = (b"\x1b@\x1c&\x1ba\x01\x1bE\x01\x1d!\x11" + "取号".encode("gb18030") + b"\n"
            + b"\x1bE\x00\x1d!\x00\x1ba\x02R\n" + CUT)
    (page,) = _pages(data)
    first, second = page.items
    assert isinstance(first, Line) and first.align == "center"
    assert first.runs[0].text == "取号" and first.runs[0].bold and (first.runs[0].width, first.runs[0].height) == (2, 2)
    assert first.runs[0].wide
    assert isinstance(second, Line) and second.align == "right" and second.runs[0].text == "R"
    assert not second.runs[0].bold and not second.runs[0].wide


def test_without_chinese_mode_gb_bytes_print_as_code_page_characters():
    # python-escpos's text() relies on the printer starting in Chinese mode; this printer does not
    assert _text(b"\x1b@" + "中".encode("gb18030") + b"\n" + CUT) != "中\n"
    assert _text(b"\x1b@\x1c&" + "中".encode("gb18030") + b"\x1c." + b"\n" + CUT) == "中\n"
    assert _text(b"\x1b@\x1c&" + "𠮷".encode("gb18030") + b"\n" + CUT) == "𠮷\n"  # four-byte code


def test_esc_at_clears_the_line_and_modes():
    assert _text(b"\x1c&\x1bE\x01lost\x1b@kept\n" + CUT) == "kept\n"


def test_known_commands_are_skipped_by_their_length():
    image = b"\x1d\x76\x30\x00\x02\x00\x03\x00" + b"\x0a\x1b\x40" * 2  # GS v 0: 2x3 bytes of raster
    bit_image = b"\x1b*\x00\x03\x00" + b"\x0a\x0a\x0a"  # ESC * 8-dot, 3 columns
    barcode = b"\x1dk\x49\x05{B123"  # GS k 73 n=5 (CODE128)
    barcode_nul = b"\x1dk\x04ABC\x00"  # GS k 4 … NUL
    pdf417 = b"\x1d(k\x05\x000P0\n\n"  # GS ( k cn=48: stored, not printed
    nv = b"\x1cp\x01\x00"
    assert _text(image + bit_image + barcode + barcode_nul + pdf417 + nv + b"OK\n" + CUT) == "OK\n"


def test_unknown_commands_and_garbage_do_not_stop_printing():
    data = b"\x1b\xee\x1d\xee\x1c\xee\x10\x99\x01\x02\x7f" + b"\x1c&\xfe\x7f" + b"OK\n" + CUT
    assert _text(data).splitlines()[-1].endswith("OK")


def test_long_lines_wrap_at_paper_width():
    lines = _text(b"\x1b@" + b"x" * 50 + b"\n\x1d!\x10" + b"y" * 25 + b"\n" + CUT).splitlines()
    assert lines == ["x" * 48, "xx", "y" * 24, "y"]


def test_commands_split_across_reads_are_the_same():
    data = ticket_bytes(TICKET)
    whole = _text(data)
    interp = EscPosInterpreter()
    pages = [page for i in range(len(data)) for page in interp.feed(data[i:i + 1])]
    assert len(pages) == 1 and transcript(pages[0]) == whole


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_random_bytes_never_break_the_interpreter(a, b):
    interp = EscPosInterpreter()
    for chunk in (a, b):
        for page in interp.feed(chunk):
            assert isinstance(transcript(page), str)
    interp.power_on()  # what the device does on replug
    (page,) = interp.feed(ticket_bytes(TICKET))
    assert "C105" in transcript(page)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_then_a_ticket_render(garbage):
    for page in _pages(garbage + b"\x1b@\x1c&OK\n" + CUT):
        Image.open(io.BytesIO(render_png(page))).verify()


def test_declared_lengths_over_a_megabyte_are_taken_for_garbage():
    huge = b"\x1dv0\x00\xff\xff\xff\xff"  # GS v 0: 65535 x 65535 bytes of raster
    assert _text(huge + b"OK\n" + CUT).splitlines()[-1].endswith("OK")


def test_python_escpos_native_qr_is_stored_and_printed():
    p = Dummy()
    p.set(align="center")
    p.qr("LF:C105:20250602", native=True, size=6, ec=2)
    p.cut()
    (page,) = _pages(p.output)
    qr = next(i for i in page.items if isinstance(i, Qr))
    assert (qr.data, qr.module, qr.ec, qr.align) == (b"LF:C105:20250602", 6, "Q", "center")


def test_rendered_ticket_is_paper_width_and_its_qr_decodes():
    (page,) = _pages(ticket_bytes(TICKET))
    img = Image.open(io.BytesIO(render_png(page)))
    assert img.width == PAPER_DOTS + 2 * MARGIN and img.height > 600
    assert [c.data.decode() for c in zbar_decode(img)] == ["LF:C105:20250602"]
    assert img.getpixel((MARGIN // 2, img.height // 2)) == 255  # white margin


def test_font_is_a_cjk_font():
    path, _ = font_path()
    assert "wqy" in path.lower() or "cjk" in path.lower()


def test_bold_and_big_text_put_more_ink_on_paper():
    def ink(data: bytes) -> int:
        (page,) = _pages(b"\x1b@\x1c&" + data + b"\n" + CUT)
        img = Image.open(io.BytesIO(render_png(page))).convert("L")
        return sum(img.histogram()[:128])

    plain = ink("号".encode("gb18030"))
    assert ink(b"\x1bE\x01" + "号".encode("gb18030")) > plain
    assert ink(b"\x1d!\x33" + "号".encode("gb18030")) > 8 * plain


def test_short_page_transcript_says_the_paper_ran_out():
    page = Page([Line([]), Feed(30)], complete=False)
    assert transcript(page).endswith("[paper ran out]\n")
