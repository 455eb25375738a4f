"""The PII gate for data entering the central (import and push): no raw ID numbers, no unmasked names.

DESIGN §7: stores keep a keyed hash of an ID number and the masked name (``张*明``), never the
number or the full name.  :func:`find_pii` looks at a parsed JSON value at every depth and
returns the first place that breaks the rule, as a :class:`PiiFinding` (path + reason):

* a **key** that names an ID number, in any spelling (``ID_NUMBER``, ``idNumber``, ``id-no``,
  ``sfz``, ``身份证号``, ``holder_id`` ...): keys are NFKC-normalised, case-folded and stripped of
  ``_``, ``-``, ``.`` and blanks before they are compared;
* a **value** (string or whole number, in any field) holding, as a word of its own (not inside a
  longer run of letters and digits, such as a hex hash), an 18-digit resident ID whose
  birth date is a real date and whose ISO 7064 MOD 11-2 check digit is right, or a 15-digit
  legacy ID (6-digit area, a real ``YYMMDD`` birth date, 3 digits);
* an **unmasked name** in a name-like field (``name``, ``holder_name``, ``姓名`` ...): 2-4 CJK
  characters that are not a masked form (the surname, then ``*`` for every hidden character,
  optionally the last character: ``张*``, ``张*明``, ``欧**明``, as :func:`kiosk.masking.mask_name`
  writes them).

``item_name_ok``: for reference kinds whose top-level ``name`` is an item's name (a menu dish, a
room), that one field is not treated as a person's name.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID18 = re.compile(r"(?<![0-9A-Za-z])([1-8][0-9]{16}[0-9Xx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])([1-8][0-9]{14})(?![0-9A-Za-z])")
_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef\uf900-\ufaff]"
_CJK_NAME = re.compile(rf"^(?:{_CJK}|·){{2,5}}$")
_MASKED_NAME = re.compile(rf"^{_CJK}{{1,2}}\*+{_CJK}?$")

#: Normalised keys that name an ID number (or a person's id) outright.
ID_KEYS = frozenset({
    "idnumber", "idno", "idnum", "idcard", "idcardno", "idcardnumber", "idcode", "sfz", "sfzh", "sfzhm",
    "sfzno", "sfzhao", "shenfenzheng", "shenfenzhenghao", "身份证", "身份证号", "身份证号码", "证件号", "证件号码",
    "公民身份号码", "身份号码", "holderid", "residentid", "personid", "citizenid", "nationalid", "identity",
    "identityno", "identitynumber", "identitycard", "certno", "certificateno", "certificatenumber", "zjhm",
})
#: Endings of normalised keys that name an ID number (``holder_id_number``, ``owner_sfz``).
ID_KEY_ENDINGS = ("idnumber", "idno", "idnum", "idcard", "idcardno", "idcardnumber", "sfz", "sfzh", "sfzhm",
                  "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "身份号码")
#: Normalised keys whose value is a person's name.
NAME_KEYS = frozenset({
    "name", "holder", "holdername", "cardholder", "cardholdername", "fullname", "realname", "personname",
    "residentname", "ownername", "contactname", "patientname", "applicantname", "username", "xingming", "xm",
    "maskedname",  # a field that promises a masked form must hold one (陈*英 passes, 陈秀英 is refused)
    "姓名", "名字", "真实姓名", "持卡人", "持卡人姓名",
})
#: The one key exempt when ``item_name_ok`` (an item's name, not a person's).
ITEM_NAME_KEY = "name"


@dataclass(frozen=True)
class PiiFinding:
    """Where personal data was found and what it is."""

    path: str
    reason: str

    def __str__(self) -> str:
        """``field extra.id_number: ...`` as a refusal reads it."""
        return f"field {self.path}: {self.reason}"


def normal_key(key: str) -> str:
    """``ID_NUMBER``, ``idNumber``, ``id-no`` → ``idnumber``, ``idnumber``, ``idno``."""
    folded = unicodedata.normalize("NFKC", key).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def is_id_key(key: str) -> bool:
    """Whether a field called ``key`` would hold an ID number."""
    norm = normal_key(key)
    return norm in ID_KEYS or norm.endswith(ID_KEY_ENDINGS) or "身份证" in norm


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def valid_id18(number: str) -> bool:
    """An 18-character resident ID: real birth date and a right MOD 11-2 check digit."""
    if len(number) != 18 or not number[:17].isdigit() or not number[:17].isascii():
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not 1900 <= year <= 2100 or not _real_date(year, month, day):
        return False
    check = _CHECK_CHARS[sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True)) % 11]
    return number[17].upper() == check


def valid_id15(number: str) -> bool:
    """A 15-digit legacy resident ID: area, a real ``YYMMDD`` birth date (19YY), three digits."""
    if len(number) != 15 or not number.isdigit() or not number.isascii():
        return False
    return _real_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))


def holds_id_number(text: str) -> bool:
    """Whether ``text`` holds a raw resident ID number (18-digit with a valid check digit, or 15-digit legacy)."""
    text = unicodedata.normalize("NFKC", text)
    if len(text) < 15:
        return False
    return any(valid_id18(m) for m in _ID18.findall(text)) or any(valid_id15(m) for m in _ID15.findall(text))


def unmasked_name(text: str) -> bool:
    """2-4 CJK characters (a compound surname allowed) that are not a masked form like ``张*明``."""
    name = unicodedata.normalize("NFKC", text).strip()
    return bool(_CJK_NAME.match(name)) and not _MASKED_NAME.match(name)


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def find_pii(value: Any, *, item_name_ok: bool = False, path: str = "", depth: int = 0) -> PiiFinding | None:
    """The first raw ID number, ID-number field or unmasked name in ``value``, or None."""
    if depth > 100:
        return PiiFinding(path, "nested too deeply to check")
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            where = _join(path, key_text)
            if is_id_key(key_text) and item not in (None, "", [], {}):
                return PiiFinding(where, "raw ID numbers are not accepted (give the keyed hash instead)")
            exempt = item_name_ok and depth == 0 and key_text == ITEM_NAME_KEY
            if not exempt and normal_key(key_text) in NAME_KEYS and isinstance(item, str) and unmasked_name(item):
                return PiiFinding(where, "an unmasked name (give the masked form, e.g. 张*明)")
            found = find_pii(item, item_name_ok=item_name_ok, path=where, depth=depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_pii(item, item_name_ok=item_name_ok, path=_join(path, index), depth=depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str) and holds_id_number(str(value)):
        return PiiFinding(path or "(value)", "holds a raw ID number (give the keyed hash or the masked form)")
    return None
