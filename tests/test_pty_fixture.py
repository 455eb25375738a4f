"""The raw pty pair carries bytes both ways unchanged, as a serial line would."""

from __future__ import annotations

import os
import select

import pytest
import serial

pytestmark = pytest.mark.integration


def _read_exactly(fd: int, n: int, timeout_s: float = 2.0) -> bytes:
    data = b""
    while len(data) < n:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        assert ready, f"timed out after {data!r}"
        data += os.read(fd, n - len(data))
    return data


def test_bytes_cross_the_pty_unchanged(raw_pty):
    every_byte = bytes(range(256))  # raw mode: no CR/LF translation, no XON/XOFF, no echo
    with serial.serial_for_url(raw_pty.slave_path, baudrate=115200, timeout=2) as port:
        port.write(every_byte)
        assert _read_exactly(raw_pty.master, 256) == every_byte
        os.write(raw_pty.master, every_byte)
        assert port.read(256) == every_byte


def test_reopening_the_port_keeps_the_line(raw_pty):
    with serial.serial_for_url(raw_pty.slave_path, timeout=1) as port:
        port.write(b"\xaa\xaa\xaa\x96\x69")
    assert _read_exactly(raw_pty.master, 5) == b"\xaa\xaa\xaa\x96\x69"
    with serial.serial_for_url(raw_pty.slave_path, timeout=1) as port:
        os.write(raw_pty.master, b"\x90")
        assert port.read(1) == b"\x90"
