"""Switching a SQLite file to WAL when several openers reach a fresh file at once."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

WAL_RETRY_S = 0.02  # pause between tries while another opener holds the lock the switch needs, in seconds


def switch_to_wal(conn: Any, timeout_s: float) -> str:
    """Run ``PRAGMA journal_mode=WAL`` on a sqlite3 connection or cursor; returns the mode SQLite reports.

    Turning a fresh file to WAL takes an exclusive lock, and SQLite answers "database is locked" at
    once, without its busy handler, while another process or thread is switching or migrating the
    same file: the switch is retried for up to ``timeout_s`` seconds, then the error is raised.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_S)
