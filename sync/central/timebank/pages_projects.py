"""小区微事: micro-projects proposed by residents' teams and chosen by vote (helper D)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
