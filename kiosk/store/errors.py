"""The one exception root of the local store: everything the store refuses is a :class:`StoreError`."""

from __future__ import annotations

from kiosk.errors import KioskError


class StoreError(KioskError):
    """A store operation that cannot be done (bad payload, locked database, wrong terminal, ...)."""
