"""One exception root for the kiosk package: every exception class it defines is a KioskError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import kiosk
from kiosk.errors import KioskError

pytestmark = pytest.mark.unit


def _kiosk_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(kiosk.__path__, "kiosk."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_kiosk_exception_derives_from_kiosk_error():
    classes = _kiosk_exceptions()
    assert len(classes) >= 7  # config, store, hall (and its children), voice, priority, trust list, ...
    assert [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, KioskError)] == []
