"""The device supervisor: each device's health from its driver, debounced, said in words (zh first, English).

Two sources feed one state per device:

- **observations fed by the runtime's reader loops** (:meth:`DeviceSupervisor.observe_ok`,
  :meth:`DeviceSupervisor.observe_failure`).  The ID card and PC/SC card loops already talk to
  their reader all the time; while such a feed is fresh (an observation within ``fed_fresh_s``)
  the supervisor sends nothing of its own to that device, so it never competes for the port;
- **the supervisor's own look**, every ``interval_s`` on its thread, at every device with no
  fresh feed: the driver's ``health(check=True)`` (a live, bounded check: SAM status ``11 FF``
  on the ID reader, ``DLE EOT 1..4`` on the printer, one Modbus read on the thermometer, a
  query-all on a relay board, the reader lookup on a PC/SC reader; each driver waits at most a
  moment for its port lock and never cuts into an exchange in progress), or ``health()`` for
  drivers whose own threads keep it current (QR camera and scanner).

Each observation is classified into a machine word (:data:`REASON_WORDS`: ``ok``, ``no_answer``,
``sam_failure``, ``paper_low``, ``paper_out``, ``unplugged``, ``not_found``, ``garbage`` …) from
the health dict or from the :class:`~drivers.errors.DriverError` subclass (by its code).  A card
that could not be read, no card on the reader, an implausible temperature or an odd QR payload
are the resident's business, not the device's: they count as the device answering (``ok``).

Debounce: up/down changes only after ``debounce`` consecutive observations on the other side;
then ``on_change`` is called exactly once with the new :class:`DeviceHealth` (down once, up
once; never again while the state holds).  A device that starts up is not reported (nothing
changed); one that starts down is reported down.  While a device stays down (or up) a new
reason (``unplugged`` → ``no_answer``, ``ok`` → ``paper_low``) replaces the words in
:meth:`DeviceSupervisor.snapshot` without an ``on_change``.  ``on_change`` runs on the observing
thread under the supervisor's lock: it must be quick (raise an alert, queue an event).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, DriverError, FrameError
from sync.protocol import DeviceState

log = logging.getLogger(__name__)

DEVICE_NAMES: dict[str, tuple[str, str]] = {
    "idcard": ("身份证读卡器", "ID card reader"),
    "sscard": ("社保卡读卡器", "Social-security card reader"),
    "ccard": ("一卡通读卡器", "Community card reader"),
    "qr_camera": ("扫码摄像头", "QR camera"),
    "qr_scanner": ("扫码器", "QR scanner"),
    "thermometer": ("测温仪", "Thermometer"),
    "printer": ("打印机", "Printer"),
    "door": ("门禁", "Door"),
    "locker": ("智能柜", "Lockers"),
}

#: Every reason word, with what it says (Chinese, English), and whether the device is up with it.
REASON_WORDS: dict[str, tuple[str, str, bool]] = {
    "ok": ("正常", "working", True),
    "checking": ("检查中", "checking", True),
    "paper_low": ("纸将用完，请及时换纸", "paper running low", True),
    "unplugged": ("未连接", "not connected", False),
    "not_found": ("找不到设备", "not found", False),
    "no_answer": ("无应答", "not answering", False),
    "garbage": ("通信数据错误", "garbled answers", False),
    "refused": ("拒绝执行命令", "refuses commands", False),
    "sam_failure": ("SAM故障", "SAM (security module) failed", False),
    "pcsc_service_down": ("读卡服务未运行", "card service not running", False),
    "paper_out": ("缺纸", "out of paper", False),
    "cover_open": ("机盖未关", "cover open", False),
    "offline": ("脱机", "offline", False),
    "lock_jammed": ("锁未打开", "a lock did not open", False),
    "no_picture": ("无画面", "no picture", False),
    "fault": ("故障", "fault", False),
}

#: Driver error codes (drivers/errors.py and each family's tree) and what they say about the device.
CODE_REASONS: dict[int, str] = {
    101: "unplugged", 102: "no_answer", 103: "garbage", 104: "refused",
    110: "fault", 112: "sam_failure", 114: "garbage",
    155: "unplugged",
    160: "fault", 161: "paper_out", 162: "cover_open", 163: "fault", 164: "offline",
    170: "fault", 180: "fault", 181: "lock_jammed",
    190: "fault", 191: "pcsc_service_down", 192: "not_found", 199: "garbage",
}
#: Codes that mean the device answered and something about the card, code or person was wrong.
DEVICE_ANSWERED_CODES = frozenset({
    111, 113, 115,  # ID card: no card, card read failed, card data unreadable
    151, 152, 153, 154, 156, 157,  # QR: oversized, binary, several codes, undecodable, none scanned, refused
    171,  # thermometer: implausible reading (a hat, a cold forehead)
    193, 194, 195, 196, 197, 198,  # PC/SC: no card, removed mid-read, status word, wrong card, data, reset
})

DEFAULT_FED_FRESH_S = 5.0  # a loop's observation counts as current for this long, in seconds
LOOP_FED = ("idcard", "sscard", "ccard")  # devices the runtime's card loops watch continuously


@dataclass(frozen=True)
class DeviceHealth:
    """One device's state: up or not, a machine word, and the words people read (zh, en)."""

    name: str  # "idcard", "printer" …
    up: bool
    reason: str  # a key of REASON_WORDS: "ok", "no_answer", "sam_failure", "paper_out" …
    words_zh: str  # "身份证读卡器：SAM故障"
    words_en: str  # "ID card reader: SAM (security module) failed"
    detail: str = ""  # the driver's own words for a technician ("SAM not authorised", "paper out" …)
    since: float = 0.0  # the supervisor clock's time when this state (up/down) was settled

    @property
    def state_zh(self) -> str:
        """The state alone in Chinese: 正常, 缺纸 …"""
        return REASON_WORDS.get(self.reason, REASON_WORDS["fault"])[0]

    @property
    def state_en(self) -> str:
        """The state alone in English: working, out of paper …"""
        return REASON_WORDS.get(self.reason, REASON_WORDS["fault"])[1]


