"""``python -m sync.central [options] [enrol|import|revoke ...]``: ``linfen central`` on its own."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
