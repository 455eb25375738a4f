#!/usr/bin/env bash
# The whole test suite: ruff, then pytest (unit, integration over real transports, UI offscreen, e2e).
# Services the tests need are started by their fixtures and stopped after: pcscd with the tests' own
# vpcd readers (tests/pcsc_fixtures.py). pytest's "no tests collected" (exit 5) fails like any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
exec .venv/bin/pytest "$@"
