"""The volunteer's coins: statement, rewards and redemption, gifts to kin and donations (helper E)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
