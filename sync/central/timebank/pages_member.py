"""The volunteer's own pages: home, statement, profile, rewards, gifts and donations (helper B)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
