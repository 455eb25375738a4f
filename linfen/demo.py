"""``linfen demo``: the simulator, the hall ticket machine, two counters and a display, together.

Headless (``--headless``, or any run without a display) drives residents through the
whole stack offscreen: each is presented at a reader (ID card, social-security card,
or a code at the camera or scanner), the thermometer answers, the hall decides and
prints; two counters call, serve and finish over the hall's LAN service, the resident
rates; a display follows the push channel.  The JSON report has the figures issue 4
names.  With a display, the same stack opens in windows for people to use.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardware_sim import personas
from kiosk.config import Hall, HallServiceConfig, Sync, TerminalConfig, load_config
from kiosk.hall.checkin.events import Show
from kiosk.hall.checkin.terminal import VisitTiming
from kiosk.hall.client import HallClient
from kiosk.voice import Speaker

HALL_DEVICES = ("idcard", "sscard", "qr_camera", "qr_scanner", "thermometer", "printer", "code_service")
DEMO_SERVICES = (
    HallServiceConfig(code="A", name_zh="综合受理", name_en="General services", daily_cap=999, avg_handle_min=6),
    HallServiceConfig(code="B", name_zh="社保医保", name_en="Social and medical insurance", daily_cap=999,
                      avg_handle_min=8),
    HallServiceConfig(code="C", name_zh="为老服务", name_en="Services for older residents", daily_cap=999,
                      avg_handle_min=7),
)
OUTCOME_TIMEOUT_S = 15.0  # longest wait for one resident's outcome, in seconds
SIM_START_TIMEOUT_S = 60.0  # longest wait for the simulator process to write its config, in seconds
POPULATION_SEED = 7  # demo residents are generated, distinct from the 60 shared personas
LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")


def rss_mb() -> float:
    """This process's resident set size in MB (from /proc)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentiles(values: list[float], names: tuple[str, ...] = ("p50", "p95", "p99")) -> dict[str, float]:
    """Named percentiles (and max) of a list of numbers, rounded to 0.1."""
    if not values:
        return {n: 0.0 for n in names}
    ordered = sorted(values)
    out = {}
    for n in names:
        if n == "max":
            out[n] = round(ordered[-1], 1)
            continue
        q = int(n[1:]) / 100
        out[n] = round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 1)
    return out


@dataclass
class Outcome:
    """What happened to one resident."""

    kind: str = ""  # "ticket", or the refusal/error reason
    timing: VisitTiming | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A ``linfen`` subcommand run as its own process (as on a real site), its output in a log file."""

    def __init__(self, args: list[str], log_path: Path):
        import subprocess
        import sys

        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self.log = open(log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "linfen", *args], stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_until(self, ready: Callable[[], bool], what: str, timeout_s: float = SIM_START_TIMEOUT_S) -> None:
        """Wait for ``ready()``; stop the process and raise if it exits or the time runs out first."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {what} did not start; see {self.log_path}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then kill)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
        self.log.close()


class SimProcess(ChildProcess):
    """The hardware simulator as its own process (as maintenance staff run it), driven over its control API."""

    def __init__(self, workdir: Path, timing: str, population: int, role: str = "hall"):
        import httpx

        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = workdir / f"{role}.toml"
        super().__init__(
            ["sim", f"--{timing}", "--port", str(port), "--workdir", str(workdir), "--config-out",
             str(self.config_path), "--role", role, "--population", str(population), "--population-seed",
             str(POPULATION_SEED)], workdir / "sim.log")
        self.wait_until(self.config_path.exists, "simulator")
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One control command; a refusal is an error."""
        response = self.http.post(path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"simulator refused {path}: {response.text}")
        return response.json()

    def stop(self) -> None:
        """Stop the simulator process (SIGTERM, then kill)."""
        super().stop()
        if hasattr(self, "http"):
            self.http.close()


class CentralProcess(ChildProcess):
    """The central service (``linfen central``) on SQLite in its own process, as on the sub-district's server."""

    def __init__(self, db: Path):
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(["central", "--db", str(db), "--bind", f"127.0.0.1:{port}"], db.parent / "central.log")
        self.wait_until(self._healthy, "central service")

    def _healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


