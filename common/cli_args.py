"""The argument parser every ``linfen`` command line uses: options by their full names only.

argparse accepts any unambiguous prefix by default (``--conf`` for ``--config``).  A unit file
or a script written that way breaks the day another option with the same prefix appears, so
our commands refuse abbreviations; sub-commands inherit the parser class and with it the rule.
It lives in ``common`` because the kiosk's and the central's commands (which must not import
``kiosk``) both build on it.
"""

from __future__ import annotations

import argparse
from typing import Any


class ExactParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with ``allow_abbrev=False`` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
