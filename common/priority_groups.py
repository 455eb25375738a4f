"""The priority groups of the priority register (DESIGN §5): the names terminals and the central agree on.

The kiosk matches residents against them (``kiosk.priority``); the central's importer refuses
a register row naming any other group (``sync.central.importer``).
"""

from __future__ import annotations

#: Groups a register entry may name; residents aged 80 or more need no entry (their age is read).
GROUPS: tuple[str, ...] = ("veteran", "special_care", "disabled")
