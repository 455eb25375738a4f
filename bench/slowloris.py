"""Slowloris against the hall's LAN service and the central, each under ``ulimit -n 1024`` (issue 10, finding 1).

For each target a server child runs with ``RLIMIT_NOFILE`` = 1024 (the hall service from
``bench/slowloris_parts.py serve-hall``, the central as ``python -m sync.central``), an
attacker child holds 2,000 silent and 500 half-sent connections (replacing every one the
server closes) for 60 s (``--quick``: 10 s), and meanwhile this process keeps working as a
real client: a counter calls ``next`` (then marks the call no-show) and a terminal pushes an
event, one every 50 ms, on a kept-alive connection; every fifth time a health request also goes
out on a new connection (a client idle past its keep-alive).  Figures per target: p95/max of those requests before and under
attack, their failures, the server log's growth, and what the attacker saw (sockets opened,
closed by the server, still open at the end, longest lifetime per kind against the
server's header/body timeouts).  The last stdout line is one JSON object.

    .venv/bin/python bench/slowloris.py [--quick] [--targets hall,central] [--idle N] [--half M] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARTS = Path(__file__).resolve().parent / "slowloris_parts.py"
PACE_S = 0.05  # one legitimate request every 50 ms


def _limit_fds(nofile: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return apply


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2)


class _Target:
    """A server child and the legitimate operation measured against it."""

    name = ""
    header_timeout_s = 0.0
    body_timeout_s = 0.0
    path = ""

    def __init__(self, workdir: Path, nofile: int) -> None:
        self.workdir, self.log = workdir, workdir / f"{self.name}.log"
        self.proc, self.url = self.start(_limit_fds(nofile))

    def start(self, preexec: Callable[[], None]) -> tuple[subprocess.Popen[str], str]:
        raise NotImplementedError

    def operation(self) -> None:
        raise NotImplementedError

    def fresh_connection(self) -> None:
        """One health request on a new connection (a client that was idle past its keep-alive)."""
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _spawn(self, argv: list[str], preexec: Callable[[], None], marker: str) -> tuple[subprocess.Popen[str], str]:
        with open(self.log, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    text=True, preexec_fn=preexec, env={**os.environ, "PYTHONPATH": str(ROOT)})
        line = proc.stdout.readline() if proc.stdout else ""
        if marker not in line:
            proc.kill()
            raise RuntimeError(f"{self.name} did not start: {line!r} {self.log.read_text(encoding='utf-8')[-2000:]}")
        return proc, re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]


class HallTarget(_Target):
    """The hall's LAN queue service; the operation is a counter's ``next`` (then no-show)."""

    name, header_timeout_s, body_timeout_s, path = "hall", 5.0, 10.0, "/v1/counters/1/next"

    def start(self, preexec: Callable[[], None]) -> tuple[subprocess.Popen[str], str]:
        proc, url = self._spawn([sys.executable, str(PARTS), "serve-hall", str(self.workdir)], preexec, "listening")
        from slowloris_parts import CARD, PIN, SECRET

        from kiosk.hall.client import HallClient

        self.client = HallClient(url, SECRET)
        self.client.login(1, CARD, PIN, ["A", "B"])
        return proc, url

    def operation(self) -> None:
        call = self.client.call_next(1)
        if call is not None:
            self.client.no_show(1)

    def fresh_connection(self) -> None:
        from slowloris_parts import SECRET

        from kiosk.hall.client import HallClient

        with HallClient(self.url, SECRET) as client:
            client.health()

    def stop(self) -> None:
        self.client.close()
        super().stop()


class CentralTarget(_Target):
    """The central (``python -m sync.central``); the operation is one terminal's push of one event."""

    name, header_timeout_s, body_timeout_s, path = "central", 10.0, 30.0, "/v1/events/push"

    def start(self, preexec: Callable[[], None]) -> tuple[subprocess.Popen[str], str]:
        import httpx

        from sync.central.storage import CentralStore
        from sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

        db = str(self.workdir / "central.db")
        store = CentralStore.open(db)
        token = store.enrol("hall", "site-a", "bench-hall").token
        store.close()
        proc, url = self._spawn([sys.executable, "-m", "sync.central", "--db", db, "--bind", "127.0.0.1:0",
                                 "--log-level", "warning"], preexec, "listening on")
        self.client = httpx.Client(base_url=url, timeout=10.0, headers={
            PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Authorization": f"Bearer {token}"})
        self.seq = 0
        return proc, url

    def operation(self) -> None:
        self.seq += 1
        event = {"id": str(uuid.uuid4()), "terminal_id": "bench-hall", "seq": self.seq, "type": "ticket.issued",
                 "occurred_at": "2026-12-03T08:00:00+08:00", "payload": {"n": self.seq}, "schema": 1}
        answer = self.client.post("/v1/events/push", json={"terminal_id": "bench-hall", "events": [event]})
        answer.raise_for_status()

    def fresh_connection(self) -> None:
        import httpx

        httpx.get(self.url + "/health", timeout=10.0).raise_for_status()

    def stop(self) -> None:
        self.client.close()
        super().stop()


def _timed(op: Callable[[], None], latencies: list[float], failures: list[str]) -> None:
    t0 = time.perf_counter()
    try:
        op()
        latencies.append(time.perf_counter() - t0)
    except Exception as exc:  # every failure is a figure
        failures.append(f"{type(exc).__name__}: {exc}"[:200])


def _measure(target: _Target, seconds: float, until: Callable[[], bool] | None = None
             ) -> tuple[list[float], list[str], list[float], list[str]]:
    """The operation every PACE_S, and a fresh connection every fifth time: latencies and failures of each."""
    latencies: list[float] = []
    failures: list[str] = []
    fresh: list[float] = []
    fresh_failures: list[str] = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end and (until is None or not until()):
        _timed(target.operation, latencies, failures)
        if n % 5 == 0:
            _timed(target.fresh_connection, fresh, fresh_failures)
        n += 1
        time.sleep(PACE_S)
    return latencies, failures, fresh, fresh_failures


def run_target(cls: type[_Target], idle: int, half: int, seconds: float, nofile: int,
               bodies: bool = True) -> dict[str, object]:
    """Attack one target while measuring its legitimate operation; the figures with snake_case names and units."""
    with tempfile.TemporaryDirectory(prefix=f"slowloris-{cls.name}-") as tmp:
        target = cls(Path(tmp), nofile)
        try:
            before, before_failures, _fresh_before, _ = _measure(target, 2.0)
            log_before = target.log.stat().st_size
            port = target.url.rsplit(":", 1)[1]
            grace = (target.body_timeout_s if bodies else target.header_timeout_s) + 5.0
            attacker = subprocess.Popen(
                [sys.executable, str(PARTS), "attack", "127.0.0.1", port, "--idle", str(idle), "--half", str(half),
                 "--seconds", str(seconds), "--grace", str(grace), "--path", target.path,
                 *(() if bodies else ("--no-bodies",))],
                cwd=ROOT, stdout=subprocess.PIPE, text=True)
            time.sleep(min(1.0, seconds / 10))  # the flood is on before the first measured request
            during, failures, fresh, fresh_failures = _measure(target, seconds - 1.0,
                                                               until=lambda: attacker.poll() is not None)
            out, _ = attacker.communicate(timeout=seconds + grace + 60)
            seen = json.loads(out.strip().splitlines()[-1])
            after, after_failures, _fresh_after, _ = _measure(target, 1.0)
            log_growth = target.log.stat().st_size - log_before
            alive = target.proc.poll() is None
        finally:
            target.stop()
        n = cls.name
        op = "counter_next" if n == "hall" else "push"
        return {
            f"{op}_p95_ms_before_attack": _p95(before),
            f"{op}_p95_ms_under_attack": _p95(during),
            f"{op}_max_ms_under_attack": round(max(during) * 1000, 2) if during else None,
            f"{op}_ok_under_attack": len(during),
            f"{op}_failures_under_attack": len(failures),
            f"{op}_failure_examples": failures[:3],
            f"{op}_ok_after_attack": len(after),
            "new_connection_p95_ms_under_attack": _p95(fresh),
            "new_connection_ok_under_attack": len(fresh),
            "new_connection_failures_under_attack": len(fresh_failures),
            "new_connection_failure_examples": fresh_failures[:3],
            f"{op}_failures_outside_attack": len(before_failures) + len(after_failures),
            f"{op}_failure_examples_outside_attack": (before_failures + after_failures)[:3],
            "log_growth_mb": round(log_growth / 1e6, 4),
            "server_alive": alive,
            "header_timeout_s": target.header_timeout_s,
            "body_timeout_s": target.body_timeout_s,
            "attack_sockets_opened": seen["opened"],
            "attack_sockets_closed_by_server": seen["closed_by_server"],
            "attack_sockets_still_open_at_end": seen["still_open_at_end"],
            "attack_connect_failures": seen["connect_failures"],
            "attack_idle_lifetime_max_s": seen["idle_lifetime_max_s"],
            "attack_head_lifetime_max_s": seen["head_lifetime_max_s"],
            "attack_body_lifetime_max_s": seen["body_lifetime_max_s"],
            "attack_idle_lifetime_median_s": seen["idle_lifetime_median_s"],
        }


TARGETS: dict[str, type[_Target]] = {"hall": HallTarget, "central": CentralTarget}


def main(argv: list[str] | None = None) -> int:
    """Run the attack on each target and print the figures (last line: one JSON object)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 s of attack instead of 60 s")
    ap.add_argument("--seconds", type=float, help="attack duration in seconds (overrides --quick)")
    ap.add_argument("--idle", type=int, default=2000, help="silent connections held")
    ap.add_argument("--half", type=int, default=500, help="half-sent connections held")
    ap.add_argument("--nofile", type=int, default=1024, help="RLIMIT_NOFILE of the server child")
    ap.add_argument("--targets", default="hall,central", help="comma-separated: hall, central")
    ap.add_argument("--no-bodies", action="store_true", help="half-sent connections send partial heads only")
    args = ap.parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    figures: dict[str, object] = {"attack_seconds": seconds, "idle_sockets": args.idle, "half_sent_sockets": args.half,
                                  "server_nofile": args.nofile}
    for name in args.targets.split(","):
        result = run_target(TARGETS[name], args.idle, args.half, seconds, args.nofile, bodies=not args.no_bodies)
        for key, value in result.items():
            print(f"{name}.{key}: {value}", flush=True)
            figures[f"{name}_{key}"] = value
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