def device_health(name: str, reason: str, detail: str = "", since: float = 0.0) -> DeviceHealth:
    """A :class:`DeviceHealth` for ``name`` in state ``reason``, with its words."""
    zh, en, up = REASON_WORDS.get(reason, REASON_WORDS["fault"])
    name_zh, name_en = DEVICE_NAMES.get(name, (name, name))
    return DeviceHealth(name, up, reason, f"{name_zh}：{zh}", f"{name_en}: {en}", detail, since)


def classify_error(exc: BaseException) -> str:
    """The reason word for an exception a driver raised (``ok`` when the device itself answered)."""
    if not isinstance(exc, DriverError):
        return "fault"
    if exc.code in DEVICE_ANSWERED_CODES:
        return "ok"
    if exc.code in CODE_REASONS:
        return CODE_REASONS[exc.code]
    for kind, reason in ((DeviceDisconnected, "unplugged"), (DeviceTimeout, "no_answer"), (FrameError, "garbage"),
                         (DeviceRefused, "refused")):
        if isinstance(exc, kind):
            return reason
    return "fault"


def _code_reason(code: int, default: str) -> str:
    if not code or code in DEVICE_ANSWERED_CODES:
        return default
    return CODE_REASONS.get(code, "fault")


def classify_health(health: Mapping[str, Any]) -> tuple[str, str]:
    """(reason, detail) from a driver's ``health()`` dict.

    Understands the keys the drivers report: ``problem_code``/``problem`` (the result of the
    live check just made), ``connected``, ``last_error_code`` (PC/SC), ``sam_ok``/``sam_text``
    (ID reader), ``status`` (printer: paper, cover, errors), ``running`` (card watcher).
    """
    code = int(health.get("problem_code") or 0)
    if code:
        return _code_reason(code, "ok"), str(health.get("problem", ""))
    if health.get("connected") is False or health.get("running") is False:
        error = str(health.get("last_error", ""))
        if "source" in health:  # a camera: no stream
            return "no_picture", error
        return _code_reason(int(health.get("last_error_code") or 0), "unplugged"), error
    if health.get("sam_ok") is False:
        return "sam_failure", str(health.get("sam_text", ""))
    status = health.get("status")
    if isinstance(status, Mapping):
        problem = str(status.get("problem") or "")
        if status.get("paper") == "out":
            return "paper_out", problem
        if status.get("cover_open"):
            return "cover_open", problem
        if status.get("error") or status.get("recoverable_error"):
            return "fault", problem
        if status.get("online") is False:
            return "offline", problem
        if status.get("paper") == "near_end":
            return "paper_low", "paper near end"
    return "ok", str(health.get("sam_text", "")) if health.get("sam_ok") else ""


def _accepts_check(method: Callable[..., Any]) -> bool:
    try:
        return "check" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def check_driver(name: str, driver: Any) -> tuple[str, str]:
    """Ask one driver for its health now (a live check where the driver has one): (reason, detail).

    Never raises: an exception from ``health()`` is classified like any driver error.
    """
    health = getattr(driver, "health", None)
    if not callable(health):
        return "fault", f"{name}: the driver reports no health"
    try:
        report = health(check=True) if _accepts_check(health) else health()
    except Exception as exc:  # health() should not raise; if it does, that is the finding
        return classify_error(exc), str(exc)
    return classify_health(report)


