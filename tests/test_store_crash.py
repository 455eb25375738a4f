"""Crash safety of the store: SIGKILL a writing process 200 times; nothing committed is lost or torn.

A child (``tests/store_crash_child.py``) records payments in a loop, one store action each (a
business row + its ``payment.recorded`` event) and prints each id after the commit.  The parent
kills it at a random moment after its first commit, checks the database, and lets the next child
open the same file.  To keep 200 rounds fast, children k+1 and k+2 are started while child k is
writing: they import ``kiosk.store``, then wait for ``go`` on stdin before touching the database.

The checks read through a read-only connection, so the WAL a killed child left behind is recovered
by the next child, as on a terminal rebooted after a crash.  The random choices come from one seed
per run, shown in every failure message; rerun with ``STORE_CRASH_SEED=<seed>`` (and
``STORE_CRASH_ROUNDS=<n>``) to reproduce the kill delays.
"""

from __future__ import annotations

import collections
import os
import random
import secrets
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).resolve().with_name("store_crash_child.py")

ROUNDS = int(os.environ.get("STORE_CRASH_ROUNDS", "200"))
#: Longest wait for a child's first committed payment (seconds).
FIRST_LINE_TIMEOUT_S = 20.0
#: Longest wait for a killed child's pipe to close and its exit status (seconds).
REAP_TIMEOUT_S = 10.0
#: The kill comes this long after the first committed payment: uniform in [0, MAX_KILL_DELAY_S] s.
MAX_KILL_DELAY_S = 0.060
#: Children started ahead of their round, so their interpreter start-up overlaps earlier rounds.
PRESTART = 2


class Child:
    """One child process, its stdout read without blocking past a deadline."""

    def __init__(self, db_path: Path, stderr_path: Path, where: str, script: Path = CHILD) -> None:
        self.where = where
        self.stderr_path = stderr_path
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        )
        with open(stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), str(db_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
                env=env,
            )
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)
        self.output = bytearray()
        self.eof = False

    def go(self) -> None:
        """Let the (already imported) child open the database and start writing."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it died during start-up: reported by the first read

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:] or "(empty)"

    def read_until(self, done, timeout_s: float, what: str) -> None:
        """Read stdout until ``done()`` or EOF; fail (showing stderr) after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not done() and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{self.where}: no {what} within {timeout_s} s; child stderr:\n{self.stderr()}")
            if self.selector.select(remaining):
                chunk = os.read(self.fd, 65536)
                if chunk:
                    self.output += chunk
                else:
                    self.eof = True

    def committed_ids(self) -> list[int]:
        """Ids of the complete lines printed so far (each printed after its commit)."""
        *complete, _partial = self.output.decode().split("\n")
        return [int(line) for line in complete]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(REAP_TIMEOUT_S)
        self.selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def run_and_kill(child: Child, kill_delay_s: float) -> list[int]:
    """Let a started child commit at least once, SIGKILL it after ``kill_delay_s``; its ids."""
    where = child.where
    child.go()
    try:
        child.read_until(lambda: b"\n" in child.output, FIRST_LINE_TIMEOUT_S, "first committed payment")
        if child.eof:
            rc = child.proc.wait(REAP_TIMEOUT_S)
            pytest.fail(f"{where}: child exited with {rc} before committing; stderr:\n{child.stderr()}")
        time.sleep(kill_delay_s)
        child.proc.send_signal(signal.SIGKILL)
        child.read_until(lambda: False, REAP_TIMEOUT_S, "end of output after SIGKILL")
        rc = child.proc.wait(REAP_TIMEOUT_S)
        assert rc == -signal.SIGKILL, f"{where}: child ended by itself ({rc}); stderr:\n{child.stderr()}"
        return child.committed_ids()
    finally:
        child.close()


def check_database(db_path: Path, reported: set[int], where: str) -> int:
    """Check integrity and the action invariants; return the number of events."""
    con = sqlite3.connect(
        f"{db_path.as_uri()}?mode=ro", uri=True, timeout=REAP_TIMEOUT_S, isolation_level=None
    )
    try:
        con.execute("BEGIN")  # one snapshot for all the checks
        integrity = con.execute("PRAGMA integrity_check").fetchall()
        payments = [row[0] for row in con.execute("SELECT id FROM payments ORDER BY id")]
        events = con.execute(
            "SELECT id, seq, type, json_extract(payload, '$.payment_id') FROM outbox ORDER BY seq"
        ).fetchall()
        (counter,) = con.execute("SELECT value FROM counters WHERE name = 'outbox_seq'").fetchone()
        con.execute("COMMIT")
    finally:
        con.close()

    assert integrity == [("ok",)], f"{where}: integrity_check: {integrity[:10]}"

    lost = reported - set(payments)
    assert not lost, f"{where}: committed payments missing: {sorted(lost)[:20]}"
    assert [seq for _, seq, _, _ in events] == list(range(1, len(events) + 1)), f"{where}: seq has gaps"
    assert counter == len(events), f"{where}: counter {counter} != {len(events)} events"
    assert len({event_id for event_id, _, _, _ in events}) == len(events), f"{where}: duplicate event ids"
    assert {event_type for _, _, event_type, _ in events} == {"payment.recorded"}, where
    per_payment = collections.Counter(payment_id for _, _, _, payment_id in events)
    twice = [pid for pid, n in per_payment.items() if n != 1]
    assert not twice, f"{where}: payments with more than one event: {twice[:20]}"
    assert set(per_payment) == set(payments), (
        f"{where}: events without payment {sorted(set(per_payment) - set(payments))[:20]}, "
        f"payments without event {sorted(set(payments) - set(per_payment))[:20]}"
    )
    assert payments == list(range(1, len(payments) + 1)), f"{where}: payment ids not contiguous"
    return len(events)


@pytest.mark.timeout(300)
def test_sigkill_while_writing_never_loses_or_tears_an_action(tmp_path: Path) -> None:
    seed = int(os.environ.get("STORE_CRASH_SEED") or secrets.randbits(32))
    rng = random.Random(seed)
    run = f"seed {seed} (reproduce: STORE_CRASH_SEED={seed})"
    db_path = tmp_path / "crash.db"

    def start(round_no: int) -> Child:
        return Child(db_path, tmp_path / f"child-{round_no:03d}.stderr", f"{run}, round {round_no}/{ROUNDS}")

    reported: set[int] = set()
    events = 0
    started = time.monotonic()
    upcoming = collections.deque(start(n) for n in range(1, min(PRESTART, ROUNDS) + 1))
    try:
        for round_no in range(1, ROUNDS + 1):
            child = upcoming.popleft()
            if round_no + PRESTART <= ROUNDS:
                upcoming.append(start(round_no + PRESTART))  # imports while the rounds before it run
            ids = run_and_kill(child, rng.uniform(0, MAX_KILL_DELAY_S))
            assert ids and min(ids) == events + 1, (
                f"{child.where}: child did not continue after event {events}: {ids[:5]}"
            )
            reported.update(ids)
            events = check_database(db_path, reported, child.where)
    finally:
        for child in upcoming:
            child.close()
    elapsed = time.monotonic() - started
    print(
        f"\nstore crash test: {ROUNDS} SIGKILLs, {events} committed actions, "
        f"{elapsed:.1f} s ({1000 * elapsed / ROUNDS:.0f} ms/round), {run}"
    )
