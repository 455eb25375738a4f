"""``python -m linfen`` is the same as the ``linfen`` command."""

from linfen.cli import main

raise SystemExit(main())
