"""Organisers' pages: hours approval, the review queue, rewards stock (helper A)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
