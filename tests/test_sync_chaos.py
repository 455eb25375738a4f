"""Chaos: two terminals push through a misbehaving network while terminals and the central are
SIGKILLed at random points; after every round each event is stored centrally exactly once.

Each round: both terminal processes are told to write a random number of events (their sync
clients push as they go, through :class:`tests.chaos_proxy.ChaosProxy`, which drops, delays,
duplicates, reorders and replays requests and cuts answers mid-way); at a random moment the
central, a terminal, or both are killed with SIGKILL and replaced by a warm spare.  Then the test
waits until every terminal's outbox is acknowledged and checks the central against the stores:
the same event ids, each once, nothing extra, ``seq`` 1..N without a gap, the same bodies.

The seed is printed; ``SYNC_CHAOS_SEED=<n>`` replays a run, ``SYNC_CHAOS_ROUNDS=<n>`` changes its
length (100 by default).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
from datetime import datetime
from pathlib import Path

import pytest

from sync.central.storage import CentralStore
from tests.chaos_proxy import ChaosConfig, ChaosProxy
from tests.sync_fixtures import WarmProcess, free_port, store_outbox, wait_healthy, wait_until
from tests.sync_support import central_events

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("SYNC_CHAOS_ROUNDS", "100"))
TERMINALS = ("chaos-a", "chaos-b")
#: Seconds a round may take to write, recover and drain before the test fails.
ROUND_TIMEOUT_S = 30.0

CHAOS = ChaosConfig(
    drop_request=0.04,
    drop_response=0.06,
    cut_response=0.05,
    duplicate=0.06,
    reorder=0.05,
    replay=0.05,
    delay=0.15,
    delay_max_s=0.05,
)


class Central:
    """The central as a child process, with a warm spare ready to replace it after a kill."""

    def __init__(self, db_url: str, admin_token: str, proxy: ChaosProxy) -> None:
        self._args = (db_url, admin_token)
        self._proxy = proxy
        self.current: WarmProcess | None = None
        self._spare = WarmProcess("sync_central_child.py", *self._args)
        self.restarts = 0

    def start(self) -> None:
        """Turn the spare into the running central (on a fresh port) and warm a new spare."""
        proc, self._spare = self._spare.wait_ready(), WarmProcess("sync_central_child.py", *self._args)
        port = free_port()
        proc.send(f"go {port}")
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, timeout_s=ROUND_TIMEOUT_S)
        self.current = proc
        self._proxy.upstream = ("127.0.0.1", port)

    def kill(self) -> None:
        """SIGKILL the running central."""
        assert self.current is not None
        self.current.kill()
        self.restarts += 1

    def close(self) -> None:
        """Kill the central and the spare."""
        for proc in (self.current, self._spare):
            if proc is not None:
                proc.kill()


class Terminal:
    """One terminal as a child process writing events; replaced by a warm spare after a kill."""

    def __init__(self, terminal_id: str, db: Path, url: str, token: str, rng: random.Random) -> None:
        self.terminal_id = terminal_id
        self.db = db
        self._args = (str(db), terminal_id, url, token)
        self._rng = rng
        self.current: WarmProcess | None = None
        self._spare = self._spawn()
        self.kills = 0

    def _spawn(self) -> WarmProcess:
        return WarmProcess("sync_terminal_child.py", *self._args, str(self._rng.randrange(2**31)))

    def start(self) -> None:
        """Turn the spare into the running terminal and warm a new spare."""
        proc, self._spare = self._spare.wait_ready(), self._spawn()
        proc.send("go")
        proc.expect("started", ROUND_TIMEOUT_S)
        self.current = proc

    def kill(self) -> None:
        """SIGKILL the running terminal."""
        assert self.current is not None
        self.current.kill()
        self.kills += 1

    def close(self) -> None:
        """Kill the terminal and the spare."""
        for proc in (self.current, self._spare):
            if proc is not None:
                proc.kill()


def _check_round(central_db: CentralStore, terminal: Terminal, round_no: int) -> int:
    """Compare the central with the terminal's store; returns the number of events checked."""
    local, pending = store_outbox(terminal.db)
    assert pending == 0, f"round {round_no}: {terminal.terminal_id} still has {pending} unacknowledged"
    stored = central_events(central_db, terminal.terminal_id)
    ids = [row[0] for row in stored]
    assert len(ids) == len(set(ids)), f"round {round_no}: an event stored twice"
    assert [row[1] for row in stored] == list(range(1, len(stored) + 1)), f"round {round_no}: seq not complete"
    assert len(stored) == len(local), f"round {round_no}: {len(stored)} stored, {len(local)} written"
    for (lid, lseq, ltype, lat, lpayload), (cid, cseq, ctype, cat, cpayload) in zip(local, stored, strict=True):
        assert (lid, lseq, ltype) == (cid, cseq, ctype), f"round {round_no}: seq {lseq} differs"
        assert datetime.fromisoformat(lat) == datetime.fromisoformat(cat)
        assert json.loads(lpayload) == json.loads(cpayload)
    return len(local)


