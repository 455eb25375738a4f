"""The film screenings a cinema terminal offers: from the pulled ``screening`` rows, else its seed file.

A ``screening`` row (docs/community-card.md §2) is ``{screening_id, title, starts_at, hall, seats,
price_fen, free_groups?}`` and, optionally, ``title_en``, ``hall_en``, ``row_seats`` (seats per row, default
10) and ``aisle_after`` (seat numbers after which a centre aisle runs).  ``starts_at`` is an ISO
time with its offset (``2026-12-03T14:00:00+08:00``); ``price_fen`` 0 is free for everyone, and a
card holder in one of ``free_groups`` (e.g. ``special_care``) pays nothing either.

The seed file (``[cinema] screenings_file``, used while the feed has none) holds the same rows; a
seed row may instead give ``weekday`` (1 = Monday) and ``time`` (``"14:00"``): it then repeats
every week, its id made ``<screening_id>-<date>``.  A row that does not hold together (no title,
a bad time, a bad seat count or price) is left out and logged, never offered.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .seats import DEFAULT_PER_ROW, MAX_SEATS, SeatMap

log = logging.getLogger(__name__)

MAX_PRICE_FEN = 100_000  # a film ticket over 1,000 元 is a typo
LATE_S = 20 * 60  # tickets are still issued this long after a screening starts
DAYS_AHEAD = 7  # how far ahead the terminal looks for "the next screening with seats"


@dataclass(frozen=True)
class Screening:
    """One showing of a film."""

    screening_id: str
    title: str
    title_en: str
    starts_at: dt.datetime  # aware
    hall: str
    seats: int
    price_fen: int
    free_groups: tuple[str, ...] = ()
    seat_map: SeatMap = field(default_factory=lambda: SeatMap(1))
    hall_en: str = ""

    def price_for(self, groups: Iterable[str]) -> int:
        """What a card holder in ``groups`` pays, in fen (0: free)."""
        return 0 if self.price_fen == 0 or set(groups) & set(self.free_groups) else self.price_fen

    def as_item(self, seats_left: int) -> dict[str, Any]:
        """The plain data the flow and the screens carry."""
        return {"screening_id": self.screening_id, "title": self.title, "title_en": self.title_en,
                "starts_at": self.starts_at.isoformat(), "day": self.starts_at.date().isoformat(),
                "time": f"{self.starts_at:%H:%M}", "hall": self.hall, "hall_en": self.hall_en or self.hall,
                "seats": self.seats,
                "seats_left": max(0, seats_left), "price_fen": self.price_fen, "free_groups": list(self.free_groups)}


def _int(row: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = row.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def parse_screening(key: str, row: Mapping[str, Any], tz: dt.tzinfo | None = None) -> Screening | None:
    """One row as a Screening, or None (logged) when it does not hold together."""
    title = str(row.get("title") or "").strip()
    seats, price = _int(row, "seats"), _int(row, "price_fen", 0)
    per_row = _int(row, "row_seats", DEFAULT_PER_ROW)
    problem = None
    try:
        starts = dt.datetime.fromisoformat(str(row.get("starts_at")))
    except ValueError:
        starts, problem = None, f"starts_at {row.get('starts_at')!r} is not an ISO time"
    if starts is not None and starts.tzinfo is None:
        starts = starts.replace(tzinfo=tz) if tz is not None else starts.astimezone()
    aisles = row.get("aisle_after") or []
    if not title:
        problem = "no title"
    elif seats is None or not 1 <= seats <= MAX_SEATS:
        problem = f"seats {row.get('seats')!r} is not 1-{MAX_SEATS}"
    elif price is None or not 0 <= price <= MAX_PRICE_FEN:
        problem = f"price_fen {row.get('price_fen')!r} is not 0-{MAX_PRICE_FEN}"
    elif per_row is None or not 1 <= per_row <= 100:
        problem = f"row_seats {row.get('row_seats')!r} is not 1-100"
    elif not isinstance(aisles, list) or not all(str(a).strip().isdigit() for a in aisles):
        problem = "aisle_after is not a list of seat numbers"
    if problem or starts is None or seats is None or price is None or per_row is None:
        log.error("screening %r left out: %s", key, problem)
        return None
    groups = row.get("free_groups") or []
    free = tuple(str(g) for g in groups) if isinstance(groups, list) else ()
    hall = SeatMap(seats, per_row, tuple(sorted({int(str(a).strip()) for a in aisles})))
    return Screening(str(row.get("screening_id") or key), title, str(row.get("title_en") or title), starts,
                     str(row.get("hall") or ""), seats, price, free, hall, str(row.get("hall_en") or ""))


def expand_seed(rows: Mapping[str, Mapping[str, Any]], today: dt.date) -> dict[str, dict[str, Any]]:
    """Seed rows with ``weekday`` and ``time`` made into dated rows for this week and the next."""
    out: dict[str, dict[str, Any]] = {}
    for key, row in rows.items():
        weekday, time = row.get("weekday"), row.get("time")
        if weekday is None:
            out[key] = dict(row)
            continue
        if not isinstance(weekday, int) or not 1 <= weekday <= 7 or not isinstance(time, str):
            log.error("seed screening %r left out: weekday must be 1-7 with a time HH:MM", key)
            continue
        monday = today - dt.timedelta(days=today.isoweekday() - 1)
        for week in (0, 1):
            day = monday + dt.timedelta(days=7 * week + weekday - 1)
            dated = {k: v for k, v in row.items() if k not in ("weekday", "time")}
            dated["screening_id"] = f"{key}-{day.isoformat()}"
            dated["starts_at"] = f"{day.isoformat()}T{time}:00"
            out[dated["screening_id"]] = dated
    return out


def upcoming(rows: Mapping[str, Mapping[str, Any]], now: dt.datetime, days: int = DAYS_AHEAD,
             late_s: float = LATE_S) -> list[Screening]:
    """Screenings still open for tickets (starting after ``now - late_s``) within ``days``, by start time."""
    items = []
    for key, row in rows.items():
        screening = parse_screening(key, row, now.tzinfo)
        if screening is None:
            continue
        if screening.starts_at + dt.timedelta(seconds=late_s) < now:
            continue
        if screening.starts_at.date() > now.date() + dt.timedelta(days=days):
            continue
        items.append(screening)
    return sorted(items, key=lambda s: (s.starts_at, s.screening_id))


def load_screenings_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """A seed file: a JSON list of ``screening`` rows, or ``{"rows": [...]}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows: Iterable[Any] = data.get("rows", []) if isinstance(data, dict) else data
    return {str(r["screening_id"]): r for r in rows if isinstance(r, dict) and r.get("screening_id")}
