"""Synthetic residents the simulator plays: ID card, social-security card, community card, code colour.

The data file ``hardware_sim/data/personas.json`` is what tests and the demo share; it is
made by :func:`generate` with a fixed seed (``python -m hardware_sim.personas --write``)
and a test checks that the file and the generator agree.  Every ID number has a valid
GB 11643 check digit; nobody here is a real person.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "personas.json"
REFERENCE_DATE = dt.date(2026, 12, 1)  # ages in the data file are as of this day
DEFAULT_COUNT = 60
DEFAULT_SEED = 20261201
MIN_COUNT = 20  # smallest population with every age band, group and code colour

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class Persona:
    """One synthetic resident and every card they carry."""

    persona_id: str
    name: str
    sex: str  # "1" male, "2" female (GB/T 2261.1, as on the ID card)
    nation: str  # two-digit nation code 01-56
    birth: str  # YYYYMMDD
    address: str
    id_number: str
    authority: str
    valid_from: str  # YYYYMMDD
    valid_to: str  # YYYYMMDD or "长期"
    ss_card_number: str  # social-security card number
    ss_card_id_code: str  # card identification code; region in its first 6 digits
    ss_spec_version: str  # "1.00", "2.00", "3.00": card generation
    ss_issue_date: str
    ss_expiry_date: str
    ccard_uid: str  # community card UID, hex
    code_colour: str  # "green", "yellow", "red"
    veteran: bool
    special_care: bool
    disabled: bool
    lives_alone: bool

    def age_on(self, day: dt.date = REFERENCE_DATE) -> int:
        """Age in whole years on ``day``."""
        born = dt.date(int(self.birth[:4]), int(self.birth[4:6]), int(self.birth[6:]))
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def photo(self) -> bytes:
        """The 1024-byte WLT photo blob (vendor-encoded on real cards; deterministic filler here)."""
        out = b""
        counter = 0
        while len(out) < 1024:
            out += hashlib.sha256(f"{self.persona_id}:{counter}".encode()).digest()
            counter += 1
        return out[:1024]


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN_M = ["建国", "国强", "志明", "伟", "军", "明华", "海涛", "德才", "永康", "文斌", "晓东", "俊杰", "子豪", "福生", "根宝"]
_GIVEN_F = ["秀英", "桂兰", "玉珍", "丽娟", "美玲", "静", "敏", "慧芳", "凤英", "雅琴", "佳怡", "欣然", "梦琪", "阿妹", "红"]
_STREETS = ["临汾路", "汾西路", "阳曲路", "闻喜路", "平型关路", "场中路", "保德路", "岭南路", "共和新路"]
_NATIONS = ["01"] * 40 + ["03", "02", "05", "06", "08", "10", "11"]
_DISTRICT_CODES = ["310106", "310108", "310109", "310107", "310113"]


def _add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _birth_for_age(rng: random.Random, age: int) -> dt.date:
    start = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age - 1) + dt.timedelta(days=1)
    return start + dt.timedelta(days=rng.randrange(365))


def _ages(rng: random.Random, n: int) -> list[int]:
    """Ages 18-100 with about 45 % over 60 and several over 80, as in the sub-district."""
    over60 = round(n * 0.45)
    over80 = max(4, n // 10)
    ages = [100] + [rng.randint(80, 99) for _ in range(over80 - 1)]
    ages += [rng.randint(61, 79) for _ in range(over60 - over80)]
    ages += [18] + [rng.randint(19, 59) for _ in range(n - over60 - 1)]
    rng.shuffle(ages)
    return ages


def generate(n: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[Persona]:
    """Make ``n`` personas (at least ``MIN_COUNT``) deterministically from ``seed``."""
    if n < MIN_COUNT:
        raise ValueError(f"a population needs at least {MIN_COUNT} people to have every group, not {n}")
    rng = random.Random(seed)
    reds, yellows = max(2, round(n * 0.04)), max(3, round(n * 0.08))
    colours = ["red"] * reds + ["yellow"] * yellows + ["green"] * (n - reds - yellows)
    rng.shuffle(colours)
    people = []
    used_uids: set[str] = set()
    for i, age in enumerate(_ages(rng, n), start=1):
        male = rng.random() < 0.47
        birth = _birth_for_age(rng, age)
        seq = rng.randrange(0, 100) * 10 + (rng.choice([1, 3, 5, 7, 9]) if male else rng.choice([0, 2, 4, 6, 8]))
        first17 = f"{rng.choice(_DISTRICT_CODES)}{birth:%Y%m%d}{seq:03d}"
        issued = REFERENCE_DATE - dt.timedelta(days=rng.randrange(200, 3600))
        age_at_issue = age - (REFERENCE_DATE.year - issued.year)
        if age_at_issue >= 46:
            valid_to = "长期"
        else:
            years = 20 if age_at_issue >= 26 else 10
            valid_to = f"{_add_years(issued, years):%Y%m%d}"
        generation = rng.choices(["3.00", "2.00", "1.00"], weights=[5, 4, 1])[0]
        ss_issued = REFERENCE_DATE - dt.timedelta(days=rng.randrange(100, 3000))
        uid = ""
        while not uid or uid in used_uids:
            uid = bytes(rng.randrange(256) for _ in range(4)).hex().upper()
        used_uids.add(uid)
        over60 = age >= 60
        people.append(
            Persona(
                persona_id=f"P{i:03d}",
                name=rng.choice(_SURNAMES) + rng.choice(_GIVEN_M if male else _GIVEN_F),
                sex="1" if male else "2",
                nation=rng.choice(_NATIONS),
                birth=f"{birth:%Y%m%d}",
                address=f"上海市静安区{rng.choice(_STREETS)}{rng.randint(1, 1500)}弄"
                f"{rng.randint(1, 90)}号{rng.randint(1, 6)}{rng.randint(0, 2)}{rng.randint(1, 4)}室",
                id_number=first17 + id_check_digit(first17),
                authority="上海市公安局静安分局",
                valid_from=f"{issued:%Y%m%d}",
                valid_to=valid_to,
                ss_card_number=f"{rng.choice('ABCDEFGHJK')}{rng.randrange(10**8):08d}",
                ss_card_id_code=f"310000D156{rng.randrange(16**22):022X}",
                ss_spec_version=generation,
                ss_issue_date=f"{ss_issued:%Y%m%d}",
                ss_expiry_date=f"{_add_years(ss_issued, 10):%Y%m%d}",
                ccard_uid=uid,
                code_colour=colours[i - 1],
                veteran=False,
                special_care=False,
                disabled=False,
                lives_alone=over60 and rng.random() < 0.3,
            )
        )
    return _assign_groups(rng, people)


def _assign_groups(rng: random.Random, people: list[Persona]) -> list[Persona]:
    """Mark veterans (mostly 70+), special-care recipients and disabled residents in fixed numbers."""
    n = len(people)
    elders = [i for i, p in enumerate(people) if p.age_on() >= 70]
    others = [i for i in range(n) if i not in elders]
    veterans = set(rng.sample(elders, min(len(elders), max(3, n // 15))) + rng.sample(others, 1))
    rest = [i for i in range(n) if i not in veterans]
    special = set(rng.sample(rest, max(3, n // 15)))
    disabled = set(rng.sample([i for i in rest if i not in special], max(2, n // 20)))
    return [
        replace(p, veteran=i in veterans, special_care=i in special, disabled=i in disabled)
        for i, p in enumerate(people)
    ]


@cache
def load(path: Path = DATA_FILE) -> tuple[Persona, ...]:
    """The shared personas from the data file."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Persona(**row) for row in rows)