@dataclass
class _Track:
    """What the supervisor knows of one device."""

    settled: DeviceHealth  # what snapshot() says
    known: bool = False  # False until the first state settled
    streak: int = 0  # consecutive observations on the other side (up vs down) of ``settled``
    streak_up: bool | None = None  # which side ``streak`` counts
    fed_at: float | None = None  # clock time of the last observation fed by a loop


class DeviceSupervisor:
    """Watches every device, keeps a debounced state per device and reports each up/down change once."""

    def __init__(self, drivers: Mapping[str, Any], *, on_change: Callable[[DeviceHealth], None],
                 interval_s: float = 2.0, debounce: int = 2, clock: Callable[[], float] = time.monotonic,
                 fed_fresh_s: float = DEFAULT_FED_FRESH_S) -> None:
        if debounce < 1:
            raise ValueError("debounce must be at least 1")
        self.drivers = dict(drivers)
        self.on_change = on_change
        self.interval_s = interval_s
        self.debounce = debounce
        self.clock = clock
        self.fed_fresh_s = fed_fresh_s  # seconds a loop's observation keeps the supervisor off that port
        self._lock = threading.RLock()
        self._tracks: dict[str, _Track] = {n: _Track(device_health(n, "checking")) for n in self.drivers}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.changes = 0  # on_change calls made

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> DeviceSupervisor:
        """Start looking at the devices every ``interval_s`` on a thread of its own (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="device-supervisor", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (waiting at most ``timeout_s``: a live check in progress is bounded)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:  # a bug must not end supervision
                log.exception("device supervisor: check failed")
            self._stop.wait(self.interval_s)

    # -- looking --------------------------------------------------------------------------
    def check_once(self) -> None:
        """Look once at every device that has no fresh observation from a loop."""
        for name, driver in self.drivers.items():
            if self._stop.is_set():
                return
            if self._fed_recently(name):
                continue
            reason, detail = check_driver(name, driver)
            self._observe(name, reason, detail, fed=False)

    def _fed_recently(self, name: str) -> bool:
        with self._lock:
            track = self._tracks.get(name)
            fed_at = track.fed_at if track else None
        return fed_at is not None and self.clock() - fed_at < self.fed_fresh_s

    # -- fed by the runtime ---------------------------------------------------------------
    def observe_ok(self, name: str) -> None:
        """A reader loop saw device ``name`` answer normally."""
        self._observe(name, "ok", "", fed=True)

    def observe_failure(self, name: str, exc: BaseException) -> None:
        """A reader loop saw device ``name`` fail with ``exc`` (classified; a card's own failure counts as ok)."""
        self._observe(name, classify_error(exc), str(exc), fed=True)

    def observe(self, name: str, reason: str, detail: str = "") -> None:
        """Feed an observation already put in words (a reason of :data:`REASON_WORDS`)."""
        self._observe(name, reason, detail, fed=True)

    def _observe(self, name: str, reason: str, detail: str, *, fed: bool) -> None:
        now = self.clock()
        seen = device_health(name, reason, detail, now)
        with self._lock:
            track = self._tracks.get(name)
            if track is None:
                track = self._tracks[name] = _Track(device_health(name, "checking"))
            if fed:
                track.fed_at = now
            if track.known and seen.up == track.settled.up:
                track.streak, track.streak_up = 0, None
                if (seen.reason, seen.detail) != (track.settled.reason, track.settled.detail):
                    track.settled = replace(seen, since=track.settled.since)
                return
            if track.streak_up is seen.up:
                track.streak += 1
            else:
                track.streak, track.streak_up = 1, seen.up
            if track.streak < self.debounce:
                return
            first = not track.known
            track.settled, track.known = seen, True
            track.streak, track.streak_up = 0, None
            if first and seen.up:
                return  # started up: nothing changed
            self.changes += 1
            try:
                self.on_change(seen)
            except Exception:  # the listener's bug must not stop supervision
                log.exception("device supervisor: on_change failed for %s", name)

    # -- reading ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, DeviceHealth]:
        """Every device's settled state ("checking" until its first state settled)."""
        with self._lock:
            return {name: track.settled for name, track in self._tracks.items()}

    def device_states(self) -> dict[str, DeviceState]:
        """The snapshot as the sync protocol's plain heartbeat data (up, reason word)."""
        return {name: DeviceState(up=h.up, reason=h.reason) for name, h in self.snapshot().items()}
