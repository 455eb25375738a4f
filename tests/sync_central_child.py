"""Child process of the sync tests: the central service, started warm and killed with SIGKILL.

Usage: ``python tests/sync_central_child.py DB_URL ADMIN_TOKEN``.

The child imports the central, prints ``ready`` and waits for the line ``go PORT``; then it serves
on ``127.0.0.1:PORT`` exactly as ``linfen central`` does (:func:`sync.central.server.serve`,
one uvicorn worker) until it is killed (or stdin closes, or
:data:`MAX_RUN_S` passes).  Starting the interpreter and importing FastAPI ahead of time keeps a
restart after a kill short, which is what lets the chaos test run 100 rounds.
"""

from __future__ import annotations

import os
import sys
import threading

#: The child stops by itself after this long (seconds), in case the parent died without killing it.
MAX_RUN_S = 300.0


def main(argv: list[str]) -> int:
    """Wait for ``go PORT``, then serve until killed."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    db_url, admin_token = argv[1], argv[2]
    from sync.central.server import ServeOptions, serve

    watchdog = threading.Timer(MAX_RUN_S, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    print("ready", flush=True)
    words = sys.stdin.readline().split()
    if words[:1] != ["go"]:
        return 0
    port = int(words[1])
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    serve(ServeOptions(db=db_url, port=port, admin_token=admin_token, log_level="warning"), announce=print)
    return 0


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
