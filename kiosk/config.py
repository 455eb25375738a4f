"""Terminal configuration: one TOML file per terminal, validated once at start.

Every key is declared here once, typed, with its unit and default (the Electrum /
OctoPrint habit).  A wrong key or value stops the terminal with one line that names
the key and says what is allowed: :func:`load_config` raises :class:`ConfigError`
whose text is that line.  What the terminal would otherwise trip over later (a weak LAN
secret, a clear-text central URL, a store path with stray fields, a bad token file) is
refused here too (issue 10).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.roles import IDENTIFICATION_DEVICES, ROLE_NAMES, RoleName
from common.roles import ROLES as ROLE_SPECS
from kiosk.config_checks import (
    SECRET_HINT,
    check_store_template,
    check_url,
    master_key_file_problem,
    token_file_problem,
    weak_secret,
)
from kiosk.errors import KioskError

Role = RoleName  # the roles and their devices are declared once, in common.roles (DESIGN §3)
ROLES: tuple[str, ...] = ROLE_NAMES

SERIAL_BAUDS = (115200, 57600, 38400, 19200, 9600, 4800)


class ConfigError(KioskError):
    """A configuration file that cannot be used; ``str()`` is one line for the operator."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PortStr = Annotated[
    str,
    Field(
        min_length=1,
        description="a serial port: /dev/ttyUSB0, a pty path, or socket://HOST:PORT",
    ),
]


class SerialDevice(_Strict):
    """A device on a serial line (real port, pty from the simulator, or socket:// URL)."""

    port: PortStr
    baud: int = Field(9600, description="line speed in bit/s")
    timeout_s: float = Field(1.0, gt=0, le=30, description="read timeout in seconds")

    @model_validator(mode="after")
    def _check_baud(self) -> SerialDevice:
        if self.baud not in SERIAL_BAUDS:
            raise ValueError(f"baud {self.baud} is not one of {', '.join(map(str, SERIAL_BAUDS))}")
        return self


class IdCardReader(SerialDevice):
    """Resident ID card reader with SAM module (DESIGN §4); 115200 8N1 by default."""

    baud: int = Field(115200, description="line speed in bit/s")


class ModbusDevice(SerialDevice):
    """A Modbus RTU device such as the thermometer."""

    unit: int = Field(1, ge=1, le=247, description="Modbus slave address")


class RelayBoard(SerialDevice):
    """Door controller or locker board on a serial line."""

    board: int = Field(1, ge=0, le=255, description="board address on the bus")
    locks: int = Field(1, ge=1, le=64, description="number of locks wired to the board")


class PcscReader(_Strict):
    """A PC/SC reader, found by (a part of) the name pyscard lists."""

    reader: str = Field(min_length=1, description="PC/SC reader name, or a unique part of it")


class Camera(_Strict):
    """A camera for QR codes: a device index ("0") or an MJPEG URL."""

    source: str = Field(min_length=1, description="camera index such as 0, or an http:// MJPEG URL")
    max_fps: float = Field(10.0, gt=0, le=60, description="frame-rate cap in frames per second")
    max_payload_bytes: int = Field(2048, ge=16, le=8192, description="longest QR payload accepted")


class Devices(_Strict):
    """The devices of one terminal; which ones a role may have is checked below."""

    idcard: IdCardReader | None = None
    sscard: PcscReader | None = None
    ccard: PcscReader | None = None
    qr_camera: Camera | None = None
    qr_scanner: SerialDevice | None = None
    thermometer: ModbusDevice | None = None
    printer: SerialDevice | None = None
    door: RelayBoard | None = None
    locker: RelayBoard | None = None

    def configured(self) -> dict[str, BaseModel]:
        """The configured devices by name, in declaration order."""
        return {name: dev for name in type(self).model_fields if (dev := getattr(self, name)) is not None}


class Voice(_Strict):
    """Spoken prompts."""

    enabled: bool = True
    volume: int = Field(80, ge=0, le=100, description="loudness in percent")


