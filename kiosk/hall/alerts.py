"""Staff alerts of the hall: fever, yellow/red code, printer out of paper, a device down, a stuck check-in.

The ticket machine raises an alert; the counters show every open alert on a banner, in words
(what, where and, for a refusal, which resident by masked name) until one clerk acknowledges
it.  Each change is one store action: the alert row and its outbox event together.

    board = AlertBoard(store)
    alert_id = board.raise_alert("fever", "hall-01", resident="张*明", detail={"celsius": 38.1})
    board.open_alerts()                       # [HallAlert, ...] oldest first
    board.acknowledge(alert_id, "S001", 3)    # attributed: staff id, window, time

Events (the central sees no name, masked or not — the resident stays in the hall's store):

    alert.raised        {alert_id, kind, source, detail}
    alert.acknowledged  {alert_id, kind, source, staff_id, window}

Listeners (the LAN service's push channel) are told after each change, from the caller's thread.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.runtime.health import DEVICE_NAMES
from kiosk.runtime.health import REASON_WORDS as HEALTH_REASONS
from kiosk.store import Action, Store

from .errors import HallError, NotFound, TicketStateError
from .services import HALL_TZ, iso_utc
from .tickets import check_masked_name, check_staff

log = logging.getLogger(__name__)

#: What each kind of alert says, zh and en; ``{name}`` fields come from the alert's detail.
KIND_WORDS: dict[str, tuple[str, str]] = {
    "fever": ("体温异常 {celsius}°C，未发号，请工作人员处置", "Fever {celsius} °C: no ticket issued, please attend"),
    "code_yellow": ("健康码为黄码，未发号，请工作人员处置", "Yellow health code: no ticket issued, please attend"),
    "code_red": ("健康码为红码，未发号，请工作人员立即处置", "Red health code: no ticket issued, please attend at once"),
    "code_unknown": ("健康码状态无法确认，未发号，请工作人员核验", "Health code could not be checked: no ticket issued, "
                     "please check it"),
    "printer": ("打印机问题（{reason}），{ticket} 号只显示在屏幕上，请处理", "Printer problem ({reason}): ticket {ticket} "
                "is only on the screen, please fix"),
    "device_down": ("{device}故障（{reason}），请检修", "{device} is down ({reason}), please repair"),
    "device_up": ("{device}已恢复正常", "{device} is working again"),
    "device_fault": ("{device}出错，请检修", "{device} failed, please check it"),
    "checkin_timeout": ("取号超时，居民可能需要帮助", "Check-in timed out: the resident may need help"),
    "flow_stuck": ("取号流程中断（{state}），请到取号机协助", "Check-in stopped ({state}): please help at the machine"),
    "ask_staff": ("居民请求工作人员帮助", "A resident asks for staff help"),
    "help": ("居民按了“呼叫工作人员”（{screen}页面），请到取号机协助",
             "A resident pressed 'Call staff' (on the {screen} screen): please help at the machine"),
}
#: The check-in screen a "help" alert names, in words a clerk knows.
SCREEN_WORDS: dict[str, tuple[str, str]] = {
    "idle": ("选择业务", "service choice"), "choosing": ("选择业务", "service choice"),
    "present": ("刷卡", "swipe your card"), "checking": ("核验", "checking"), "issuing": ("取号", "issuing"),
    "printing": ("打印", "printing"), "ticket": ("号票", "ticket"), "refused": ("暂不能取号", "no ticket"),
    "offer": ("补打号票", "reprint"), "error": ("请找工作人员", "ask staff"),
}
GENERIC_WORDS = ("需要工作人员处理（{kind}）", "Staff needed ({kind})")
# Device names and reason words are the device supervisor's, so an alert and the strip say the same.
REASON_WORDS: dict[str, tuple[str, str]] = {
    **{k: (zh, en) for k, (zh, en, _) in HEALTH_REASONS.items()},
    "paper out": HEALTH_REASONS["paper_out"][:2], "not answering": HEALTH_REASONS["no_answer"][:2],
}
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ID_NUMBER = re.compile(r"\d{17}[\dXx]")
_PERSONAL_KEYS = {"name", "resident", "id_number", "masked_name", "person_key"}

Listener = Callable[[], None]


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "—"


@dataclass(frozen=True)
class HallAlert:
    """One alert as stored; ``words(lang)`` says it for people."""

    id: int
    kind: str
    source: str
    resident: str
    detail: dict[str, Any]
    raised_at: str
    terminal_id: str = ""
    ack_at: str | None = None
    ack_staff: str | None = None
    ack_window: int | None = None

    def where(self, language: str) -> str:
        """Where it happened, in words: the ticket machine, a named device, or the source as given."""
        i = 0 if language == "zh" else 1
        if self.source in DEVICE_NAMES:
            return DEVICE_NAMES[self.source][i]
        if self.source == self.terminal_id:
            return (f"取号机 {self.source}", f"ticket machine {self.source}")[i]
        return self.source

    def what(self, language: str) -> str:
        """What happened, from :data:`KIND_WORDS` (a generic sentence for an unknown kind)."""
        i = 0 if language == "zh" else 1
        template = KIND_WORDS.get(self.kind, GENERIC_WORDS)[i]
        values = _Blank({k: v for k, v in self.detail.items()})
        values["kind"] = self.kind
        device = str(self.detail.get("device", self.source))
        values["device"] = DEVICE_NAMES.get(device, (device, device))[i]
        reason = str(self.detail.get("reason", "")).strip()
        values["reason"] = REASON_WORDS.get(reason.lower(), (reason, reason))[i] if reason else "—"
        screen = str(self.detail.get("screen", ""))
        values["screen"] = SCREEN_WORDS.get(screen, (screen or "—", screen or "—"))[i]
        return template.format_map(values)

    def words(self, language: str) -> str:
        """The whole sentence: what, where and (when known) which resident, by masked name."""
        if language == "zh":
            text = f"{self.what('zh')}。位置：{self.where('zh')}"
            return text + (f"。居民：{self.resident}" if self.resident else "")
        text = f"{self.what('en')}. Where: {self.where('en')}"
        return text + (f". Resident: {self.resident}" if self.resident else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict for the counters (with the masked resident and the words in both languages)."""
        return {"id": self.id, "kind": self.kind, "source": self.source, "resident": self.resident,
                "detail": dict(self.detail), "raised_at": self.raised_at, "ack_at": self.ack_at,
                "ack_staff": self.ack_staff, "ack_window": self.ack_window,
                "words_zh": self.words("zh"), "words_en": self.words("en")}


