"""A raw-mode pty pair: the test (or simulator) holds the master, a driver opens the slave path.

This is Klipper's ``create_pty`` pattern: the slave path is opened exactly as a real
``/dev/ttyUSB0`` would be.
"""

from __future__ import annotations

import os
import tty
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass
class PtyPair:
    """The master file descriptor, the slave's path, and a slave descriptor held open.

    Holding one slave descriptor keeps the master from reading EIO (hang-up) between a
    driver closing the port and opening it again.
    """

    master: int
    slave_path: str
    slave_keepalive: int


def open_raw_pty() -> PtyPair:
    """Open a pty pair with both ends in raw mode (no echo, no line discipline)."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return PtyPair(master, os.ttyname(slave), slave)


@pytest.fixture
def raw_pty() -> Iterator[PtyPair]:
    """A raw pty pair, closed after the test."""
    pair = open_raw_pty()
    try:
        yield pair
    finally:
        os.close(pair.master)
        os.close(pair.slave_keepalive)