class Thresholds(_Strict):
    """Limits of the flows; every one with its unit."""

    fever_c: float = Field(37.3, ge=35.0, le=40.0, description="fever threshold in °C")
    idle_timeout_s: float = Field(60.0, ge=10, le=600,
                                  description="seconds a screen waiting for the resident stays (warned 10 s before)")
    code_lookup_timeout_s: float = Field(1.5, gt=0, le=10, description="city code service timeout in seconds")


class Screen(_Strict):
    """Window and theme settings."""

    elder_mode: bool = True
    fullscreen: bool = True


class Store(_Strict):
    """Where the terminal keeps its SQLite database."""

    path: str = Field("var/{terminal_id}/terminal.db", description="database file; {terminal_id} is replaced")
    outbox_keep_days: int = Field(7, ge=1, le=365, description="days an acknowledged outbox row is kept, then pruned")

    @field_validator("path")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_store_template(value)


class HallServiceConfig(_Strict):
    """One service residents queue for (see kiosk.hall.services for the meaning of each field)."""

    code: str = Field(pattern=r"^[A-Z]{1,2}$", description="ticket prefix, one or two capital letters")
    name_zh: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    daily_cap: int = Field(300, ge=1, le=999, description="most tickets per day")
    hours: tuple[str, ...] = Field(("00:00-24:00",), min_length=1, description="issuing windows HH:MM-HH:MM")
    days: tuple[int, ...] = Field((1, 2, 3, 4, 5, 6, 7), min_length=1, description="ISO weekdays open")
    avg_handle_min: float = Field(5.0, gt=0, le=240, description="average minutes per ticket")


DEFAULT_SERVICES = (
    HallServiceConfig(code="A", name_zh="综合受理", name_en="General services", avg_handle_min=6),
    HallServiceConfig(code="B", name_zh="社保医保", name_en="Social and medical insurance", avg_handle_min=8),
    HallServiceConfig(code="C", name_zh="为老服务", name_en="Services for older residents", avg_handle_min=7),
)


class Hall(_Strict):
    """The hall role's queue: services, calling rule, and its LAN service."""

    services: tuple[HallServiceConfig, ...] = Field(DEFAULT_SERVICES, min_length=1)
    rule: Literal["strict", "ratio"] = Field("ratio", description="calling rule")
    ratio_priority: int = Field(2, ge=1, le=10, description="ratio rule: priority calls per cycle")
    ratio_normal: int = Field(1, ge=1, le=10, description="ratio rule: normal calls per cycle")
    max_wait_min: float | None = Field(30.0, gt=0, le=480, description="minutes after which the longest wait goes first")
    bind: str = Field("127.0.0.1:8710", pattern=r"^[^:]+:\d{1,5}$", description="HOST:PORT of the LAN queue service")

    @field_validator("bind")
    @classmethod
    def _port(cls, value: str) -> str:
        if int(value.rsplit(":", 1)[1]) > 65535:
            raise ValueError("port must be 0-65535")
        return value


class Lan(_Strict):
    """The shared secret of one hall's LAN (hall, counters, displays)."""

    secret: str = Field(description="per-hall shared secret, at least 16 characters")

    @field_validator("secret")
    @classmethod
    def _strong(cls, value: str) -> str:
        reason = weak_secret(value)
        if reason:
            raise ValueError(f"too weak to sign the hall's requests: {reason}; {SECRET_HINT}")
        return value


class Counter(_Strict):
    """A counter terminal's window."""

    window: int = Field(ge=1, le=99, description="window number said in calls")
    services: tuple[str, ...] = Field((), description="service codes served; empty = all")


