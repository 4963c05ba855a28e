"""Entry point for `python -m iqlite.export` (and, through the checkout shim, `python -m export`)."""

import sys

from iqlite.export.cli import main

sys.exit(main())
