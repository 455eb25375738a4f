"""Child process of the sync chaos test: one terminal writing events while its sync client pushes.

Usage: ``python tests/sync_terminal_child.py DBPATH TERMINAL_ID CENTRAL_URL TOKEN SEED``.

The child imports everything, prints ``ready`` and waits for the line ``go`` (so the parent can
start a spare terminal ahead of time and only pay for the interpreter start-up once).  After
``go`` it opens the store, starts a :class:`sync.client.SyncClient` on its thread exactly as a
terminal does, prints ``started`` and obeys lines on stdin:

* ``write N`` - record N events, in store actions of one to four events each, then print
  ``wrote LAST_SEQ``;
* ``quit``    - stop the client, close the store, print ``bye`` and exit.

The parent kills it with SIGKILL at random points; what the store committed is the truth the test
compares the central with.  The child exits by itself after :data:`MAX_RUN_S`.
"""

from __future__ import annotations

import random
import sys
import threading
import time

#: The child stops by itself after this long (seconds), in case the parent died without killing it.
MAX_RUN_S = 300.0


def main(argv: list[str]) -> int:
    """Run one terminal until ``quit``, a kill, or :data:`MAX_RUN_S`."""
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    db_path, terminal_id, url, token, seed = argv[1], argv[2], argv[3], argv[4], int(argv[5])
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]  # not needed, saves start-up

    from kiosk.store import Store
    from sync import apply
    from sync.client import SyncClient, SyncSettings
    from sync.protocol import DeviceState

    watchdog = threading.Timer(MAX_RUN_S, lambda: _exit_now(3))
    watchdog.daemon = True
    watchdog.start()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 0
    rng = random.Random(seed)
    store = Store.open(db_path, terminal_id, extra_migrations=[apply.MIGRATIONS])
    settings = SyncSettings(
        idle_interval_s=0.05,
        pull_interval_s=3600.0,
        heartbeat_interval_s=0.5,
        backoff_base_s=0.05,
        backoff_cap_s=0.3,
        connect_timeout_s=1.0,
        read_timeout_s=2.0,
        write_timeout_s=2.0,
        pool_timeout_s=1.0,
        stop_timeout_s=2.0,
    )
    client = SyncClient(
        store, url, token, settings=settings, rng=random.Random(seed + 1),
        device_status=lambda: {"printer": DeviceState(up=True)},
    )
    client.start()
    print("started", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["write"]:
            left = int(words[1])
            while left > 0:
                n = min(left, rng.randint(1, 4))
                with store.action() as act:
                    for _ in range(n):
                        act.emit("chaos.sale", {"amount_fen": rng.randint(1, 9999), "note": "测试"})
                left -= n
                client.wake()
                if rng.random() < 0.3:
                    time.sleep(rng.uniform(0.0, 0.01))
            print(f"wrote {store.last_seq()}", flush=True)
        elif words[:1] == ["quit"]:
            break
    client.stop()
    store.close()
    print("bye", flush=True)
    return 0


def _exit_now(code: int) -> None:
    import os

    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
