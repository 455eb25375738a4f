"""Checks behind :mod:`kiosk.config` that catch, at load, what used to fail at start or leak later (issue 10).

* :func:`weak_secret` — the hall's LAN secret: placeholders (``change-me…``), too few distinct
  characters (``aaaaaaaaaaaaaaaa``), a repeated pattern, or too short.
* :func:`check_url` — a well-formed ``http(s)://host[:port]`` (``http://``, ``http://[::1``,
  port 99999 refused); for the central, plain ``http://`` only to a loopback address.
* :func:`check_store_template` — ``store.path`` may hold only the ``{terminal_id}`` field.
* :func:`token_file_problem` — the terminal's bearer-token file: a regular file, not readable by
  group or others (as ssh refuses a private key), one line of printable ASCII.
* :func:`master_key_file_problem` — the community card master key file (``[card_keys]``): the same
  file rules, and 32 hex digits that are not one repeated byte (:func:`drivers.ccard_auth.load_master_key`).

Each returns or raises with words that name the setting and what to do.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import string
from pathlib import Path
from urllib.parse import urlsplit

from drivers.ccard_auth import MasterKeyError, load_master_key

#: Words that mark a secret nobody chose (compared lowercase, ignoring '-', '_' and spaces).
PLACEHOLDERS = ("changeme", "replaceme", "example", "placeholder", "default", "password", "yoursecret",
                "putsecrethere", "todo", "xxxxxxxx")
#: Secrets published in this repository's examples: fine for a demo on loopback, refused on a LAN.
PUBLISHED_SECRETS = frozenset({"Hq7vR2mXk9LwP4sTzB6nYc3jFd8gKe5u"})
MIN_SECRET_CHARS = 16
MIN_DISTINCT_CHARS = 6
MAX_TOKEN_BYTES = 4096
SECRET_HINT = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def weak_secret(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign the hall's LAN requests, or None when it will do."""
    folded = "".join(c for c in secret.lower() if c not in "-_ ")
    if len(secret) < MIN_SECRET_CHARS:
        return f"it has {len(secret)} characters, at least {MIN_SECRET_CHARS} are needed"
    for word in PLACEHOLDERS:
        if word in folded:
            return f"it contains the placeholder {word!r}"
    if len(set(secret)) < MIN_DISTINCT_CHARS:
        return f"it uses only {len(set(secret))} distinct characters"
    if secret in (secret + secret)[1:-1]:
        return "it is one short pattern repeated"
    return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, *, https_unless_loopback: bool = False) -> str:
    """``value`` if it is a usable ``http(s)://host[:port][/path]`` URL; ValueError with the reason otherwise."""
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("has no host (e.g. https://central.example:8720)")
    if port == 0:
        raise ValueError("port 0 is not a port to connect to (1-65535)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must be scheme://host[:port][/path], without user, query or fragment")
    if https_unless_loopback and parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"must be https:// for {parts.hostname}: the bearer token would cross the network in "
                         "clear (plain http:// only to 127.0.0.1, ::1 or localhost)")
    return value


def check_store_template(path: str) -> str:
    """``path`` if its only replacement field is ``{terminal_id}``; ValueError with the reason otherwise."""
    if "\x00" in path:
        raise ValueError("must not contain a NUL character")
    try:
        fields = [(name, spec, conv) for _text, name, spec, conv in string.Formatter().parse(path) if name is not None]
    except ValueError as exc:
        raise ValueError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    for name, spec, conv in fields:
        if name != "terminal_id" or spec or conv:
            raise ValueError(f"{{{name}}} is not a field here: only {{terminal_id}} is replaced "
                             "(write {{ and }} for literal braces)")
    return path


def token_file_problem(path: str) -> str | None:
    """What is wrong with the bearer-token file at ``path``, or None when it is usable."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file"
    if info.st_mode & 0o077:
        return (f"{path}: readable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"the token is a password: chmod 600 {path}")
    if info.st_size > MAX_TOKEN_BYTES:
        return f"{path}: {info.st_size} bytes, a token file holds one line of at most {MAX_TOKEN_BYTES} bytes"
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    text = raw.strip()
    if not text:
        return f"{path}: empty (enrol this terminal with `linfen central enrol` and save its token here)"
    if not text.isascii() or not all(32 < b < 127 for b in text):
        return f"{path}: the token must be one line of printable ASCII without spaces"
    return None


def master_key_file_problem(path: str) -> str | None:
    """What is wrong with the community card master key file at ``path``, or None when it is usable."""
    try:
        load_master_key(path)
    except MasterKeyError as exc:
        return str(exc)
    return None
