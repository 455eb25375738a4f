"""Phone registration, staff-assisted registration and the passbook slip (helper B)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
