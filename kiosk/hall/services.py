"""The hall's services (社保, 医保, 居住证, ...) from config-like data: prefix, names, cap, hours, pace.

A service is what a resident queues for.  Its ``code`` is the ticket prefix (``A`` → A001…), its
``daily_cap`` the most tickets issued per day, its ``hours`` the issuing windows in hall time
(China Standard Time, UTC+8, no daylight saving), and ``avg_handle_min`` the average minutes a
counter spends on one ticket, used for the wait estimate printed on the ticket.

    catalog = ServiceCatalog.from_data([
        {"code": "A", "name_zh": "社会保障", "name_en": "Social security", "daily_cap": 300,
         "hours": ["08:30-11:30", "13:00-16:30"], "avg_handle_min": 6},
    ])

Data may be a list of mappings or a mapping keyed by code (a TOML ``[services.A]`` table).
Anything wrong raises :class:`~kiosk.hall.errors.HallConfigError` with one line naming the service
and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import HallConfigError, QueueRefusal

#: Hall time: China Standard Time (Shanghai), UTC+8 all year.  Days and issuing hours use it.
HALL_TZ = timezone(timedelta(hours=8), "CST")



def iso_utc(at: datetime) -> str:
    """An aware datetime as ISO-8601 UTC with milliseconds and ``Z`` (sortable as text)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WINDOW = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def _parse_window(text: str) -> tuple[time, time | None]:
    """``"08:30-11:30"`` → (08:30, 11:30); an end of ``24:00`` is returned as None (midnight)."""
    m = _WINDOW.match(text)
    if not m:
        raise ValueError(f"issuing window {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"issuing window {text!r} has an impossible time")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(f"issuing window {text!r} ends before it starts")
    return start, end


@dataclass(frozen=True)
class Availability:
    """A service's state for its tile: issuing now, or closed with when it opens, in words."""

    open: bool
    words_zh: str = ""
    words_en: str = ""


class Service(BaseModel):
    """One queue service; immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z]{1,2}$", description="ticket prefix, one or two capital letters")
    name_zh: str = Field(min_length=1, max_length=40, description="name shown and spoken in Chinese")
    name_en: str = Field(min_length=1, max_length=80, description="name in English")
    daily_cap: int = Field(300, ge=1, le=999, description="most tickets issued per day (numbers are 3 digits)")
    hours: tuple[str, ...] = Field(("00:00-24:00",), min_length=1, description="issuing windows, hall time")
    days: tuple[int, ...] = Field((1, 2, 3, 4, 5, 6, 7), min_length=1, description="ISO weekdays open, 1=Mon")
    avg_handle_min: float = Field(5.0, gt=0, le=240, description="average minutes per ticket at a counter")

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            _parse_window(text)
        return value

    @field_validator("days")
    @classmethod
    def _check_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 or d > 7 for d in value):
            raise ValueError("days are ISO weekdays 1 (Monday) to 7 (Sunday)")
        return value

    def is_issuing(self, at: datetime) -> bool:
        """True if tickets may be taken at ``at`` (an aware datetime, any zone)."""
        local = at.astimezone(HALL_TZ)
        if local.isoweekday() not in self.days:
            return False
        now = local.time().replace(tzinfo=None)
        for text in self.hours:
            start, end = _parse_window(text)
            if start <= now and (end is None or now < end):
                return True
        return False

    def hours_text(self, lang: str = "en") -> str:
        """The issuing times for a refusal screen: ``08:30-11:30, 13:00-16:30`` and, when the
        service is not open every day, its days (``Mon Tue Wed Thu Fri`` / ``周一 周二 …``)."""
        text = ", ".join(self.hours)
        if len(set(self.days)) == 7:
            return text
        names = _DAYS_ZH if lang == "zh" else _DAYS_EN
        return " ".join(names[d - 1] for d in sorted(set(self.days))) + " " + text

    def availability(self, at: datetime) -> Availability:
        """Whether tickets are issued at ``at`` and, when not, when they are next, in words for the tile."""
        if self.is_issuing(at):
            return Availability(True)
        local = at.astimezone(HALL_TZ)
        now = local.time().replace(tzinfo=None)
        if local.isoweekday() in self.days:
            later = sorted(start for start, _ in map(_parse_window, self.hours) if start > now)
            if later:
                hhmm = later[0].strftime("%H:%M")
                return Availability(False, f"今日 {hhmm} 开始取号", f"Opens today at {hhmm}")
        return Availability(False, "今日取号已结束", "Closed for today")

    def public(self) -> dict[str, Any]:
        """The service as plain JSON (for displays and counters)."""
        return self.model_dump(mode="json")


class ServiceCatalog:
    """The hall's services by code, in the order they were defined."""

    def __init__(self, services: Iterable[Service]) -> None:
        """Build from ``Service`` objects; duplicate codes or an empty list raise HallConfigError."""
        self._by_code: dict[str, Service] = {}
        for service in services:
            if service.code in self._by_code:
                raise HallConfigError(f"services: code {service.code!r} is defined twice")
            self._by_code[service.code] = service
        if not self._by_code:
            raise HallConfigError("services: at least one service is needed")

    @classmethod
    def from_data(cls, data: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]) -> ServiceCatalog:
        """Validate config-like data (list of mappings, or mapping keyed by code)."""
        if isinstance(data, Mapping):
            items = []
            for code, fields in data.items():
                if not isinstance(fields, Mapping):
                    raise HallConfigError(f"services.{code}: expected a table of fields")
                items.append({"code": code, **fields})
        else:
            items = list(data)
        services = []
        for index, item in enumerate(items):
            label = item.get("code", f"#{index + 1}") if isinstance(item, Mapping) else f"#{index + 1}"
            try:
                services.append(Service.model_validate(item))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "(service)"
                msg = str(err["msg"]).removeprefix("Value error, ")
                raise HallConfigError(f"services.{label}.{where}: {msg}") from None
        return cls(services)

    def get(self, code: str) -> Service:
        """The service ``code``; an unknown code is a :class:`QueueRefusal` (``unknown_service``)."""
        service = self._by_code.get(code)
        if service is None:
            raise QueueRefusal("unknown_service", f"there is no service {code!r} in this hall",
                               f"本大厅没有 {code} 类业务")
        return service

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Service]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    @property
    def codes(self) -> tuple[str, ...]:
        """The service codes in definition order."""
        return tuple(self._by_code)


#: A plausible service list for the Linfen Road hall (demo and tests); real halls load theirs from config.
DEFAULT_SERVICES: tuple[dict[str, Any], ...] = (
    {"code": "A", "name_zh": "社会保障卡", "name_en": "Social security card", "daily_cap": 300,
     "hours": ["08:30-11:30", "13:00-16:30"], "days": [1, 2, 3, 4, 5, 6], "avg_handle_min": 6},
    {"code": "B", "name_zh": "医疗保险", "name_en": "Medical insurance", "daily_cap": 200,
     "hours": ["08:30-11:30", "13:00-16:30"], "days": [1, 2, 3, 4, 5, 6], "avg_handle_min": 8},
    {"code": "C", "name_zh": "民政救助", "name_en": "Civil affairs and assistance", "daily_cap": 120,
     "hours": ["08:30-11:30", "13:00-16:30"], "days": [1, 2, 3, 4, 5], "avg_handle_min": 12},
    {"code": "D", "name_zh": "居住证", "name_en": "Residence permit", "daily_cap": 150,
     "hours": ["08:30-11:30", "13:00-16:30"], "days": [1, 2, 3, 4, 5, 6], "avg_handle_min": 7},
)