@pytest.mark.timeout(420)
def test_every_event_stored_exactly_once_through_chaos_and_kills(tmp_path):
    seed = int(os.environ.get("SYNC_CHAOS_SEED") or secrets.randbelow(2**31))
    print(f"sync chaos seed {seed} (replay with SYNC_CHAOS_SEED={seed}), {ROUNDS} rounds")
    rng = random.Random(seed)
    admin = secrets.token_hex(16)
    db_path = str(tmp_path / "central.db")
    central_db = CentralStore.open(db_path)
    tokens = {tid: central_db.enrol("counter", "chaos", tid).token for tid in TERMINALS}
    proxy = ChaosProxy(None, ChaosConfig(**{**CHAOS.__dict__, "seed": seed})).start()
    central = Central(db_path, admin, proxy)
    terminals = {
        tid: Terminal(tid, tmp_path / f"{tid}.db", proxy.url, tokens[tid], rng) for tid in TERMINALS
    }
    started = time.monotonic()
    checked = 0
    try:
        central.start()
        for term in terminals.values():
            term.start()
        for round_no in range(1, ROUNDS + 1):
            writing = {}
            for term in terminals.values():
                assert term.current is not None
                term.current.send(f"write {rng.randint(5, 40)}")
                writing[term.terminal_id] = term
            time.sleep(rng.uniform(0.0, 0.25))
            victims = rng.choice(["central", "terminal", "both", "central", "terminal", "none"])
            if victims in ("central", "both"):
                central.kill()
            if victims in ("terminal", "both"):
                victim = rng.choice(list(terminals.values()))
                victim.kill()
                writing.pop(victim.terminal_id)
                victim.start()
            if victims in ("central", "both"):
                central.start()
            for term in writing.values():
                assert term.current is not None
                term.current.expect("wrote", ROUND_TIMEOUT_S)
            for term in terminals.values():
                wait_until(
                    lambda t=term: store_outbox(t.db)[1] == 0,
                    ROUND_TIMEOUT_S,
                    what=f"round {round_no}: {term.terminal_id} drained",
                )
            checked = sum(_check_round(central_db, term, round_no) for term in terminals.values())
            assert central_db.event_count() == checked, f"round {round_no}: events stored for no terminal"
    finally:
        proxy.stop()
        for term in terminals.values():
            term.close()
        central.close()
        central_db.close()
    elapsed = time.monotonic() - started
    print(
        f"{ROUNDS} rounds in {elapsed:.1f} s: central killed {central.restarts} times, terminals "
        f"{sum(t.kills for t in terminals.values())} times; proxy {dict(proxy.stats)}"
    )
    assert central.restarts >= ROUNDS // 5 and sum(t.kills for t in terminals.values()) >= ROUNDS // 5
    for fault in ("drop_request", "drop_response", "cut_response", "duplicate", "reorder", "replay"):
        assert proxy.stats[fault] > 0, f"the proxy never did {fault}: the test did not test it"
    assert checked >= ROUNDS * 2 * 5 // 2  # events in the stores after the last round (some writes were cut)
