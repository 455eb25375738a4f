"""Strict JSON for everything that enters the central or a terminal's store (DESIGN §7, issue 10).

Python's :mod:`json` accepts ``NaN``, ``Infinity`` and ``-Infinity``, turns ``1e400`` into
``inf`` and decodes ``"\\ud800"`` into a lone surrogate.  None of these is JSON a database or
another parser will take (SQLite's ``json_valid`` refuses them; a lone surrogate cannot even be
written as UTF-8), so one such value would poison a feed or a push for ever.

    value = loads_strict(text)            # StrictJsonError(reason, path) on NaN, inf, surrogates, depth
    problem = find_problem(value)         # the same check on an already-parsed value: None or a StrictJsonError
    text = dumps_strict(value)            # refuses the same, instead of writing invalid JSON

Reasons: ``non_finite_number`` (NaN, ±Infinity, a float that overflows), ``lone_surrogate``
(in a key or a string), ``too_deep`` (nesting over :data:`MAX_DEPTH`).  ``path`` names the place
(``events[3].payload.note``) so a refusal can say which field.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64  # deepest nesting of objects and arrays accepted
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictJsonError(ValueError):
    """A JSON text or value outside strict JSON: ``reason`` (machine word) at ``path``."""

    def __init__(self, reason: str, path: str, detail: str) -> None:
        """An error with a machine ``reason``, the ``path`` of the offending value and words."""
        super().__init__(f"{path or '(top)'}: {detail}")
        self.reason = reason
        self.path = path
        self.detail = detail


def _no_constant(name: str) -> Any:
    raise StrictJsonError("non_finite_number", "", f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise StrictJsonError("non_finite_number", "", f"{text[:40]} overflows to infinity")
    return value


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def find_problem(value: Any, path: str = "", depth: int = 0) -> StrictJsonError | None:
    """The first place ``value`` (parsed JSON) is not strict JSON, or None when it is."""
    if depth > MAX_DEPTH:
        return StrictJsonError("too_deep", path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float):
        if not math.isfinite(value):
            words = "NaN" if math.isnan(value) else "an infinite number (Infinity, or one that overflows)"
            return StrictJsonError("non_finite_number", path, f"{words} is not a JSON number")
        return None
    if isinstance(value, str):
        if _has_surrogate(value):
            return StrictJsonError("lone_surrogate", path, "a string holds a lone surrogate (not Unicode text)")
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _has_surrogate(key):
                shown = key.encode("utf-8", "backslashreplace").decode("ascii", "replace")
                return StrictJsonError("lone_surrogate", _join(path, shown),
                                       "a key holds a lone surrogate (not Unicode text)")
            problem = find_problem(item, _join(path, key), depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = find_problem(item, _join(path, index), depth + 1)
            if problem is not None:
                return problem
    return None


def loads_strict(text: str | bytes) -> Any:
    """Parse ``text`` as strict JSON.

    Raises :class:`StrictJsonError` for NaN/Infinity/overflow, lone surrogates or nesting too deep
    for the parser, and plain :class:`ValueError` for text that is not JSON at all.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8-sig")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise StrictJsonError("too_deep", "", "nested too deeply to parse") from None
    except StrictJsonError as exc:  # find where: parse leniently, then walk to the bad number
        raise find_problem(json.loads(text)) or exc from None
    if _SURROGATE_ESCAPE.search(text) or _has_surrogate(text):
        problem = find_problem(value)
        if problem is not None:
            raise problem
    return value


def dumps_strict(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that refuses what :func:`find_problem` refuses (StrictJsonError), UTF-8 kept."""
    problem = find_problem(value)
    if problem is not None:
        raise problem
    kwargs.setdefault("ensure_ascii", False)
    return json.dumps(value, allow_nan=False, **kwargs)