def by_id(persona_id: str) -> Persona:
    """One persona by id (``P001``…); ``KeyError`` names the id when there is none."""
    for p in load():
        if p.persona_id == persona_id:
            return p
    raise KeyError(f"no persona {persona_id!r} (there are P001..P{len(load()):03d})")


#: The community cards the simulator can put on a reader for one persona: the persona's own (``genuine``),
#: a copy with the same UID and no key (``clone``), and a card with that UID and no application (``no_applet``).
CARD_VARIANTS = ("genuine", "clone", "no_applet")
_VARIANT_SEP = ":"


def card_variant(persona: Persona, variant: str) -> Persona:
    """``persona`` carrying card ``variant`` instead of its own community card (id e.g. ``P001:clone``).

    The UID stays the persona's; the simulator's card factory reads the variant back with
    :func:`variant_of`, and the reader's status shows it in the card's id.
    """
    if variant not in CARD_VARIANTS:
        raise ValueError(f"no card variant {variant!r}; variants: {', '.join(CARD_VARIANTS)}")
    base = persona.persona_id.partition(_VARIANT_SEP)[0]
    return replace(persona, persona_id=base if variant == "genuine" else f"{base}{_VARIANT_SEP}{variant}")


def variant_of(persona: Persona) -> str:
    """Which community card ``persona`` carries: ``genuine``, ``clone`` or ``no_applet`` (see :func:`card_variant`)."""
    _, sep, variant = persona.persona_id.partition(_VARIANT_SEP)
    return variant if sep and variant in CARD_VARIANTS else "genuine"


def dump(people: list[Persona]) -> str:
    """The data file's text for ``people``."""
    return json.dumps([asdict(p) for p in people], ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    """Regenerate the data file (``--write``) or check that it matches the generator."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true", help="rewrite the data file")
    args = ap.parse_args()
    text = dump(generate())
    if args.write:
        DATA_FILE.parent.mkdir(parents=True, exist_ok=True)
        DATA_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {DATA_FILE}")
    else:
        same = DATA_FILE.exists() and DATA_FILE.read_text(encoding="utf-8") == text
        print("data file matches the generator" if same else "data file differs: run with --write")


if __name__ == "__main__":
    main()
