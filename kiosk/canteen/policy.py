"""Canteen policy for the terminal: the district's discounts and daily subsidy as versioned, dated data.

DESIGN §6b: prices, subsidies and ages are policy data pulled from the central, not code.  A new
district rule is a new policy document (or a new ``version`` of one) imported at the central
(``linfen central import policy FILE --site SITE``); terminals pull it as a ``policy`` reference
row (docs/community-card.md §2, key ``policy_id:version``) and :func:`policy_in_force` picks the
one that applies on a day.  Files shipped with the software live in ``config/policy/``.

The document format, its dataclasses and every validation rule live in
:mod:`common.canteen_policy` (the central's importer checks rows with the same code, and the
central must not import ``kiosk``); they are re-exported here, so terminal code imports this module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

from common.canteen_policy import (
    DIBAO,
    POLICY_FORMAT,
    AgeDiscount,
    GroupPrice,
    Policy,
    PolicyError,
    SubsidyTier,
    parse_policy,
    policy_problem,
)

__all__ = [
    "DIBAO", "POLICY_DIR", "POLICY_FORMAT", "AgeDiscount", "GroupPrice", "Policy", "PolicyError", "SubsidyTier",
    "load_policy", "parse_policy", "policy_in_force", "policy_problem",
]

#: The policy documents shipped with the software (the central's import files, and test data).
POLICY_DIR = Path(__file__).resolve().parents[2] / "config" / "policy"
#: Largest policy file read.
MAX_POLICY_BYTES = 256 * 1024


def load_policy(path: str | Path) -> Policy:
    """The policy in the JSON file ``path``; PolicyError (path ``(file)``) when it cannot be read or used."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise PolicyError("(file)", f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError("(file)", f"{path}: larger than {MAX_POLICY_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8-sig"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PolicyError("(file)", f"{path}: not strict UTF-8 JSON ({exc})") from None
    return parse_policy(doc)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def policy_in_force(policies: Iterable[Policy], day: dt.date, policy_id: str | None = None) -> Policy | None:
    """The highest-version policy whose dates cover ``day`` (``valid_to`` inclusive), or None.

    ``policy_id``: consider only that policy (a site normally holds one; without it every policy
    given competes, ties of version going to the later ``valid_from``, then the larger id).
    """
    covering = [p for p in policies if p.covers(day) and (policy_id is None or p.policy_id == policy_id)]
    return max(covering, key=lambda p: (p.version, p.valid_from, p.policy_id), default=None)
