"""The central's importer checks screening rows (starts_at with its offset, seats, price, free groups, aisles)."""

from __future__ import annotations

import pytest

from sync.central.importer import check_row

GOOD = {"screening_id": "s1", "title": "地道战", "starts_at": "2026-12-05T14:00:00+08:00", "hall": "一楼多功能厅",
        "seats": 60, "price_fen": 500, "free_groups": ["special_care"], "row_seats": 10, "aisle_after": [5]}


def test_a_good_screening_row_is_accepted_as_is_and_csv_cells_are_converted():
    assert check_row("screening", GOOD, from_csv=False).data == GOOD
    csv = {**{k: str(v) for k, v in GOOD.items()}, "free_groups": "special_care;disabled", "aisle_after": "5"}
    data = check_row("screening", csv, from_csv=True).data
    assert data["seats"] == 60 and data["free_groups"] == ["special_care", "disabled"] and data["aisle_after"] == ["5"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"starts_at": "next friday"}, "ISO time"),
    ({"starts_at": "2026-12-05T14:00:00"}, "offset"),
    ({"seats": 0}, "seats"),
    ({"row_seats": 500}, "row_seats"),
    ({"price_fen": -1}, "price_fen"),
    ({"free_groups": ["Special Care"]}, "free_groups"),
    ({"aisle_after": ["left"]}, "aisle_after"),
    ({"seats": "60"}, "whole number"),
])
def test_a_screening_row_that_does_not_hold_together_is_refused_with_why(change, reason):
    with pytest.raises(ValueError, match=reason):
        check_row("screening", {**GOOD, **change}, from_csv=False)
