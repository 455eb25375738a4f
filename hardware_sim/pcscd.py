"""Run pcscd with our own vpcd readers, for the integration tests and the hardware simulator.

:class:`PcscdHarness` writes a reader-config folder with one vpcd reader per requested name, each on
its own free TCP port, and starts ``pcscd --foreground -c <folder>``; virtual cards
(:mod:`hardware_sim.vpcd`) then connect to those ports. Facts found on Debian 12 (pcsc-lite 1.9.9,
vsmartcard-vpcd 3.3) that shape this module:

* One pcscd per machine: it always listens on ``/run/pcscd/pcscd.comm`` (``PCSCLITE_CSOCK_NAME`` is
  ignored). So :meth:`PcscdHarness.start` starts pcscd when none runs, reuses a running one whose
  config folder already has our readers (and pyscard lists them), and otherwise refuses with a
  message saying how to stop it. :meth:`PcscdHarness.stop` stops only a pcscd it started.
* Each vpcd reader has two slots: slot 0 listens on the configured port, slot 1 on port + 1. pyscard
  names them ``"<FRIENDLYNAME> 00 00"`` and ``"<FRIENDLYNAME> 00 01"`` (the middle number is pcscd's
  index among readers of the same name, so names must be unique).
* pcscd has room for 16 reader slots (``PCSCLITE_MAX_READERS_CONTEXTS``): at most 8 vpcd readers.
* libifdvpcd keeps its per-slot state in a static array indexed by slot number only, and pcscd loads
  a driver path once: two readers with the same ``LIBPATH`` overwrite each other's slot state and no
  card works. Each reader therefore gets its own copy of the driver in the config folder.
* vpcd listens on all interfaces (``INADDR_ANY``), not only loopback.
* pcscd polls card presence every ~0.4 s, so an insertion or removal is seen within about half a
  second; it powers an idle card off after ~5 s.
* There is no systemd here (PID 1 is not systemd); on a machine with systemd, ``pcscd.socket``
  activates Debian's pcscd on first use, which this module reports as a foreign pcscd.
* Starting pcscd needs write access to ``/run/pcscd`` (root on a stock system).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hardware_sim.vpcd import VpcdCardConnection

log = logging.getLogger(__name__)

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
DEBIAN_VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
DEFAULT_READER_CONF_DIR = Path("/etc/reader.conf.d")
VPCD_DRIVER_CANDIDATES = (
    Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"),
    Path("/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so"),
)
VPCD_SLOTS = 2  # slots per vpcd reader (VPCDSLOTS in Debian's build): ports P and P + 1
MAX_VPCD_READERS = 8  # pcscd has 16 reader contexts, each vpcd reader takes 2
MAX_READER_NAME = 100  # characters; pcscd's MAX_READERNAME is 128 including the " 00 00" suffix
PORT_RANGE = (20000, 32000)  # below Linux's default ephemeral range (32768-60999)
DEFAULT_START_TIMEOUT = 10.0  # seconds for pcscd to list our readers
DEFAULT_STOP_TIMEOUT = 5.0  # seconds for pcscd to exit on SIGTERM before SIGKILL
WORKDIR_PREFIX = "linfen-pcscd-"  # temp folder holding our reader config, driver copies and log
START_ATTEMPTS = 3  # fresh ports are tried when a port was taken between choosing and binding
LOG_TAIL_LINES = 40
PORT_TAKEN_LOG = "Could not initialize connection"  # vpcd's log line when it cannot listen on its port


class PcscdError(RuntimeError):
    """pcscd could not be started, reused or reached; the message says what to do."""


@dataclass(frozen=True)
class ReaderConf:
    """One reader entry of a pcscd reader-config file."""

    name: str
    device: str | None = None
    libpath: str | None = None
    channel: int | None = None

    @property
    def port(self) -> int | None:
        """The vpcd port of slot 0: from ``DEVICENAME host:PORT`` or else ``CHANNELID``."""
        if self.device and ":" in self.device:
            try:
                return int(self.device.rsplit(":", 1)[1], 0)
            except ValueError:
                return None
        return self.channel


def pyscard_reader_name(friendly_name: str, slot: int = 0, index: int = 0) -> str:
    """Name pcscd gives a reader slot: ``"<FRIENDLYNAME> <index:02X> <slot:02X>"``."""
    return f"{friendly_name} {index:02X} {slot:02X}"


def reader_conf_text(name: str, port: int, libpath: str | Path) -> str:
    """Text of a reader-config file for one vpcd reader whose slot 0 listens on ``port``."""
    return (
        f'FRIENDLYNAME "{name}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {libpath}\n"
        f"CHANNELID    0x{port:04X}\n"
    )


_CONF_LINE = re.compile(r'^\s*(FRIENDLYNAME|DEVICENAME|LIBPATH|CHANNELID)\s+(?:"([^"]*)"|(\S+))')


def parse_reader_conf(text: str) -> list[ReaderConf]:
    """Parse a pcscd reader-config file; each ``FRIENDLYNAME`` starts a new reader."""
    readers: list[ReaderConf] = []
    current: dict[str, str] = {}

    def flush() -> None:
        if "FRIENDLYNAME" in current:
            channel = current.get("CHANNELID")
            try:
                channel_id = int(channel, 0) if channel else None
            except ValueError:
                channel_id = None
            readers.append(
                ReaderConf(
                    current["FRIENDLYNAME"], current.get("DEVICENAME"), current.get("LIBPATH"), channel_id
                )
            )

    for line in text.splitlines():
        match = _CONF_LINE.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2) if match.group(2) is not None else match.group(3)
        if key == "FRIENDLYNAME" and current:
            flush()
            current = {}
        current[key] = value
    flush()
    return readers


def read_reader_conf_dir(folder: Path) -> list[ReaderConf]:
    """All readers configured in a reader-config folder (regular files only, as pcscd does)."""
    readers: list[ReaderConf] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return readers
    for entry in entries:
        if entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                readers.extend(parse_reader_conf(entry.read_text()))
    return readers


def pcscd_config_dir(argv: Sequence[str]) -> Path:
    """The reader-config folder a pcscd command line uses (``-c``/``--config``, else the default)."""
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg in ("-c", "--config") and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
            flags, _, rest = arg[1:].partition("c")
            if all(f in "afTdieCHvhxSI" for f in flags):
                if rest:
                    return Path(rest)
                if i + 1 < len(args):
                    return Path(args[i + 1])
    return DEFAULT_READER_CONF_DIR


def find_vpcd_driver(conf: Path = DEBIAN_VPCD_CONF) -> Path:
    """Path of the vpcd IFD handler, read from Debian's reader config or the usual locations."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        candidates += [Path(r.libpath) for r in parse_reader_conf(conf.read_text()) if r.libpath]
    candidates += VPCD_DRIVER_CANDIDATES
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise PcscdError(
        "the vpcd driver (libifdvpcd.so) is not installed: install the Debian package vsmartcard-vpcd"
    )


