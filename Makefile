# The README's two commands. Both run scripts/setup.sh first (idempotent: a second run only checks).
.PHONY: setup setup-test demo test lint

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

demo: setup
	.venv/bin/linfen demo $(ARGS)

test: setup-test
	@scripts/test.sh $(ARGS)

lint: setup
	.venv/bin/ruff check .
