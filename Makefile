# The README's two commands. Both run scripts/setup.sh first (idempotent: a second run only checks).
.PHONY: setup demo test lint

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/linfen demo $(ARGS)

test: setup
	@scripts/test.sh $(ARGS)

lint: setup
	.venv/bin/ruff check .
