"""Which seat a film ticket gets: a hall of rows × seats with aisles, aisle seats first for those who need them.

Pure and deterministic: the same hall, the same seats taken and the same resident always give the
same seat.  A hall (:class:`SeatMap`) has ``rows`` rows of ``per_row`` seats (the last row may be
shorter when ``seats`` is not a multiple); the seats at both ends of a row are on an aisle, and so
are the two seats either side of each ``aisle_after`` gap (a centre aisle after seat 5 makes
seats 5 and 6 aisle seats).

The rule (:func:`assign_seat`):

* a resident who **needs an aisle seat** — 80 or older (age = this year − birth year) or in the
  ``disabled`` group — gets the first free aisle seat, front rows first; only when every aisle
  seat is taken do they get another seat;
* everyone else gets the first free seat that is **not** on an aisle (front rows first, middle
  of the row first), so aisle seats stay free for those who need them; only when only aisle
  seats are left do they get one.

A seat is written ``"<row>-<seat>"`` (``"3-1"``: row 3, seat 1); :func:`seat_words` says it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

DEFAULT_PER_ROW = 10  # seats per row when a screening does not say
AISLE_AGE = 80  # this age and over: an aisle seat first
AISLE_GROUPS = frozenset({"disabled"})  # these groups: an aisle seat first
MAX_SEATS = 2000  # a hall larger than this is a typo


@dataclass(frozen=True)
class SeatMap:
    """The seats of one screening's hall."""

    seats: int
    per_row: int = DEFAULT_PER_ROW
    aisle_after: tuple[int, ...] = ()  # seat numbers in a row after which an aisle runs (besides both ends)

    def __post_init__(self) -> None:
        if not 1 <= self.seats <= MAX_SEATS:
            raise ValueError(f"a hall has 1 to {MAX_SEATS} seats, not {self.seats}")
        if not 1 <= self.per_row <= 100:
            raise ValueError(f"a row has 1 to 100 seats, not {self.per_row}")

    @property
    def rows(self) -> int:
        """How many rows (the last may be shorter)."""
        return -(-self.seats // self.per_row)

    def row_length(self, row: int) -> int:
        """Seats in row ``row`` (1-based)."""
        return min(self.per_row, self.seats - (row - 1) * self.per_row)

    def is_aisle(self, row: int, seat: int) -> bool:
        """True for a seat beside an aisle: a row's ends, or either side of an ``aisle_after`` gap."""
        length = self.row_length(row)
        return seat in (1, length) or seat in self.aisle_after or (seat - 1) in self.aisle_after

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Every seat in the order it is given: front rows first, the middle of a row before its ends."""
        out = []
        for row in range(1, self.rows + 1):
            length = self.row_length(row)
            middle = (length + 1) / 2
            for seat in sorted(range(1, length + 1), key=lambda s: (abs(s - middle), s)):
                out.append(f"{row}-{seat}")
        return tuple(out)

    @cached_property
    def aisle_seats(self) -> frozenset[str]:
        """The seats beside an aisle."""
        return frozenset(s for s in self.order if self.is_aisle(*parse_seat(s)))

    def __contains__(self, seat: object) -> bool:
        return isinstance(seat, str) and seat in set(self.order)


def parse_seat(seat: str) -> tuple[int, int]:
    """``"3-1"`` → ``(3, 1)``; ValueError for anything else."""
    row, _, number = seat.partition("-")
    if not row.isdigit() or not number.isdigit():
        raise ValueError(f"a seat is written <row>-<seat>, not {seat!r}")
    return int(row), int(number)


def seat_words(seat: str, language: str = "zh") -> str:
    """``"3-1"`` → ``"3排1号"`` / ``"row 3, seat 1"``."""
    row, number = parse_seat(seat)
    return f"{row}排{number}号" if language == "zh" else f"row {row}, seat {number}"


def needs_aisle(birth_year: int | None, groups: Iterable[str], year: int) -> bool:
    """True for a resident 80 or over this year (year − birth year) or in the ``disabled`` group."""
    if birth_year is not None and year - birth_year >= AISLE_AGE:
        return True
    return bool(AISLE_GROUPS & set(groups))


def assign_seat(hall: SeatMap, taken: Iterable[str], aisle_first: bool) -> str | None:
    """The seat to give next (see the module's rule), or None when the hall is full."""
    used = set(taken)
    free = [s for s in hall.order if s not in used]
    if not free:
        return None
    preferred = [s for s in free if (s in hall.aisle_seats) == aisle_first]
    return (preferred or free)[0]
