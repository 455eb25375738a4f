"""Every config key is read somewhere: a key nothing reads is a promise the terminal does not keep.

Every field of :class:`kiosk.config.TerminalConfig` is walked, nested models included (through
``Optional``, unions and tuples).  A field counts as read when code outside ``kiosk/config.py``
(in ``kiosk/``, ``ui/``, ``linfen/``, ``sync/``) accesses an attribute of its name, or, for a
model that config.py reads generically (a method iterating ``model_fields``, such as
``Devices.configured()``), when that method is called outside config.py *and* the field's
name appears there as a string (the key the code dispatches on, ``name == "door"``).

The scan is by name, so it can be fooled by an unrelated attribute of the same name; it cannot
be fooled into passing a field whose name appears nowhere, which is what a dead key looks like.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel

from kiosk import config as config_module
from kiosk.config import TerminalConfig

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
READERS = ("kiosk", "ui", "linfen", "sync")
CONFIG_FILE = ROOT / "kiosk" / "config.py"


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (``X | None``, ``tuple[X, ...]``, ...)."""
    found, stack = [], [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            found.append(current)
        stack.extend(typing.get_args(current))
    return found


def config_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, type[BaseModel]]]:
    """Every field as (dotted path, name, the model declaring it), depth first."""
    for name, field in model.model_fields.items():
        yield prefix + name, name, model
        for nested in _nested_models(field.annotation):
            yield from config_fields(nested, f"{prefix}{name}.")


@cache
def _usage() -> tuple[frozenset[str], frozenset[str]]:
    """Attribute names accessed and string constants written in the readers' code, config.py left out."""
    attributes, strings = set(), set()
    for package in READERS:
        for path in (ROOT / package).rglob("*.py"):
            if path == CONFIG_FILE:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Attribute):
                    attributes.add(node.attr)
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    strings.add(node.value)
    return frozenset(attributes), frozenset(strings)


@cache
def generic_readers() -> dict[str, frozenset[str]]:
    """Per model class in config.py: its methods that read every field by iterating ``model_fields``."""
    tree = ast.parse(CONFIG_FILE.read_text(encoding="utf-8"))
    readers: dict[str, frozenset[str]] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        methods = {fn.name for fn in cls.body if isinstance(fn, ast.FunctionDef)
                   and any(isinstance(n, ast.Attribute) and n.attr == "model_fields" for n in ast.walk(fn))}
        if methods:
            readers[cls.name] = frozenset(methods)
    return readers


def unread_fields(model: type[BaseModel]) -> list[str]:
    """The dotted paths of ``model``'s fields that nothing outside config.py reads."""
    attributes, strings = _usage()
    unread = []
    for path, name, owner in config_fields(model):
        if name in attributes:
            continue
        by_name = generic_readers().get(owner.__name__, frozenset())
        if by_name & attributes and name in strings:
            continue
        unread.append(path)
    return unread


def test_every_config_key_is_read_somewhere():
    assert unread_fields(TerminalConfig) == [], (
        "config keys that nothing outside kiosk/config.py reads: wire them where they belong or drop them")


def test_the_walk_reaches_nested_keys():
    paths = {path for path, _, _ in config_fields(TerminalConfig)}
    for expected in ("thresholds.idle_timeout_s", "hall.services.daily_cap", "devices.idcard.baud",
                     "devices.thermometer.unit", "devices.locker.locks", "counter.window", "privacy.person_key_file"):
        assert expected in paths
    assert "Devices" in generic_readers() and "configured" in generic_readers()["Devices"]


def test_a_key_nothing_reads_is_caught():
    """The check can fail: a field added with a name no code uses is reported, nested or at the top."""

    class Thresholds(config_module.Thresholds):
        never_read_anywhere_s: float = 1.0

    class Devices(config_module.Devices):
        never_read_device: config_module.SerialDevice | None = None

    class Probe(TerminalConfig):
        thresholds: Thresholds = Thresholds()  # type: ignore[assignment]
        devices: Devices = Devices()  # type: ignore[assignment]
        unread_top_level_key: int = 0

    assert unread_fields(Probe) == [
        "thresholds.never_read_anywhere_s", "devices.never_read_device", "unread_top_level_key"]
