"""The shared personas: the data file matches its generator, and the population looks like the sub-district."""

from __future__ import annotations

import pytest

from hardware_sim.personas import DATA_FILE, dump, generate, id_check_digit, load

pytestmark = pytest.mark.unit


def test_data_file_is_what_the_generator_makes():
    assert DATA_FILE.read_text(encoding="utf-8") == dump(generate())


def test_population_is_realistic():
    people = load()
    assert len(people) >= 50
    ages = [p.age_on() for p in people]
    assert min(ages) >= 18 and max(ages) <= 100
    assert 0.40 <= sum(a >= 60 for a in ages) / len(ages) <= 0.50
    assert sum(a >= 80 for a in ages) >= 3
    for flag in ("veteran", "special_care", "disabled", "lives_alone"):
        assert any(getattr(p, flag) for p in people), flag
    assert {p.code_colour for p in people} == {"green", "yellow", "red"}
    assert len({p.id_number for p in people}) == len({p.ccard_uid for p in people}) == len(people)


def test_every_id_number_has_a_valid_check_digit():
    for p in load():
        assert p.id_number[-1] == id_check_digit(p.id_number[:17])
        assert p.id_number[6:14] == p.birth
        assert int(p.id_number[16]) % 2 == (1 if p.sex == "1" else 0)


@pytest.mark.parametrize("n", [20, 1000, 3000])
def test_larger_populations_generate(n):
    people = generate(n, seed=7)
    assert len(people) == n and len({p.persona_id for p in people}) == n


def test_too_small_a_population_is_refused_clearly():
    with pytest.raises(ValueError, match="at least 20"):
        generate(5)
