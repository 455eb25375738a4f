"""The ID card's 256-byte text block, field by field, plus the checks and masks that go with it.

The block is UCS-2LE, fields padded with spaces (``20 00``), widths in bytes (DESIGN §4):
name 30, sex 2, nation 4, birth 16, address 70, ID number 36, issuing authority 30,
valid from 16, valid to 16 (digits or 长期), reserved 36.  Nation codes are GB 3304
(01–56, plus 97 and 98); the ID number's last character is the GB 11643 check digit.
Screens and tickets show only the masked forms (DESIGN §7).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from drivers.idcard.codec import CardDataError

FIELD_BYTES: tuple[tuple[str, int], ...] = (
    ("name", 30),
    ("sex", 2),
    ("nation", 4),
    ("birth", 16),
    ("address", 70),
    ("id_number", 36),
    ("authority", 30),
    ("valid_from", 16),
    ("valid_to", 16),
    ("reserved", 36),
)
TEXT_BLOCK_BYTES = sum(width for _, width in FIELD_BYTES)  # 256
LONG_TERM = "长期"  # "valid to" of a card that does not expire
_PADDING = " \x00\u3000"  # spaces (the spec's padding), NULs and ideographic spaces seen on some readers

NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝", "08": "壮",
    "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白", "15": "土家", "16": "哈尼",
    "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤", "22": "畲", "23": "高山", "24": "拉祜",
    "25": "水", "26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土", "31": "达斡尔",
    "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯",
    "39": "阿昌", "40": "普米", "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克",
    "46": "德昂", "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺",
    "97": "其他", "98": "外国血统中国籍人士",
}
SEXES: dict[str, str] = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}  # GB/T 2261.1

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


@dataclass(frozen=True)
class CardText:
    """The parsed text block of one ID card."""

    name: str
    sex: str  # "1" male, "2" female (as on the card)
    nation_code: str  # "01".."56"
    birth: dt.date
    address: str
    id_number: str  # 18 characters, a final "x" upper-cased
    authority: str
    valid_from: dt.date
    valid_to: dt.date | None  # None for 长期 (long-term)


def nation_name(code: str) -> str:
    """The nation's name for a GB 3304 code (``"01"`` → ``"汉"``); ``"未知"`` for a code not in the table."""
    return NATIONS.get(code.zfill(2), "未知")


def sex_name(code: str) -> str:
    """``"1"`` → ``"男"``, ``"2"`` → ``"女"``."""
    return SEXES.get(code, "未知")


def check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError("need exactly 17 digits")
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_number_valid(id_number: str) -> bool:
    """True when ``id_number`` is 17 digits and the right GB 11643 check character (x or X)."""
    number = id_number.upper()
    if len(number) != 18 or not number[:17].isdigit() or not number[:17].isascii():
        return False
    return check_digit(number[:17]) == number[17]


def mask_id(id_number: str) -> str:
    """Masked for screens and tickets: first 3 and last 4 kept (``310***********6877``)."""
    if len(id_number) <= 7:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_name(name: str) -> str:
    """Masked for screens: ``张三明`` → ``张*明``, ``张三`` → ``张*``, ``欧阳小明`` → ``欧**明``."""
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def split_fields(text: bytes) -> dict[str, str]:
    """The text block cut into its fields, decoded and stripped of padding."""
    if len(text) < TEXT_BLOCK_BYTES:
        raise CardDataError(f"text block is {len(text)} bytes, need {TEXT_BLOCK_BYTES}")
    fields: dict[str, str] = {}
    offset = 0
    for field, width in FIELD_BYTES:
        raw = text[offset:offset + width]
        offset += width
        fields[field] = raw.decode("utf-16-le", errors="replace").strip(_PADDING)
    return fields


def parse_date(value: str, field: str) -> dt.date:
    """``YYYYMMDD`` → date; CardDataError naming the field otherwise."""
    if len(value) != 8 or not value.isdigit() or not value.isascii():
        raise CardDataError(f"{field} {value!r} is not YYYYMMDD")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise CardDataError(f"{field} {value!r} is not a date") from None


def parse_valid_to(value: str) -> dt.date | None:
    """The expiry date, or None for a long-term (长期) card."""
    if value.startswith(LONG_TERM):
        return None
    return parse_date(value, "valid to")


def parse_text(text: bytes) -> CardText:
    """The 256-byte text block → :class:`CardText`; CardDataError when a field cannot be read."""
    f = split_fields(text)
    nation = f["nation"]
    if not (nation.isdigit() and nation.isascii() and 1 <= len(nation) <= 2):
        raise CardDataError(f"nation code {nation!r} is not a number")
    return CardText(
        name=f["name"],
        sex=f["sex"],
        nation_code=nation.zfill(2),
        birth=parse_date(f["birth"], "birth date"),
        address=f["address"],
        id_number=f["id_number"].upper(),
        authority=f["authority"],
        valid_from=parse_date(f["valid_from"], "valid from"),
        valid_to=parse_valid_to(f["valid_to"]),
    )