class Stack:
    """The simulator (its own process) and the hall (window offscreen or on screen) wired together."""

    def __init__(self, workdir: Path, timing: str, population: int, voice: bool = False):
        self.sim = SimProcess(workdir, timing, population)
        config: TerminalConfig = load_config(self.sim.config_path)
        try:
            self.central_url, self.stop_central, token_file = _central_for(workdir, config)
        except Exception:
            self.sim.stop()
            raise
        self.config = config.model_copy(update={
            "hall": Hall(services=DEMO_SERVICES, bind="127.0.0.1:0"), "central_url": self.central_url,
            "sync": Sync(token_file=str(token_file))})
        self.current = Outcome()
        self.central_db = workdir / "central.db"
        from ui.hall_app import HallUi

        try:
            self.hall = HallUi(self.config, observer=self._observe, on_visit_done=self._visit_done,
                               speaker=Speaker(enabled=voice, volume=self.config.voice.volume))
        except Exception:
            self.sim.stop()
            self.stop_central()
            raise
        assert self.hall.app is not None and self.hall.app.service_url
        self.service_url = self.hall.app.service_url
        self.secret = self.config.lan.secret if self.config.lan else ""

    def _observe(self, show: Show) -> None:
        if show.screen in ("refused", "error"):
            self.current.kind = str(show.data.get("reason", show.screen))
            self.current.done.set()

    def _visit_done(self, timing: VisitTiming) -> None:
        self.current.kind = "ticket"
        self.current.timing = timing
        self.current.done.set()

    def close(self) -> None:
        """Stop the hall, the simulator and the central service."""
        self.hall.close()
        self.sim.stop()
        self.stop_central()

    def synced(self) -> tuple[int, int]:
        """(events written by the hall, events the central has stored from it)."""
        from sync.central.storage import CentralStore

        app = self.hall.app
        written = app.store.last_seq() if app else 0
        central = CentralStore.open(str(self.central_db))
        try:
            return written, central.event_count()
        finally:
            central.close()


def _central_for(workdir: Path, config: TerminalConfig) -> tuple[str, Any, Path]:
    """Enrol the hall in a central on SQLite in ``workdir`` and start it as its own process; (url, stop, token file).

    The central runs apart from the hall, as on a real site, so the hall's memory figures are the hall's own.
    """
    from sync.central.storage import CentralStore

    db = workdir / "central.db"
    store = CentralStore.open(str(db))
    try:
        token = store.enrol(config.role, config.site, config.terminal_id).token
    finally:
        store.close()
    token_file = workdir / "hall-token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    central = CentralProcess(db)
    return central.url, central.stop, token_file


def _source_for(i: int) -> str:
    slot = i % 20
    return "idcard" if slot < 13 else "sscard" if slot < 16 else "qr_camera" if slot < 19 else "qr_scanner"


class Residents(threading.Thread):
    """Presents each resident in turn and records what happened."""

    def __init__(self, stack: Stack, people: list[personas.Persona], seed: int = 1, step_up_s: float = 0.12):
        super().__init__(name="demo-residents", daemon=True)
        self.step_up_s = step_up_s  # pause between one resident leaving and the next presenting
        self.stack = stack
        self.people = people
        self.rng = random.Random(seed)
        self.swipe_ms: list[float] = []
        self.software_ms: list[float] = []
        self.outcomes: Counter[str] = Counter()
        self.by_service: Counter[str] = Counter()  # tickets per service letter
        self.first: dict[str, int] = {}  # outcome kind -> resident index, for screenshots
        self.rss_half: float | None = None  # RSS half-way: a leak goes on growing, caches filling level off
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            for i, person in enumerate(self.people):
                if i == len(self.people) // 2:
                    self.rss_half = rss_mb()
                self._one(i, person)
        finally:
            self.finished.set()

    def _one(self, i: int, person: personas.Persona) -> None:
        sim, terminal = self.stack.sim, self.stack.hall.app.terminal  # type: ignore[union-attr]
        terminal.ui("dismiss")  # the last resident's screen goes, as their "完成" does ...
        terminal.ui(f"service:{'ABC'[i % 3]}")  # ... and this one taps a service on the idle screen
        sim.post("/temperature", {"celsius": 38.1 if i % 50 == 7 else round(self.rng.uniform(36.0, 37.1), 1)})
        outcome = self.stack.current = Outcome()
        source = _source_for(i)
        t0 = time.monotonic()
        if source in ("idcard", "sscard"):
            sim.post("/present", {"device": source, "persona": person.persona_id})
        else:
            sim.post("/show-qr", {"persona": person.persona_id, "device": source})
        if not outcome.done.wait(OUTCOME_TIMEOUT_S):
            outcome.kind = "no_outcome"
        self.outcomes[outcome.kind] += 1
        self.first.setdefault(outcome.kind, i)
        if outcome.timing is not None:
            t = outcome.timing
            self.by_service[t.number[:1] or "?"] += 1
            self.swipe_ms.append((t.finished_at - t0) * 1000)
            self.software_ms.append(max(0.0, t.finished_at - t.identified_at - t.device_s) * 1000)
        if source in ("idcard", "sscard", "qr_camera"):
            sim.post("/remove", {"device": source})
        time.sleep(self.step_up_s)  # the next resident steps up; the readers see the last card go


