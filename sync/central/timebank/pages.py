"""The Time Bank's web pages under ``/tb/`` (HTML, outside the API schema): each page module has its own router.

:mod:`sync.central.app` includes :data:`router` beside the modules' API routers, as it does the
analytics page.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    pages_activities,
    pages_cosign,
    pages_join,
    pages_member,
    pages_money,
    pages_projects,
    pages_reports,
    pages_staff,
)

router = APIRouter(include_in_schema=False)
for _pages in (pages_join, pages_member, pages_money, pages_activities, pages_cosign, pages_projects, pages_staff,
               pages_reports):
    router.include_router(_pages.router)
