"""Charts as inline SVG, drawn here (no chart library, no script): bars, a line, a heat row.

Every chart is a fixed 320 px wide (it fits a 360 px phone with the page's margins and is
never scaled, so its 18 px labels stay 18 px), carries ``role="img"`` and an ``aria-label``
with its numbers, and is always followed on the page by a table of the same numbers: colour
and length are never the only cue.  Colours are ≥ 4.5:1 against white where they carry text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 320
FONT = 18  # px, every label
BAR = "#1F5FBF"  # bar fill; white text on it is 6.1:1, and it is 6.1:1 on white
INK = "#1A1A1A"
MUTED = "#4A4A4A"
GRID = "#8A96A8"
HEAT = ("#EEF3FB", "#C9D9F2", "#8DB0E6", "#4A7FD0", "#1F5FBF", "#0B3A80")  # light to dark, six steps


def _svg(height: int, label: str, body: list[str]) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
                  f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" '
                  f'font-size="{FONT}" font-family="sans-serif"><title>{escape(label)}</title>'
                  + "".join(body) + "</svg>")


def bars(title: str, rows: Sequence[tuple[str, float, str]]) -> Markup:
    """Horizontal bars: each row is (label, value, value as words); label and words on a line above the bar."""
    top = max((v for _, v, _ in rows), default=0) or 1
    row_h = 56
    body = []
    for n, (name, value, words) in enumerate(rows):
        y = n * row_h
        length = max(2.0, WIDTH * value / top) if value > 0 else 0.0
        body.append(f'<text x="0" y="{y + 20}" fill="{INK}">{escape(name)}'
                    f'<tspan fill="{MUTED}"> · {escape(words)}</tspan></text>')
        body.append(f'<rect x="0" y="{y + 28}" width="{length:.1f}" height="20" fill="{BAR}"/>')
    summary = "; ".join(f"{name} {words}" for name, _, words in rows)
    return _svg(max(row_h, len(rows) * row_h), f"{title}: {summary}", body)


def line(title: str, points: Sequence[tuple[str, int]], tick_every: int = 7) -> Markup:
    """A line over the points (label, value) with a dot at each; every ``tick_every``-th label under the axis."""
    top = max((v for _, v in points), default=0) or 1
    height, bottom, top_pad = 220, 40, 12
    left = 14 + round(FONT * 0.6 * len(str(top)))  # room for the largest value's digits
    inner_w, inner_h = WIDTH - left - 8, height - bottom - top_pad
    step = inner_w / max(1, len(points) - 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return left + i * step, top_pad + inner_h * (1 - v / top)

    body = [f'<line x1="{left}" y1="{top_pad + inner_h}" x2="{WIDTH - 8}" y2="{top_pad + inner_h}" '
            f'stroke="{GRID}"/>',
            f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + inner_h}" stroke="{GRID}"/>',
            f'<text x="{left - 4}" y="{top_pad + 14}" text-anchor="end" fill="{MUTED}">{top}</text>',
            f'<text x="{left - 4}" y="{top_pad + inner_h}" text-anchor="end" fill="{MUTED}">0</text>']
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, (_, v) in enumerate(points)))
    if points:
        body.append(f'<polyline points="{path}" fill="none" stroke="{BAR}" stroke-width="3"/>')
    for i, (name, v) in enumerate(points):
        x, y = xy(i, v)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{BAR}"/>')
        last = len(points) - 1
        if i % tick_every == 0 or (i == last and i % tick_every >= 3):  # the last day too, unless crowded
            body.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" fill="{MUTED}">'
                        f'{escape(name)}</text>')
    summary = "; ".join(f"{name}: {v}" for name, v in points)
    return _svg(height, f"{title}: {summary}", body)


def heat_row(title: str, cells: Sequence[tuple[str, float, str, str]]) -> Markup:
    """One row of cells (label, value, words, tick), darker for more; a cell's tick (or "") is written under it."""
    height, cell_h = 84, 44
    top = max((v for _, v, _, _ in cells), default=0) or 1
    width = WIDTH / max(1, len(cells))
    body = []
    for i, (_, value, _, tick) in enumerate(cells):
        shade = HEAT[min(len(HEAT) - 1, round((len(HEAT) - 1) * value / top))] if value > 0 else "#FFFFFF"
        body.append(f'<rect x="{i * width:.2f}" y="0" width="{width:.2f}" height="{cell_h}" fill="{shade}" '
                    f'stroke="{GRID}" stroke-width="0.5"/>')
        if tick:
            x = i * width
            anchor = "start" if x < 8 else "end" if x > WIDTH - 8 else "middle"  # "11" is ~20 px wide
            body.append(f'<text x="{x:.1f}" y="{cell_h + 26}" text-anchor="{anchor}" fill="{MUTED}">'
                        f'{escape(tick)}</text>')
    summary = "; ".join(f"{name} {words}" for name, _, words, _ in cells)
    return _svg(height, f"{title}: {summary}", body)
