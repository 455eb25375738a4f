"""Cheap presence checks for a device's transport, used by the status strip and ``linfen doctor``.

These say only whether the thing a driver would open is there (a serial path, a
``socket://`` listener, a PC/SC reader, a camera source); talking the device's
protocol is each driver's job.  Every check is bounded in time and never raises.
"""

from __future__ import annotations

import os
import socket
import stat
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Presence:
    """Whether a transport is reachable, with a short reason a technician can act on."""

    up: bool
    reason: str  # "ok", "not found", "no answer", "pcsc service not running", ...
    detail: str = ""


def probe_serial(port: str, timeout_s: float = 0.5) -> Presence:
    """Check that a serial port path exists (char device or pty) or that a socket:// URL answers."""
    if port.startswith("socket://"):
        parsed = urllib.parse.urlsplit(port)
        return probe_tcp(parsed.hostname or "127.0.0.1", parsed.port or 0, timeout_s)
    if port.startswith(("loop://", "rfc2217://")):
        return Presence(True, "ok", port)
    try:
        st = os.stat(port)
    except FileNotFoundError:
        return Presence(False, "not found", port)
    except OSError as exc:
        return Presence(False, "not accessible", f"{port}: {exc.strerror}")
    if not stat.S_ISCHR(st.st_mode):
        return Presence(False, "not a serial device", port)
    if not os.access(port, os.R_OK | os.W_OK):
        return Presence(False, "no permission", port)
    return Presence(True, "ok", port)


def probe_tcp(host: str, port: int, timeout_s: float = 0.5) -> Presence:
    """Check that something accepts a TCP connection at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return Presence(True, "ok", f"{host}:{port}")
    except TimeoutError:
        return Presence(False, "no answer", f"{host}:{port}")
    except OSError as exc:
        return Presence(False, "not reachable", f"{host}:{port}: {exc.strerror or exc}")


def probe_http(url: str, timeout_s: float = 0.8) -> Presence:
    """Check that an http(s) URL answers at all (any status counts as reachable)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Presence(False, "bad address", url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return probe_tcp(parsed.hostname, port, timeout_s)


def probe_pcsc_reader(name_part: str) -> Presence:
    """Check that pcscd runs and lists a reader whose name contains ``name_part``."""
    try:
        from smartcard.Exceptions import ListReadersException
        from smartcard.pcsc.PCSCExceptions import EstablishContextException
        from smartcard.System import readers
    except ImportError as exc:  # pyscard missing: an installation problem, said plainly
        return Presence(False, "pyscard not installed", str(exc))
    try:
        names = [str(r) for r in readers()]
    except (EstablishContextException, ListReadersException) as exc:
        return Presence(False, "pcsc service not running", str(exc))
    except Exception as exc:  # pyscard raises bare errors when pcscd goes away mid-call
        return Presence(False, "pcsc service error", str(exc))
    matches = [n for n in names if name_part in n]
    if not matches:
        return Presence(False, "not found", f"no reader named like {name_part!r} among {len(names)}")
    return Presence(True, "ok", matches[0])


def probe_camera(source: str) -> Presence:
    """Check a camera source: a /dev/videoN index exists, or an MJPEG URL answers."""
    if source.isdigit():
        dev = f"/dev/video{source}"
        return Presence(True, "ok", dev) if os.path.exists(dev) else Presence(False, "not found", dev)
    if source.startswith(("http://", "https://")):
        try:
            req = urllib.request.Request(source, method="GET")
            with urllib.request.urlopen(req, timeout=1.0) as resp:
                ctype = resp.headers.get("Content-Type", "")
            if "multipart" in ctype or "image" in ctype:
                return Presence(True, "ok", source)
            return Presence(False, "not a camera stream", f"{source}: {ctype or 'no content type'}")
        except OSError as exc:
            return Presence(False, "not reachable", f"{source}: {exc}")
    return Presence(os.path.exists(source), "ok" if os.path.exists(source) else "not found", source)
