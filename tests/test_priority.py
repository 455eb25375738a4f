"""The priority register: keyed-hash matching, groups from reference data, 80+ from the birth date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hardware_sim import personas
from hardware_sim.personas import id_check_digit
from kiosk.priority import (
    AGE80,
    GROUPS,
    LivePriorityRegister,
    Priority,
    PriorityRegister,
    PriorityRegisterError,
    birth_from_id,
    build_register,
    generate_key,
    key_check,
    load_key,
    person_key,
    write_register,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
TODAY = personas.REFERENCE_DATE


def make_id(birth: str, area: str = "310106", seq: str = "123") -> str:
    first17 = area + birth + seq
    return first17 + id_check_digit(first17)


@pytest.fixture(scope="module")
def register_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_register(tmp_path_factory.mktemp("ref") / "priority.json", personas.load(), KEY)


@pytest.fixture(scope="module")
def register(register_file: Path) -> PriorityRegister:
    return PriorityRegister.load(register_file, KEY)


# -- the keyed hash -------------------------------------------------------------------------

def test_person_key_is_a_keyed_hash_of_the_normalised_number() -> None:
    number = personas.by_id("P003").id_number  # ends in X
    h = person_key(number, KEY)
    assert len(h) == 64 and int(h, 16) >= 0
    assert person_key(f"  {number.lower()}\n", KEY) == h
    assert person_key(number, generate_key()) != h
    assert person_key(number[:-1] + "0", KEY) != h
    assert number not in h


def test_keys_shorter_than_16_bytes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PriorityRegisterError):
        person_key("310106194001011234", b"short")
    (tmp_path / "key.hex").write_text(KEY.hex() + "\n", encoding="ascii")
    assert load_key(tmp_path / "key.hex") == KEY
    (tmp_path / "bad.hex").write_text("not hex", encoding="ascii")
    with pytest.raises(PriorityRegisterError):
        load_key(tmp_path / "bad.hex")
    (tmp_path / "tiny.hex").write_text("abcd", encoding="ascii")
    with pytest.raises(PriorityRegisterError):
        load_key(tmp_path / "tiny.hex")


# -- the register file ----------------------------------------------------------------------

def test_register_file_holds_hashes_and_groups_but_no_id_number(register_file: Path) -> None:
    text = register_file.read_text(encoding="utf-8")
    for p in personas.load():
        assert p.id_number not in text
        assert p.id_number[:17] not in text
    doc = json.loads(text)
    in_groups = [p for p in personas.load() if p.veteran or p.special_care or p.disabled]
    assert len(doc["entries"]) == len(in_groups) > 0
    assert doc["key_check"] == key_check(KEY)


def test_every_persona_gets_exactly_their_groups_and_age(register: PriorityRegister) -> None:
    for p in personas.load():
        expected = [g for g in GROUPS if getattr(p, g)]
        if p.age_on(TODAY) >= 80:
            expected.append(AGE80)
        result = register.lookup(p.id_number, p.birth, TODAY)
        assert result == Priority(tuple(expected)), p.persona_id
        assert result.is_priority == bool(expected)


def test_personas_cover_every_reason_and_normal_residents(register: PriorityRegister) -> None:
    seen = {r for p in personas.load() for r in register.lookup(p.id_number, p.birth, TODAY).reasons}
    assert seen == {*GROUPS, AGE80}
    assert any(not register.lookup(p.id_number, p.birth, TODAY).is_priority for p in personas.load())


def test_the_register_matches_on_the_hash_whatever_the_case_of_x(register: PriorityRegister) -> None:
    grouped = next(p for p in personas.load() if p.veteran and p.age_on(TODAY) < 80)
    assert register.lookup(grouped.id_number.lower(), grouped.birth, TODAY).reasons == ("veteran",) + tuple(
        g for g in GROUPS[1:] if getattr(grouped, g))
    assert register.groups_of(register.person_key(grouped.id_number))


def test_a_register_made_with_another_key_is_refused(register_file: Path) -> None:
    with pytest.raises(PriorityRegisterError, match="another deployment key"):
        PriorityRegister.load(register_file, generate_key())


@pytest.mark.parametrize("doc", [
    [],
    {"format": "something", "version": 1},
    {"format": "linfen-priority-register", "version": 2, "key_check": key_check(KEY), "entries": []},
    {"format": "linfen-priority-register", "version": 1, "key_check": key_check(KEY)},
    {"format": "linfen-priority-register", "version": 1, "key_check": key_check(KEY), "entries": [7]},
    {"format": "linfen-priority-register", "version": 1, "key_check": key_check(KEY),
     "entries": [{"h": "310106194001011234", "groups": ["veteran"]}]},
    {"format": "linfen-priority-register", "version": 1, "key_check": key_check(KEY),
     "entries": [{"h": "a" * 64, "groups": ["vip"]}]},
])
def test_unusable_register_documents_are_refused(doc: object) -> None:
    with pytest.raises(PriorityRegisterError):
        PriorityRegister.from_document(doc, KEY)


def test_unreadable_register_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PriorityRegisterError):
        PriorityRegister.load(tmp_path / "missing.json", KEY)
    (tmp_path / "bad.json").write_bytes(b"{\xff")
    with pytest.raises(PriorityRegisterError):
        PriorityRegister.load(tmp_path / "bad.json", KEY)


def test_build_register_leaves_out_people_in_no_group() -> None:
    doc = build_register([p for p in personas.load() if not (p.veteran or p.special_care or p.disabled)], KEY)
    assert doc["entries"] == []
    assert len(PriorityRegister.from_document(doc, KEY)) == 0


# -- 80 and over ----------------------------------------------------------------------------

EMPTY = PriorityRegister(KEY)


def test_eighty_starts_on_the_eightieth_birthday() -> None:
    number = make_id("19460315")
    assert EMPTY.lookup(number, "19460315", dt.date(2026, 3, 14)).reasons == ()
    assert EMPTY.lookup(number, "19460315", dt.date(2026, 3, 15)).reasons == (AGE80,)


def test_a_leap_day_birthday_turns_eighty_on_the_twenty_ninth() -> None:
    leap = make_id("19440229")  # 80 years on is always a leap year again (until 2100)
    assert EMPTY.lookup(leap, None, dt.date(2024, 2, 28)).reasons == ()
    assert EMPTY.lookup(leap, None, dt.date(2024, 2, 29)).reasons == (AGE80,)


def test_the_card_birth_field_wins_over_the_id_digits() -> None:
    number = make_id("19900101")  # the digits say 36 years old
    assert EMPTY.lookup(number, "19400101", TODAY).reasons == (AGE80,)
    assert EMPTY.lookup(number, dt.date(1940, 1, 1), TODAY).reasons == (AGE80,)
    assert EMPTY.lookup(make_id("19400101"), "19900101", TODAY).reasons == ()


@pytest.mark.parametrize("birth", [None, "", "1940", "19401301", "abcdefgh"])
def test_without_a_usable_birth_field_the_id_digits_are_used(birth: str | None) -> None:
    assert EMPTY.lookup(make_id("19400101"), birth, TODAY).reasons == (AGE80,)


def test_no_birth_anywhere_means_no_age_reason() -> None:
    assert EMPTY.lookup("not-a-number", None, TODAY).reasons == ()
    assert birth_from_id("31010619401301123X") is None
    assert birth_from_id("310106400101123") == dt.date(1940, 1, 1)  # old 15-digit number


# -- a live register (pulled reference data, a file as the seed) ------------------------------------


def test_a_live_register_follows_its_source_and_falls_back_to_the_seed() -> None:
    veteran, disabled = make_id("19550101"), make_id("19600202")
    pulled = PriorityRegister(KEY, {person_key(veteran, KEY): ["veteran"]})
    seed = PriorityRegister(KEY, {person_key(disabled, KEY): ["disabled"]})
    current: list[PriorityRegister | None] = [None]
    live = LivePriorityRegister(KEY, lambda: current[0], seed)
    assert live.lookup(disabled, None, TODAY).reasons == ("disabled",) and len(live) == 1
    current[0] = pulled
    assert live.lookup(veteran, None, TODAY).reasons == ("veteran",)
    assert live.lookup(disabled, None, TODAY).reasons == ()
    assert live.from_source


def test_a_live_register_without_source_data_or_seed_keeps_the_age_rule() -> None:
    live = LivePriorityRegister(KEY, lambda: None)
    assert len(live) == 0
    assert live.lookup(make_id("19400101"), None, TODAY).reasons == (AGE80,)
    assert live.lookup(make_id("19900101"), None, TODAY).reasons == ()


def test_a_failing_source_keeps_the_last_register_it_gave(caplog: pytest.LogCaptureFixture) -> None:
    veteran = make_id("19550101")
    answers: list[object] = [PriorityRegister(KEY, {person_key(veteran, KEY): ["veteran"]})]

    def source() -> PriorityRegister | None:
        answer = answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    live = LivePriorityRegister(KEY, source)
    assert live.lookup(veteran, None, TODAY).reasons == ("veteran",)
    answers[0] = OSError("disk gone")
    assert live.lookup(veteran, None, TODAY).reasons == ("veteran",)
    assert "keeping the last register" in caplog.text
