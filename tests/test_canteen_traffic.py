"""The simulated canteen week: deterministic, the district's mix, about 1,100 meals a day at three canteens."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hardware_sim import canteen_traffic as traffic
from sync.pii import find_pii


def test_diners_have_the_district_mix_unique_cards_and_masked_names():
    people = traffic.diners(3000)
    assert len({d.card_no for d in people}) == 3000
    ages = Counter("80+" if 2026 - d.birth_year >= 80 else "60-79" if 2026 - d.birth_year >= 60 else "young"
                   for d in people)
    assert 0.12 < ages["80+"] / 3000 < 0.18 and 0.50 < ages["60-79"] / 3000 < 0.60
    assert all(find_pii(d.card_row()) is None for d in people)
    assert traffic.diners(50) == traffic.diners(50)  # deterministic for a seed


def test_a_week_has_about_1100_meals_a_day_at_lunch_and_supper_with_regulars():
    people = traffic.diners(3000)
    meals = traffic.week(people, dt.date(2026, 12, 7), ["set-a", "set-b"], ["d1", "d2", "d3"], "rice")
    per_day = Counter(m.day for m in meals)
    assert len(per_day) == 7 and all(1000 < n < 1200 for n in per_day.values())
    assert set(m.canteen for m in meals) == set(traffic.CANTEENS)
    lunch = sum(1 for m in meals if m.at.hour < 14)
    assert 0.7 < lunch / len(meals) < 0.9
    one_day = [m for m in meals if m.day == dt.date(2026, 12, 7)]
    assert len({m.card_no for m in one_day}) == len(one_day)  # one meal per diner per day
    regulars = {d.card_no for d in people if d.regular}
    days_seen = Counter(m.card_no for m in meals)
    assert sum(days_seen[c] for c in regulars) / len(regulars) > 4  # regulars come most days
    assert meals == traffic.week(people, dt.date(2026, 12, 7), ["set-a", "set-b"], ["d1", "d2", "d3"], "rice")