DEMO_STAFF_PIN = "2580"  # the demo clerks' PIN (a real hall enrols each clerk with `linfen staff set`)


def enrol_demo_staff(app: Any, windows: tuple[int, ...] = (1, 2)) -> dict[int, str]:
    """Enrol one demo clerk per window in the hall's staff registry; their staff-card UIDs by window.

    The headless counters have no card reader of their own: they log in through the hall's LAN
    login API with these UIDs and :data:`DEMO_STAFF_PIN`, as a counter does after a card tap.
    """
    from kiosk.hall.checkin.setup import read_person_key
    from kiosk.hall.staff import StaffRegistry

    registry = StaffRegistry(app.store, read_person_key(app.config))
    cards = {w: f"5A1F{w:04X}" for w in windows}
    for w, uid in cards.items():
        registry.set(f"S{w:03d}", f"演示*{w}", uid, DEMO_STAFF_PIN)
    return cards


class Counters:
    """Two counter clerks calling, serving, finishing; the resident rates each service."""

    def __init__(self, url: str, secret: str, windows: tuple[int, ...] = (1, 2), handle_s: float = 0.0,
                 cards: dict[int, str] | None = None):
        self.clients = {w: HallClient(url, secret) for w in windows}
        self.cards = cards or {}  # window -> the clerk's staff-card UID (see enrol_demo_staff)
        self.handle_s = handle_s
        self.calls = 0
        self.rated = 0
        self.pressed: dict[int, float] = {}  # call id -> time.monotonic() the clerk pressed "next"
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._work, args=(w,), daemon=True) for w in windows]
        self._lock = threading.Lock()
        self.rng = random.Random(3)

    def start(self) -> None:
        for w, client in self.clients.items():
            client.login(w, self.cards[w], DEMO_STAFF_PIN, ["A", "B", "C"])
        for t in self.threads:
            t.start()

    def _work(self, window: int) -> None:
        client = self.clients[window]
        while not self.stop.is_set():
            try:
                pressed = time.monotonic()
                call = client.call_next(window)
                if call is None:
                    self.stop.wait(0.05)
                    continue
                with self._lock:
                    self.pressed[call.id] = pressed
                    self.calls += 1
                client.start(window)
                self.stop.wait(self.handle_s)
                ticket = client.finish(window)
                client.rate(window, ticket.id, self.rng.choice(LEVELS[:3] * 3 + LEVELS[3:]))
                with self._lock:
                    self.rated += 1
            except Exception as exc:  # a demo clerk notes the problem and carries on
                self.errors.append(f"window {window}: {exc}")
                self.stop.wait(0.2)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)
        for client in self.clients.values():
            client.close()


class Display(threading.Thread):
    """The calling display's feed: measures how long a call takes to arrive after the clerk pressed."""

    def __init__(self, url: str, secret: str, counters: Counters):
        super().__init__(name="demo-display", daemon=True)
        self.client = HallClient(url, secret)
        self.counters = counters
        self.stop = threading.Event()
        self.latency_ms: list[float] = []
        self.seen = 0

    def run(self) -> None:
        for event in self.client.events(stop=self.stop):
            if event.event != "call":
                continue
            arrived = time.monotonic()
            call_id = _call_id(event)
            self.seen += 1
            deadline = arrived + 1.0
            while call_id not in self.counters.pressed and time.monotonic() < deadline:
                time.sleep(0.001)  # the clerk's HTTP answer may land just after the push
            if call_id in self.counters.pressed:
                self.latency_ms.append((arrived - self.counters.pressed[call_id]) * 1000)

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=5)
        self.client.close()


