"""Masked forms of a resident's name and ID number for screens, tickets and the visit log (DESIGN §7).

``kiosk`` may not import ``drivers``, so these are kiosk's own copies of the ID driver's
``mask_id`` / ``mask_name``; a test checks that both give the same answers.
"""

from __future__ import annotations


def mask_id(id_number: str) -> str:
    """First 3 and last 4 characters kept, the rest starred: ``310***********1234``."""
    if len(id_number) <= 7:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_name(name: str) -> str:
    """``张三明`` → ``张*明``, ``张三`` → ``张*``, ``欧阳小明`` → ``欧**明``; one character → ``*``."""
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