def running_pcscd_pids() -> list[int]:
    """PIDs of live (not zombie) processes named pcscd visible in /proc."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "pcscd":
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state = stat.rsplit(")", 1)[1].split()[0] if ")" in stat else "?"
        if state not in ("Z", "X"):
            pids.append(int(entry.name))
    return sorted(pids)


def process_argv(pid: int) -> list[str]:
    """Command line of a process (empty if it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def pcscd_socket_answers(path: Path = PCSCD_SOCKET) -> bool:
    """True if something accepts connections on pcscd's socket (pcscd or systemd's pcscd.socket)."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def list_pcsc_readers() -> list[str]:
    """Reader names pyscard sees now; empty when pcscd is not running or has no readers."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        return list(readers) if hresult == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(context)


def wait_card_state(pyscard_name: str, present: bool, timeout: float = 5.0) -> None:
    """Block until pcscd reports a card present (or absent) in a reader; raise ``TimeoutError``.

    Uses ``SCardGetStatusChange``, so it wakes as soon as pcscd's presence poll sees the change.
    """
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscdError(f"cannot reach pcscd: {scard.SCardGetErrorMessage(hresult)}")
    try:
        deadline = time.monotonic() + timeout
        known = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(context, remaining_ms, [(pyscard_name, known)])
            if hresult == scard.SCARD_S_SUCCESS:
                _, event_state, _ = states[0]
                if bool(event_state & scard.SCARD_STATE_PRESENT) == present:
                    return
                known = event_state & ~scard.SCARD_STATE_CHANGED
            elif hresult != scard.SCARD_E_TIMEOUT:
                raise PcscdError(f"reader {pyscard_name!r}: {scard.SCardGetErrorMessage(hresult)}")
            if time.monotonic() >= deadline:
                word = "present" if present else "absent"
                raise TimeoutError(f"no card {word} in {pyscard_name!r} after {timeout:.1f} s")
    finally:
        scard.SCardReleaseContext(context)


def _port_pair_free(port: int) -> bool:
    """True if vpcd could bind ``port`` and ``port + 1`` (it binds 0.0.0.0 with SO_REUSEADDR)."""
    held: list[socket.socket] = []
    try:
        for p in (port, port + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", p))
        return True
    except OSError:
        return False
    finally:
        for sock in held:
            sock.close()


def free_port_pairs(count: int, rng: random.Random | None = None) -> list[int]:
    """``count`` ports P (P and P + 1 both free, pairs not overlapping) for vpcd readers."""
    rng = rng or random.Random()
    ports: list[int] = []
    for _ in range(2000):
        port = rng.randrange(PORT_RANGE[0], PORT_RANGE[1], 2)
        if port not in ports and _port_pair_free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise PcscdError(f"found no {count} free TCP port pairs in {PORT_RANGE}")


try:  # looked up before any fork: the child must not load libraries
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent (thread) dies (Linux prctl)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


class PcscdHarness:
    """pcscd with our vpcd readers: starts it (or reuses one that already has them) and stops it.

    ``readers`` are FRIENDLYNAMEs, unique, at most 8. Use as a context manager or call
    :meth:`start`/:meth:`stop`. ``pcscd_log_level`` is ``"info"`` or ``"debug"`` (debug also logs APDUs).
    ``die_with_parent`` asks the kernel to stop our pcscd if this process (precisely: the thread that
    called :meth:`start`) dies without calling :meth:`stop`.
    """

    def __init__(
        self,
        readers: Iterable[str],
        *,
        pcscd_path: str = "pcscd",
        start_timeout: float = DEFAULT_START_TIMEOUT,
        pcscd_log_level: str = "info",
        die_with_parent: bool = True,
    ) -> None:
        self.reader_names = list(readers)
        _check_reader_names(self.reader_names)
        if pcscd_log_level not in ("info", "debug"):
            raise ValueError("pcscd_log_level is 'info' or 'debug'")
        self.pcscd_path = pcscd_path
        self.start_timeout = start_timeout  # seconds
        self.pcscd_log_level = pcscd_log_level
        self.die_with_parent = die_with_parent
        self.ports: dict[str, int] = {}  # reader name -> port of slot 0
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.pid: int | None = None  # the pcscd in use, ours or reused
        self.reused = False
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"PcscdHarness({self.reader_names!r}, pid={self.pid}, reused={self.reused})"

    @property
    def started_pcscd(self) -> bool:
        """True if this harness started the pcscd it uses (and :meth:`stop` will stop it)."""
        return self._process is not None

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return bool(self.ports)

    def port_for(self, reader_name: str, slot: int = 0) -> int:
        """vpcd TCP port a virtual card connects to for this reader slot."""
        if reader_name not in self.ports:
            raise KeyError(f"{reader_name!r} is not a reader of this harness ({self.reader_names})")
        if not 0 <= slot < VPCD_SLOTS:
            raise ValueError(f"a vpcd reader has slots 0..{VPCD_SLOTS - 1}, not {slot}")
        return self.ports[reader_name] + slot

    def pyscard_name(self, reader_name: str, slot: int = 0) -> str:
        """Reader name pyscard and the drivers use for this reader slot, e.g. ``"Test VPCD 00 00"``."""
        if reader_name not in self.reader_names:
            raise KeyError(f"{reader_name!r} is not a reader of this harness ({self.reader_names})")
        if not 0 <= slot < VPCD_SLOTS:
            raise ValueError(f"a vpcd reader has slots 0..{VPCD_SLOTS - 1}, not {slot}")
        return pyscard_reader_name(reader_name, slot)

    def card_connection(
        self, reader_name: str, slot: int = 0, *, low_latency: bool = True
    ) -> VpcdCardConnection:
        """A new (empty) card-side connection for this reader slot; ``insert`` a card into it."""
        return VpcdCardConnection(self.port_for(reader_name, slot), low_latency=low_latency)

    def wait_card(self, reader_name: str, present: bool = True, timeout: float = 5.0, slot: int = 0) -> None:
        """Block until pcscd sees a card present (or absent) in this reader slot."""
        wait_card_state(self.pyscard_name(reader_name, slot), present, timeout)

    def start(self) -> PcscdHarness:
        """Start pcscd with our readers, or reuse a running one that has them; see the module doc."""
        if self.running:
            return self
        pids = running_pcscd_pids()
        if pids:
            self._reuse(pids)
        elif pcscd_socket_answers():
            raise PcscdError(
                f"{PCSCD_SOCKET} accepts connections but no pcscd process is visible: probably systemd's "
                "pcscd.socket. Stop it with `sudo systemctl stop pcscd.socket pcscd.service` "
                "and try again."
            )
        else:
            self._start_own()
        return self

    def stop(self) -> None:
        """Stop pcscd if this harness started it, and delete its config folder; idempotent."""
        self._kill_own()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
        self.log_path = None
        self.ports = {}
        self.pid = None
        self.reused = False

    def __enter__(self) -> PcscdHarness:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _reuse(self, pids: list[int]) -> None:
        """Adopt a running pcscd if its config has all our readers and pyscard lists them."""
        pid = pids[0]
        argv = process_argv(pid)
        folder = pcscd_config_dir(argv)
        configured = {r.name: r for r in read_reader_conf_dir(folder)}
        missing = [
            name for name in self.reader_names if name not in configured or configured[name].port is None
        ]
        if not missing:
            wanted = {self.pyscard_name(name) for name in self.reader_names}
            deadline = time.monotonic() + self.start_timeout
            while not wanted <= set(list_pcsc_readers()):
                if time.monotonic() >= deadline:
                    missing = sorted(wanted - set(list_pcsc_readers()))
                    break
                time.sleep(0.1)
        if missing:
            if folder.parent.name.startswith(WORKDIR_PREFIX):
                who = "another PcscdHarness (a test session or the simulator) started it: stop that first"
            else:
                who = "`sudo systemctl stop pcscd.socket pcscd.service` if systemd started it"
            raise PcscdError(
                f"another pcscd is running (pid {pid}: {shlex.join(argv) or '?'}, reader config {folder}) "
                f"without our readers {missing}. Only one pcscd can run per machine. Stop it — "
                f"{who}, else `sudo kill {pid}` — and try again."
            )
        libpaths = [configured[name].libpath for name in self.reader_names]
        if len(set(libpaths)) < len(libpaths):
            log.warning(
                "reused pcscd %d: several of our readers share one vpcd driver copy; cards will clash", pid
            )
        self.ports = {name: port for name in self.reader_names if (port := configured[name].port) is not None}
        self.pid = pid
        self.reused = True
        log.info("reusing pcscd %d (config %s) with readers %s", pid, folder, self.ports)

    def _start_own(self) -> None:
        """Write the config folder and start pcscd, retrying with fresh ports if one was taken."""
        if shutil.which(self.pcscd_path) is None:
            raise PcscdError(f"{self.pcscd_path!r} not found: install the Debian package pcscd")
        driver = find_vpcd_driver()
        workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        self.workdir = workdir
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                ports = dict(zip(self.reader_names, free_port_pairs(len(self.reader_names)), strict=True))
                conf_dir = self._write_config(workdir / f"reader.conf.d-{attempt}", driver, ports)
                self.log_path = workdir / f"pcscd-{attempt}.log"
                self._spawn(conf_dir)
                error = self._wait_ready(ports)
                if error is None:
                    self.ports = ports
                    self.pid = self._process.pid if self._process else None
                    log.info("started pcscd %s with readers %s (log %s)", self.pid, ports, self.log_path)
                    return
                self._kill_own()
                log_text = self._log_tail()
                if PORT_TAKEN_LOG not in log_text or attempt == START_ATTEMPTS:
                    raise PcscdError(f"{error}\n--- pcscd log, last lines ---\n{log_text}")
                log.info("a vpcd port was taken, retrying pcscd with fresh ports")
        except BaseException:
            self.stop()
            raise

    def _write_config(self, conf_dir: Path, driver: Path, ports: dict[str, int]) -> Path:
        """A fresh reader-config folder with one file and one private driver copy per reader."""
        conf_dir.mkdir()
        drivers = conf_dir.parent / "drivers"
        drivers.mkdir(exist_ok=True)
        for index, (name, port) in enumerate(ports.items()):
            libpath = drivers / f"libifdvpcd-{index:02d}.so"
            if not libpath.exists():
                shutil.copyfile(driver, libpath)  # a copy, not a link: glibc shares same-inode libraries
            (conf_dir / f"{index:02d}-vpcd").write_text(reader_conf_text(name, port, libpath))
        return conf_dir

    def _spawn(self, conf_dir: Path) -> None:
        """Start ``pcscd --foreground`` on ``conf_dir``, its output going to :attr:`log_path`."""
        assert self.log_path is not None
        level = "--debug" if self.pcscd_log_level == "debug" else "--info"
        argv = [self.pcscd_path, "--foreground", level, "--config", str(conf_dir)]
        if self.pcscd_log_level == "debug":
            argv.append("--apdu")
        use_pdeathsig = self.die_with_parent and _PRCTL is not None
        with open(self.log_path, "wb") as log_file:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if use_pdeathsig else None,
                close_fds=True,
            )

    def _wait_ready(self, ports: dict[str, int]) -> str | None:
        """Wait until pyscard lists all our readers; the reason as text if it does not happen."""
        wanted = {self.pyscard_name(name) for name in ports}
        deadline = time.monotonic() + self.start_timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = process.returncode if process else "?"
                return f"pcscd exited with status {code} before listing the readers"
            listed = set(list_pcsc_readers())
            if wanted <= listed:
                return None
            if PORT_TAKEN_LOG in self._log_tail():
                return "vpcd could not listen on one of its ports"
            if time.monotonic() >= deadline:
                return (
                    f"pcscd did not list the readers {sorted(wanted - listed)} within "
                    f"{self.start_timeout:.1f} s (it lists {sorted(listed)})"
                )
            time.sleep(0.05)

    def _kill_own(self) -> None:
        """Stop the pcscd this harness started (SIGTERM, then SIGKILL), if any."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(DEFAULT_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("pcscd %d ignored SIGTERM; killing it", process.pid)
                process.kill()
                process.wait(DEFAULT_STOP_TIMEOUT)

    def _log_tail(self) -> str:
        """The last lines of pcscd's log."""
        if self.log_path is None:
            return ""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])


