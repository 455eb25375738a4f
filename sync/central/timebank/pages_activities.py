"""Activities, sign-up, QR check-in and micro-project pages (helper D)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
