"""Terminal configuration: one TOML file per terminal, validated once at start.

Every key is declared here once, typed, with its unit and default (the Electrum /
OctoPrint habit).  A wrong key or value stops the terminal with one line that names
the key and says what is allowed: :func:`load_config` raises :class:`ConfigError`
whose text is that line.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Role = Literal["hall", "counter", "display", "selfservice", "canteen", "cinema"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

SERIAL_BAUDS = (115200, 57600, 38400, 19200, 9600, 4800)


class ConfigError(Exception):
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


# Which devices each role may drive (DESIGN §3); a role's required ones are below.
ROLE_DEVICES: dict[str, frozenset[str]] = {
    "hall": frozenset({"idcard", "sscard", "qr_camera", "qr_scanner", "thermometer", "printer"}),
    "counter": frozenset({"ccard"}),
    "display": frozenset(),
    "selfservice": frozenset({"idcard", "sscard", "qr_camera", "qr_scanner", "printer", "door", "locker"}),
    "canteen": frozenset({"ccard", "printer"}),
    "cinema": frozenset({"ccard", "printer"}),
}
ROLE_REQUIRED: dict[str, frozenset[str]] = {
    "hall": frozenset({"thermometer", "printer"}),
    "canteen": frozenset({"ccard"}),
    "cinema": frozenset({"ccard", "printer"}),
}
IDENTIFICATION_DEVICES = frozenset({"idcard", "sscard", "qr_camera", "qr_scanner"})


class Voice(_Strict):
    """Spoken prompts."""

    enabled: bool = True
    volume: int = Field(80, ge=0, le=100, description="loudness in percent")


class Thresholds(_Strict):
    """Limits of the flows; every one with its unit."""

    fever_c: float = Field(37.3, ge=35.0, le=40.0, description="fever threshold in °C")
    idle_timeout_s: float = Field(60.0, ge=10, le=600, description="seconds before a screen warns, then resets")
    code_lookup_timeout_s: float = Field(1.5, gt=0, le=10, description="city code service timeout in seconds")


class Screen(_Strict):
    """Window and theme settings."""

    elder_mode: bool = True
    fullscreen: bool = True


class Store(_Strict):
    """Where the terminal keeps its SQLite database."""

    path: str = Field("var/{terminal_id}/terminal.db", description="database file; {terminal_id} is replaced")


class TerminalConfig(_Strict):
    """The whole configuration of one terminal."""

    role: Role
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    site: str = Field(min_length=1, max_length=64)
    central_url: str = Field("http://127.0.0.1:8700", pattern=r"^https?://")
    hall_url: str | None = Field(None, pattern=r"^https?://", description="the hall's queue service (counter, display)")
    language: Literal["zh", "en"] = "zh"
    voice: Voice = Voice()
    thresholds: Thresholds = Thresholds()
    screen: Screen = Screen()
    store: Store = Store()
    devices: Devices = Devices()

    @model_validator(mode="after")
    def _check_role_devices(self) -> TerminalConfig:
        have = set(self.devices.configured())
        extra = sorted(have - ROLE_DEVICES[self.role])
        if extra:
            allowed = ", ".join(sorted(ROLE_DEVICES[self.role])) or "none"
            raise ValueError(f"devices.{extra[0]}: role '{self.role}' does not use it (allowed: {allowed})")
        missing = sorted(ROLE_REQUIRED.get(self.role, frozenset()) - have)
        if missing:
            raise ValueError(f"devices.{missing[0]}: missing, role '{self.role}' needs it")
        if self.role in ("hall", "selfservice") and not have & IDENTIFICATION_DEVICES:
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
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{source}: {_describe(first, TerminalConfig)}{tail}") from None


def load_config(path: str | Path) -> TerminalConfig:
    """Read and validate a terminal's TOML file; raise :class:`ConfigError` with one clear line."""
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
    return parse_config(data, str(path))