def _check_reader_names(names: list[str]) -> None:
    """Reject names pcscd would mangle or that would collide."""
    if not names:
        raise ValueError("give at least one reader name")
    if len(names) > MAX_VPCD_READERS:
        raise ValueError(f"pcscd has room for {MAX_VPCD_READERS} vpcd readers, not {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"reader names must be unique: {names}")
    for name in names:
        if not name or len(name) > MAX_READER_NAME or name != name.strip():
            raise ValueError(f"bad reader name {name!r}: 1..{MAX_READER_NAME} characters, no outer spaces")
        if any(ch in name for ch in '"\n\r\t') or not name.isprintable():
            raise ValueError(f"bad reader name {name!r}: no quotes, tabs or line breaks")


def pcscd_environment_report() -> str:
    """A few lines on the pcscd situation here, for a maintenance console or a failing test."""
    try:
        init = Path("/proc/1/comm").read_text().strip()
    except OSError:
        init = "?"
    pids = running_pcscd_pids()
    running = ", ".join(f"{pid}: {shlex.join(process_argv(pid))}" for pid in pids) or "none"
    lines = [
        f"pcscd binary: {shutil.which('pcscd') or 'not installed'}",
        f"PID 1: {init} ({'systemd socket activation possible' if init == 'systemd' else 'no systemd'})",
        f"socket {PCSCD_SOCKET}: {'answers' if pcscd_socket_answers() else 'absent or dead'}",
        f"running pcscd: {running}",
        f"readers: {list_pcsc_readers()}",
        f"uid: {os.getuid()}",
    ]
    return "\n".join(lines)