def _call_id(event: Any) -> int | None:
    data = event.data if isinstance(event.data, dict) else {}
    return data.get("id")


def run_headless(residents: int, timing: str, report_path: Path | None, out_dir: Path,
                 workdir: Path | None = None) -> dict[str, Any]:
    """Drive ``residents`` through the whole stack offscreen; return (and write) the report."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.app import application

    app = application()
    work = workdir or Path(tempfile.mkdtemp(prefix="linfen-demo-"))
    population = tuple(personas.generate(max(residents, 60), seed=POPULATION_SEED))
    stack = Stack(work, timing, len(population))
    stack.hall.window.resize(1280, 800)
    stack.hall.window.show()
    counters = Counters(stack.service_url, stack.secret, handle_s=0.0 if timing == "fast" else 0.5,
                        cards=enrol_demo_staff(stack.hall.app))
    display = Display(stack.service_url, stack.secret, counters)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots: dict[str, Path] = {}
    try:
        display.start()
        counters.start()
        for _ in range(20):  # let the window settle and the device probes answer
            app.processEvents()
            time.sleep(0.01)
        rss_start = rss_mb()
        started = time.monotonic()
        # A reader notices a card has gone only at its next poll (ID reader ~0.15 s with realistic find
        # times, pcscd ~0.4 s): a card swapped faster than that reads as the same card still lying there.
        driver = Residents(stack, list(population[:residents]), step_up_s=0.12 if timing == "fast" else 1.0)
        driver.start()
        while not driver.finished.is_set():
            app.processEvents()
            _maybe_screenshot(stack, driver, shots, out_dir)
            time.sleep(0.005)
        duration = time.monotonic() - started
        drain_until = time.monotonic() + (10 if timing == "fast" else 60)
        while counters.rated < driver.outcomes["ticket"] and time.monotonic() < drain_until:
            app.processEvents()
            time.sleep(0.02)
        rss_end = rss_mb()
        sync_until = time.monotonic() + 20
        written, stored = stack.synced()
        while stored < written and time.monotonic() < sync_until:
            stack.hall.app.sync.wake()  # type: ignore[union-attr]
            time.sleep(0.3)
            written, stored = stack.synced()
    finally:
        counters.close()
        display.close()
        stack.close()
    refused = {k: v for k, v in driver.outcomes.items() if k != "ticket"}
    report = {
        "residents": residents,
        "timing": timing,
        "checkins": sum(driver.outcomes.values()),
        "tickets": driver.outcomes["ticket"],
        "tickets_by_service": dict(sorted(driver.by_service.items())),
        "refused": refused,
        "swipe_to_ticket_ms": percentiles(driver.swipe_ms, ("p50", "p95", "p99", "max")),
        "software_ms": percentiles(driver.software_ms),
        "calls": counters.calls,
        "rated": counters.rated,
        "call_to_display_ms": percentiles(display.latency_ms, ("p50", "p95", "max")),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_half": round(driver.rss_half if driver.rss_half is not None else rss_end, 1),
        "rss_mb_end": round(rss_end, 1),
        "duration_s": round(duration, 1),
        "events_written": written,
        "events_at_central": stored,
        "counter_errors": len(counters.errors),
        "terminal_errors": len(stack.hall.app.terminal.errors) if stack.hall.app else 0,
        "screenshots": {k: str(v) for k, v in shots.items()},
    }
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def _maybe_screenshot(stack: Stack, driver: Residents, shots: dict[str, Path], out_dir: Path) -> None:
    """Save the hall window the first time it shows each kind of screen."""
    show = stack.hall.window._last_show
    name = show.screen if show.screen != "refused" else f"refused-{show.data.get('reason')}"
    if show.screen == "ticket" and show.data.get("printing"):
        return
    if name not in shots and show.screen != "idle":
        path = out_dir / f"hall-{name}.png"
        stack.hall.window.grab().save(str(path))
        shots[name] = path

