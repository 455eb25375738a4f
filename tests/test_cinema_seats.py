"""Seat assignment (pure): aisles, the order seats are given, aisle seats first for 80+ and disabled residents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.cinema.seats import SeatMap, assign_seat, needs_aisle, parse_seat, seat_words


def test_a_hall_with_a_centre_aisle_has_its_aisle_seats_at_the_ends_and_beside_the_gap():
    hall = SeatMap(25, per_row=10, aisle_after=(5,))
    assert hall.rows == 3 and [hall.row_length(r) for r in (1, 2, 3)] == [10, 10, 5]
    assert {s for s in hall.aisle_seats if s.startswith("1-")} == {"1-1", "1-5", "1-6", "1-10"}
    assert {s for s in hall.aisle_seats if s.startswith("3-")} == {"3-1", "3-5"}  # the short last row ends at 5
    assert len(hall.order) == 25 and len(set(hall.order)) == 25


def test_seats_are_given_front_rows_first_middle_first_and_aisles_kept_for_those_who_need_them():
    hall = SeatMap(12, per_row=6)  # aisles only at the row ends
    assert assign_seat(hall, [], aisle_first=False) == "1-3"
    assert assign_seat(hall, ["1-3"], aisle_first=False) == "1-4"
    assert assign_seat(hall, [], aisle_first=True) == "1-1"
    assert assign_seat(hall, ["1-1"], aisle_first=True) == "1-6"
    inner = [s for s in hall.order if s not in hall.aisle_seats]
    assert assign_seat(hall, inner, aisle_first=False) == "1-1"  # only aisle seats left: one is given
    aisles = sorted(hall.aisle_seats)
    assert assign_seat(hall, aisles, aisle_first=True) == "1-3"  # no aisle seat left: another seat
    assert assign_seat(hall, hall.order, aisle_first=True) is None


def test_who_needs_an_aisle_seat_is_read_from_the_age_and_the_groups():
    assert needs_aisle(1946, (), 2026) and not needs_aisle(1947, (), 2026)
    assert needs_aisle(1990, ("disabled",), 2026) and not needs_aisle(1990, ("special_care",), 2026)
    assert not needs_aisle(None, (), 2026)


def test_seats_are_said_in_both_languages_and_a_bad_seat_is_refused():
    assert seat_words("3-1") == "3排1号" and seat_words("3-1", "en") == "row 3, seat 1"
    with pytest.raises(ValueError):
        parse_seat("A1")
    with pytest.raises(ValueError):
        SeatMap(0)


@settings(max_examples=150, deadline=None)
@given(seats=st.integers(1, 60), per_row=st.integers(1, 12), aisle=st.lists(st.integers(1, 11), max_size=2),
       needs=st.lists(st.booleans(), max_size=70))
def test_no_seat_is_given_twice_and_aisle_seats_go_first_to_those_who_need_them(seats, per_row, aisle, needs):
    hall = SeatMap(seats, per_row, tuple(aisle))
    taken: list[str] = []
    for need in needs:
        free = [s for s in hall.order if s not in taken]
        seat = assign_seat(hall, taken, need)
        if not free:
            assert seat is None
            continue
        assert seat in free and seat in hall
        free_aisle = [s for s in free if s in hall.aisle_seats]
        free_inner = [s for s in free if s not in hall.aisle_seats]
        if need and free_aisle:
            assert seat in hall.aisle_seats, "a resident who needs an aisle seat got another while one was free"
        if not need and free_inner:
            assert seat not in hall.aisle_seats, "an aisle seat went to someone else while other seats were free"
        assert assign_seat(hall, taken, need) == seat  # deterministic
        taken.append(seat)
    assert len(taken) == len(set(taken))