class Codes(_Strict):
    """Health-code status: the city service and what to do when it cannot answer."""

    service_url: str | None = Field(None, description="city code service base URL")
    fallback: Literal["staff_check", "refuse", "allow"] = "staff_check"
    cache_freshness_s: float = Field(600.0, ge=0, le=3600, description="seconds a looked-up colour is reused")
    token_skew_s: float = Field(300.0, ge=0, le=3600, description="clock skew allowed for QR tokens, seconds")
    ca_bundle: str | None = Field(None, description="TLS certificate bundle for the city service")

    @field_validator("service_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)


class Reference(_Strict):
    """Offline seed files for reference data: used only while sync has pulled none of that kind from the central."""

    trust_keys: str | None = Field(None, description="trust list of code issuer keys (JSON)")
    priority_register: str | None = Field(None, description="priority register (JSON of keyed hashes)")


class Sync(_Strict):
    """The terminal's link to the central service (credentials from `linfen central enrol`)."""

    token_file: str | None = Field(None, description="file holding this terminal's bearer token")
    ca_bundle: str | None = Field(None, description="TLS certificate bundle for the central service")


class Privacy(_Strict):
    """Keys and retention for personal information."""

    person_key_file: str | None = Field(None, description="hex file of the deployment's person-key (HMAC)")
    visit_retention_days: int = Field(28, ge=1, le=365, description="days the visit log keeps a row")


class CardKeys(_Strict):
    """Keys of the community card (docs/community-card.md §1): canteen and cinema readers authenticate each card."""

    master_key_file: str | None = Field(
        None, description="hex file (32 digits, mode 0600) of the master key the card keys are diversified from")


class CardLimitsConfig(_Strict):
    """Per-card limits of a reader (kiosk.canteen.wallet.CardLimits), money in fen."""

    per_tap_fen: int = Field(5000, ge=0, le=100_000, description="largest offline payment, fen")
    per_day_fen: int = Field(20000, ge=0, le=1_000_000, description="most offline spending per card per day, fen")
    consecutive_offline: int = Field(5, ge=0, le=100, description="most offline payments not yet counted centrally")
    overdraft_fen: int = Field(0, ge=0, le=10_000, description="how far below zero a balance may go, fen")
    fresh_s: float = Field(300.0, gt=0, le=86400, description="seconds after the last caught-up pull that count as online")
    double_tap_s: float = Field(5.0, ge=0, le=60, description="the same basket paid again within this is not charged")
    low_balance_fen: int = Field(3000, ge=0, le=100_000, description="a balance under this is warned about, fen")


class Canteen(_Strict):
    """A canteen reader: its mode, seed files and limits."""

    mode: Literal["self", "cashier"] = Field("self", description="self-pay (set meals) or cashier (clerk's basket)")
    title: str = Field("临汾路街道社区长者食堂", min_length=1, max_length=40, description="shown and printed")
    menu_file: str | None = Field(None, description="seed menu (JSON rows) used while the feed has none")
    policy_file: str | None = Field(None, description="seed subsidy policy (JSON) used while the feed has none")
    photo_dir: str | None = Field(None, description="folder of dish photos named in the menu rows")
    void_window_s: float = Field(600.0, ge=0, le=86400, description="seconds a payment may be voided by the clerk")
    limits: CardLimitsConfig = CardLimitsConfig()


class Cinema(_Strict):
    """A cinema terminal: its heading, seed screenings and card limits."""

    title: str = Field("临汾路街道党群服务中心 社区电影", min_length=1, max_length=40, description="shown and printed")
    screenings_file: str | None = Field(None, description="seed screenings (JSON rows) used while the feed has none")
    late_min: int = Field(20, ge=0, le=180, description="minutes after a screening starts that tickets are still issued")
    limits: CardLimitsConfig = CardLimitsConfig()


class TerminalConfig(_Strict):
    """The whole configuration of one terminal."""

    role: Role
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    site: str = Field(min_length=1, max_length=64)
    central_url: str = Field("http://127.0.0.1:8720", description="the central service; https:// unless loopback")
    hall_url: str | None = Field(None, description="the hall's queue service (counter, display)")
    language: Literal["zh", "en"] = "zh"
    voice: Voice = Voice()
    thresholds: Thresholds = Thresholds()
    screen: Screen = Screen()
    store: Store = Store()
    devices: Devices = Devices()
    hall: Hall | None = None
    lan: Lan | None = None
    counter: Counter | None = None
    codes: Codes = Codes()
    reference: Reference = Reference()
    privacy: Privacy = Privacy()
    sync: Sync = Sync()
    card_keys: CardKeys = CardKeys()
    canteen: Canteen | None = None
    cinema: Cinema | None = None

    @field_validator("central_url")
    @classmethod
    def _central(cls, value: str) -> str:
        return check_url(value, https_unless_loopback=True)

    @field_validator("hall_url")
    @classmethod
    def _hall(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)  # the hall LAN is plain HTTP, every request signed

    @model_validator(mode="after")
    def _check_role_devices(self) -> TerminalConfig:
        spec = ROLE_SPECS[self.role]
        have = set(self.devices.configured())
        extra = sorted(have - set(spec.devices))
        if extra:
            allowed = ", ".join(sorted(spec.devices)) or "none"
            raise ValueError(f"devices.{extra[0]}: role '{self.role}' does not use it (allowed: {allowed})")
        missing = sorted(spec.required - have)
        if missing:
            raise ValueError(f"devices.{missing[0]}: missing, role '{self.role}' needs it")
        if self.role == "counter" and self.counter is None:
            raise ValueError("counter: missing, role 'counter' needs [counter] with its window number")
        if spec.hall_client and not self.hall_url:
            raise ValueError(f"hall_url: missing, role '{self.role}' needs the hall's queue service address")
        if spec.on_hall_lan and self.lan is None:
            raise ValueError(f"lan: missing, role '{self.role}' needs [lan] with the hall's shared secret")
        if spec.identifies_residents and not have & IDENTIFICATION_DEVICES:
            raise ValueError(
                f"devices: role '{self.role}' needs at least one of {', '.join(sorted(IDENTIFICATION_DEVICES))}"
            )
        return self

    def store_path(self) -> Path:
        """The database path with ``{terminal_id}`` filled in."""
        return Path(self.store.path.format(terminal_id=self.terminal_id))


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _describe(err: dict[str, Any], model: type[BaseModel]) -> str:
    """One readable phrase for one pydantic error."""
    loc = tuple(err["loc"])
    kind = err["type"]
    where = _location(loc)
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see config/examples"
        return f"{where}: unknown key (allowed here: {allowed})"
    if kind == "missing":
        return f"{where}: missing{_hint(model, loc)}"
    if kind == "value_error":
        msg = str(err["msg"]).removeprefix("Value error, ")
        return msg if msg.startswith(("devices", "role")) else f"{where}: {msg}"
    got = err.get("input")
    shown = f" (got {got!r})" if not isinstance(got, dict) else ""
    return f"{where}: {err['msg'].lower()}{shown}"


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return None
        current = candidates[0]
    return current


def _hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    parent = _model_at(model, loc[:-1])
    if parent is None:
        return ""
    field = parent.model_fields.get(loc[-1])
    desc = field.description if field else None
    if not desc and field is not None:
        for meta in field.metadata:
            desc = getattr(meta, "description", None) or desc
    return f" ({desc})" if desc else ""


def parse_config(data: dict[str, Any], source: str = "config") -> TerminalConfig:
    """Validate a parsed TOML mapping; raise :class:`ConfigError` with one line on the first problem."""
    try:
        return TerminalConfig.model_validate(data)
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a terminal config") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{source}: {_describe(first, TerminalConfig)}{tail}") from None


def load_config(path: str | Path) -> TerminalConfig:
    """Read and validate a terminal's TOML file; raise :class:`ConfigError` with one clear line.

    Beyond :func:`parse_config`, the files the config names that hold secrets are checked here:
    ``sync.token_file`` must exist, be private (no group or other access) and hold one line of
    printable ASCII; ``card_keys.master_key_file`` likewise private, holding a 16-byte key in hex
    (see :mod:`kiosk.config_checks`).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    config = parse_config(data, str(path))
    if config.sync.token_file:
        problem = token_file_problem(config.sync.token_file)
        if problem:
            raise ConfigError(f"{path}: sync.token_file: {problem}")
    if config.card_keys.master_key_file and os.path.lexists(config.card_keys.master_key_file):
        # A key file that is there is checked now; one not installed yet is named when the reader opens
        # (as privacy.person_key_file), so an example config still loads on a machine without keys.
        problem = master_key_file_problem(config.card_keys.master_key_file)
        if problem:
            raise ConfigError(f"{path}: card_keys.master_key_file: {problem}")
    return config