def clean_detail(detail: Mapping[str, Any] | None) -> dict[str, str | int | float]:
    """The plain detail fields: short snake_case keys with text or finite numbers.

    A field that is not plain, or that could carry a person (a name key, an ID number in the
    text, over 200 characters), is left out and logged: the alert itself is never lost for it.
    """
    out: dict[str, str | int | float] = {}
    for k, v in (detail or {}).items():
        plain = isinstance(k, str) and bool(_DETAIL_KEY.match(k)) and k not in _PERSONAL_KEYS and \
            not isinstance(v, bool) and isinstance(v, str | int | float)
        if plain and isinstance(v, float):
            plain = math.isfinite(v)
        if plain and isinstance(v, str):
            plain = len(v) <= 200 and not _ID_NUMBER.search(v)
        if plain:
            out[k] = v
        else:
            log.warning("alert detail field %r left out (not plain, or could identify a person)", k)
    return out


_COLUMNS = "id, kind, source, resident, detail, raised_at, ack_at, ack_staff, ack_window"


class AlertBoard:
    """The hall's open staff alerts, in its store; one instance per hall process, shared by its threads."""

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        """Use ``store`` (opened with :data:`kiosk.hall.staff_tables.STAFF_ALERT_MIGRATIONS`)."""
        self.store = store
        self._clock = clock or (lambda: datetime.now(HALL_TZ))
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener()`` after each raised or acknowledged alert."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop telling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a broken counter feed must not undo a committed alert
                log.exception("alert listener failed")

    def _alert(self, row: tuple[Any, ...]) -> HallAlert:
        id_, kind, source, resident, detail, raised, ack_at, ack_staff, ack_window = row
        return HallAlert(id_, kind, source, resident, json.loads(detail), raised, self.store.terminal_id, ack_at,
                         ack_staff, ack_window)

    def raise_alert(self, kind: str, source: str, *, resident: str = "",
                    detail: Mapping[str, str | int | float] | None = None, action: Action | None = None) -> int:
        """Store the alert and its ``alert.raised`` event (no name in it) in one action; returns the alert id.

        ``source``: where (a terminal id such as ``hall-01`` or a device name such as ``printer``);
        ``resident``: the masked name (``张*明``), kept in the hall only; ``action``: write inside
        this open store action instead of a new one (the caller commits it).
        """
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise HallError("bad_alert", f"alert kind {kind!r} is not a short snake_case word", "内部错误：提醒类型无效")
        if not isinstance(source, str) or not 1 <= len(source) <= 64 or not source.isprintable():
            raise HallError("bad_alert", "alert source must be 1-64 printable characters", "内部错误：提醒来源无效")
        check_masked_name(resident)
        fields = clean_detail(detail)
        if action is not None:
            alert_id = self._write(action, kind, source, resident, fields)
        else:
            with self.store.action() as act:
                alert_id = self._write(act, kind, source, resident, fields)
        self._notify()
        return alert_id

    def _write(self, act: Action, kind: str, source: str, resident: str, fields: dict[str, Any]) -> int:
        text = json.dumps(fields, ensure_ascii=False, allow_nan=False, sort_keys=True)
        cur = act.db.execute("INSERT INTO hall_alerts (kind, source, resident, detail, raised_at) VALUES (?, ?, ?, ?, ?)",
                             [kind, source, resident, text, iso_utc(self._clock())])
        alert_id = int(cur.lastrowid or 0)
        act.emit("alert.raised", {"alert_id": alert_id, "kind": kind, "source": source, "detail": fields})
        return alert_id

    def purge(self, act: Action, cutoff: datetime) -> int:
        """Purge step (:class:`kiosk.visit_log.PurgeScheduler`): inside ``act``, delete the alerts raised before
        ``cutoff``, acknowledged or not (their masked names go with them); the number deleted."""
        return act.db.execute("DELETE FROM hall_alerts WHERE raised_at < ?", [iso_utc(cutoff)]).rowcount

    def open_alerts(self) -> list[HallAlert]:
        """The alerts nobody has acknowledged yet, oldest first."""
        with self.store.action() as act:
            rows = act.db.execute(f"SELECT {_COLUMNS} FROM hall_alerts WHERE ack_at IS NULL ORDER BY id").fetchall()
        return [self._alert(row) for row in rows]

    def alert(self, alert_id: int) -> HallAlert:
        """One alert by id (NotFound otherwise)."""
        with self.store.action() as act:
            row = act.db.execute(f"SELECT {_COLUMNS} FROM hall_alerts WHERE id = ?", [alert_id]).fetchone()
        if row is None:
            raise NotFound("no_alert", f"there is no alert {alert_id}", "没有这条提醒")
        return self._alert(row)

    def acknowledge(self, alert_id: int, staff_id: str, window: int) -> HallAlert:
        """Mark the alert handled by ``staff_id`` at ``window`` now, with its ``alert.acknowledged`` event.

        Refuses with ``no_alert`` (404) or ``already_acknowledged`` (409, saying who did).
        """
        check_staff(window, staff_id)
        now = iso_utc(self._clock())
        with self.store.action() as act:
            row = act.db.execute(f"SELECT {_COLUMNS} FROM hall_alerts WHERE id = ?", [alert_id]).fetchone()
            if row is None:
                raise NotFound("no_alert", f"there is no alert {alert_id}", "没有这条提醒")
            alert = self._alert(row)
            if alert.ack_at is not None:
                raise TicketStateError("already_acknowledged", f"staff {alert.ack_staff} at window {alert.ack_window} "
                                       "already took care of this alert",
                                       f"工号 {alert.ack_staff} 已在 {alert.ack_window} 号窗口处理此提醒")
            act.db.execute("UPDATE hall_alerts SET ack_at = ?, ack_staff = ?, ack_window = ? WHERE id = ?",
                           [now, staff_id, window, alert_id])
            act.emit("alert.acknowledged", {"alert_id": alert_id, "kind": alert.kind, "source": alert.source,
                                            "staff_id": staff_id, "window": window})
        self._notify()
        return HallAlert(alert.id, alert.kind, alert.source, alert.resident, alert.detail, alert.raised_at,
                         alert.terminal_id, now, staff_id, window)
