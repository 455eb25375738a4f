"""Masked forms of a resident's name and ID number for screens, tickets and the visit log (DESIGN §7).

The rule lives with the ID-card driver (``drivers.idcard.fields``), which masks what it reads;
kiosk code imports it from here so every screen, ticket and log masks the same way.
"""

from __future__ import annotations

from drivers.idcard.fields import mask_id, mask_name

__all__ = ["mask_id", "mask_name"]
