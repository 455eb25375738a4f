"""Shared fixtures: Qt offscreen, raw pty pairs, example configs.

PC/SC fixtures (pcscd with the tests' own vpcd readers) live in ``tests/pcsc_fixtures.py``;
PostgreSQL and the central service's fixtures in ``tests/pg_fixtures.py`` and ``tests/central_fixtures.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.central_fixtures import central  # noqa: F401  (fixture)
from tests.pcsc_fixtures import pcscd, virtual_cards  # noqa: F401  (fixtures)
from tests.pg_fixtures import central_db_url, pg_url  # noqa: F401  (fixtures)
from tests.pty_fixtures import raw_pty  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "config" / "examples"
TEST_OUT = ROOT / "out" / "test-screens"


@pytest.fixture
def examples_dir() -> Path:
    """The folder of example configs, one per role."""
    return EXAMPLES


@pytest.fixture(scope="session")
def screens_dir() -> Path:
    """Where UI tests save their screenshots for people to look at."""
    TEST_OUT.mkdir(parents=True, exist_ok=True)
    return TEST_OUT
