"""The volunteer's own pages: home and profile (helper B)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
